/* MPI ranks for data-parallel training; see dist.h. Built with MPI when
 * scripts/configure.sh finds OpenMPI (PCQ_MPI); without it every program
 * is a single rank and refuses to run under a launcher. */
#include "dist.h"

#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef PCQ_MPI
#include <mpi.h>
#endif

static int started, rank, size = 1, local_rank;

/* The launcher's word for how many ranks there are, or NULL. */
static const char *launched_size(void)
{
	static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getenv(names[i]))
			return getenv(names[i]);
	return NULL;
}

#ifdef PCQ_MPI

static float *scratch;       /* dist_sum_floats's padded copy */
static size_t scratch_floats;

void dist_init(int *argc, char ***argv)
{
	const char *n = launched_size();
	if (!n || strcmp(n, "1") == 0)
		return;
	if (MPI_Init(argc, argv) != MPI_SUCCESS)
		die("MPI_Init failed");
	started = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Comm node;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &local_rank);
	MPI_Comm_free(&node);
}

void dist_finish(void)
{
	if (started)
		MPI_Finalize();
	started = 0;
	free(scratch);
	scratch = NULL;
}

void dist_abort(int code)
{
	if (started && size > 1)
		MPI_Abort(MPI_COMM_WORLD, code);
}

/* Reduce-scatter then all-gather: block b of the sum is added by rank b
 * alone and then copied to all, so every rank has the same bits whatever
 * algorithm MPI picks inside. */
void dist_sum_floats(float *x, size_t n)
{
	if (size == 1 || n == 0)
		return;
	const size_t block = (n + (size_t)size - 1) / (size_t)size;
	CHECK(block <= (size_t)INT32_MAX);
	if (scratch_floats < block * (size_t)size) {
		free(scratch);
		scratch_floats = block * (size_t)size;
		scratch = xmalloc(scratch_floats * sizeof(float));
	}
	memcpy(scratch, x, n * sizeof(float));
	memset(scratch + n, 0, (block * (size_t)size - n) * sizeof(float));
	float *mine = scratch + block * (size_t)rank;
	MPI_Reduce_scatter_block(MPI_IN_PLACE, scratch, (int)block, MPI_FLOAT, MPI_SUM,
				 MPI_COMM_WORLD);
	/* in place, the reduced block lands at the start; all-gather wants it
	 * at the rank's own place */
	memmove(mine, scratch, block * sizeof(float));
	MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, scratch, (int)block, MPI_FLOAT,
		      MPI_COMM_WORLD);
	memcpy(x, scratch, n * sizeof(float));
}

/* Every rank's n values of `type`, in rank order, into all (size · n). */
static void gather(void *all, const void *mine, size_t n, MPI_Datatype type, size_t bytes)
{
	CHECK(n <= (size_t)INT32_MAX);
	memcpy((char *)all + (size_t)rank * n * bytes, mine, n * bytes);
	MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, (int)n, type, MPI_COMM_WORLD);
}

void dist_gather_doubles(double *all, const double *mine, size_t n)
{
	if (size == 1) {
		memcpy(all, mine, n * sizeof(double));
		return;
	}
	gather(all, mine, n, MPI_DOUBLE, sizeof(double));
}

void dist_sum_doubles(double *x, size_t n)
{
	if (size == 1 || n == 0)
		return;
	double *all = xmalloc((size_t)size * n * sizeof(double));
	gather(all, x, n, MPI_DOUBLE, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double s = all[i];
		for (int r = 1; r < size; r++)
			s += all[(size_t)r * n + i];
		x[i] = s;
	}
	free(all);
}

void dist_min_max(float *lo, float *hi, size_t n)
{
	if (size == 1 || n == 0)
		return;
	float *all = xmalloc((size_t)size * n * sizeof(float));
	gather(all, lo, n, MPI_FLOAT, sizeof(float));
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < size; r++)
			lo[i] = all[(size_t)r * n + i] < lo[i] ? all[(size_t)r * n + i] : lo[i];
	gather(all, hi, n, MPI_FLOAT, sizeof(float));
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < size; r++)
			hi[i] = all[(size_t)r * n + i] > hi[i] ? all[(size_t)r * n + i] : hi[i];
	free(all);
}

#else /* no MPI in this build */

void dist_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *n = launched_size();
	if (n && strcmp(n, "1") != 0)
		die("launched as one of %s ranks, but this build has no MPI "
		    "(install libopenmpi-dev and rebuild)", n);
}

void dist_finish(void) {}
void dist_abort(int code) { (void)code; }
void dist_sum_floats(float *x, size_t n) { (void)x; (void)n; }
void dist_sum_doubles(double *x, size_t n) { (void)x; (void)n; }
void dist_gather_doubles(double *all, const double *mine, size_t n)
{
	memcpy(all, mine, n * sizeof(double));
}
void dist_min_max(float *lo, float *hi, size_t n) { (void)lo; (void)hi; (void)n; }

#endif

int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
int dist_local_rank(void) { return local_rank; }
