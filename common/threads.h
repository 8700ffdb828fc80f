/* One knob for the threads of every loop and GEMM (OpenMP's; gemm.h). */
#ifndef PCQ_THREADS_H
#define PCQ_THREADS_H

/* n <= 0: $OMP_NUM_THREADS if set, else all the cores this process may use. */
void threads_set(int n);
int threads_get(void);

#endif
