/* One knob for both thread pools (OpenMP loops and OpenBLAS GEMMs). */
#ifndef PCQ_THREADS_H
#define PCQ_THREADS_H

/* n <= 0: all cores. */
void threads_set(int n);
int threads_get(void);

#endif
