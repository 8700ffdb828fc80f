/* Thread counts; see threads.h. All parallelism is OpenMP's: OpenBLAS is
 * kept on one thread by gemm.c (see gemm.h for why). */
#include "threads.h"

#include "gemm.h"

#include <omp.h>

void threads_set(int n)
{
	if (n <= 0)
		n = omp_get_num_procs();
	omp_set_num_threads(n);
	gemm_threads_init();
}

int threads_get(void)
{
	return omp_get_max_threads();
}
