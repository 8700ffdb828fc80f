/* The gradient sum of data-parallel training (common/dist.c) against
 * OpenMPI's own collectives on the same floats, under mpirun:
 *   mpirun -np 2 build/cuda/bench/dist_sum_bench [FLOATS] [REPEATS]
 * (default 21,600,000 floats: AlexNetSmall's 86 MB of gradients; 4).
 * Prints rank 0's seconds per call of dist_sum_floats (ring
 * reduce-scatter + all-gather), MPI_Reduce_scatter + MPI_Allgatherv, and
 * MPI_Allreduce, after a barrier each; and checks that dist_sum_floats
 * gave every rank the same bits as the exact sum of small integers. */
#include "dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	dist_init(&argc, &argv);
	const int n = argc > 1 ? atoi(argv[1]) : 21600000, reps = argc > 2 ? atoi(argv[2]) : 4;
	const int rank = dist_rank(), size = dist_size();
	if (size < 2) {
		fprintf(stderr, "dist_sum_bench: run it under mpirun -np 2 (or more)\n");
		return 2;
	}
	float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
	int *counts = malloc(2 * (size_t)size * sizeof(int)), *starts = counts + size;
	const int block = (n + size - 1) / size;
	for (int r = 0; r < size; r++) {
		starts[r] = r * block < n ? r * block : n;
		counts[r] = (starts[r] + block < n ? starts[r] + block : n) - starts[r];
	}
	int bad = 0;
	for (int it = 0; it < reps; it++) {
		for (int i = 0; i < n; i++)
			x[i] = (float)((i + rank) % 1000);   /* exact sums: the check */
		MPI_Barrier(MPI_COMM_WORLD);
		double t0 = MPI_Wtime();
		dist_sum_floats(x, (size_t)n);
		double t1 = MPI_Wtime();
		for (int i = 0; i < n; i += 997) {
			float want = 0;
			for (int r = 0; r < size; r++)
				want += (float)((i + r) % 1000);
			bad += x[i] != want;
		}
		MPI_Barrier(MPI_COMM_WORLD);
		double t2 = MPI_Wtime();
		MPI_Reduce_scatter(x, y, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		MPI_Allgatherv(y, counts[rank], MPI_FLOAT, x, counts, starts, MPI_FLOAT, MPI_COMM_WORLD);
		MPI_Barrier(MPI_COMM_WORLD);
		double t3 = MPI_Wtime();
		MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		double t4 = MPI_Wtime();
		if (rank == 0)
			printf("%d floats on %d ranks: dist_sum_floats %.4f s, MPI_Reduce_scatter + "
			       "MPI_Allgatherv %.4f s, MPI_Allreduce %.4f s\n", n, size, t1 - t0,
			       t3 - t2, t4 - t3);
	}
	int any = 0;
	MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0 && any)
		fprintf(stderr, "dist_sum_bench: %d wrong sums\n", any);
	free(x);
	free(y);
	free(counts);
	dist_finish();
	return any != 0;
}
