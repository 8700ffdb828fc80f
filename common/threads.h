/* One knob for the threads of every loop and GEMM (OpenMP's; gemm.h). */
#ifndef PCQ_THREADS_H
#define PCQ_THREADS_H

/* n <= 0: $OMP_NUM_THREADS if set, else all the cores this process may use. */
void threads_set(int n);
/* The same for one of `processes` processes on this machine (data-parallel
 * ranks, dist.h): without n or $OMP_NUM_THREADS, its part of those cores
 * (at least 1), so that they do not oversubscribe them: OpenMP's spinning
 * threads on oversubscribed cores slowed training more than tenfold here. */
void threads_set_shared(int n, int processes);
int threads_get(void);

#endif
