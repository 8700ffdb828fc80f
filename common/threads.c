/* Thread counts; see threads.h. All parallelism is OpenMP's: OpenBLAS is
 * kept on one thread by gemm.c (see gemm.h for why). */
#include "threads.h"

#include "gemm.h"

#include <omp.h>
#include <stdlib.h>

void threads_set_shared(int n, int processes)
{
	if (n <= 0 && processes > 1 && !getenv("OMP_NUM_THREADS")) {
		n = omp_get_num_procs() / processes;
		if (n < 1)
			n = 1;
	}
	threads_set(n);
}

void threads_set(int n)
{
	/* OpenMP's own default: $OMP_NUM_THREADS, else the cores this
	 * process may run on (its affinity mask, so taskset is honoured). */
	if (n <= 0)
		n = omp_get_max_threads();
	omp_set_num_threads(n);
	gemm_threads_init();
}

int threads_get(void)
{
	return omp_get_max_threads();
}
