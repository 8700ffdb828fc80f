/* Where computation runs. The only module that knows whether the CUDA
 * backend (cuda/) was compiled in (STYLE.md 6); tools ask it whether a GPU
 * is usable and layers dispatch through it. This first version offers
 * discovery and a matrix product; layers move behind it with issue 8. */
#ifndef PCQ_BACKEND_H
#define PCQ_BACKEND_H

#include <stddef.h>

enum device { DEVICE_CPU, DEVICE_CUDA, DEVICE_COUNT };

/* 1 when this binary was built with the CUDA backend. */
int backend_has_cuda(void);
/* Number of usable GPUs (0 without CUDA or without a GPU). */
int backend_gpu_count(void);
/* From now on CUDA work goes to GPU index modulo the GPU count (before any
 * other CUDA call; no-op without a GPU). -1 after an error message. */
int backend_use_gpu(int index);
/* One line about the backends: "CPU (OpenBLAS ...); CUDA: <GPU> | no GPU". */
void backend_describe(char *buf, size_t len);

/* C (M, N) = A (M, K) · B (K, N), row-major, host pointers, on `device`
 * (CUDA copies through the GPU). Returns -1 when the device is unusable. */
int backend_sgemm(enum device device, int m, int n, int k, const float *a,
		  const float *b, float *c);

#endif
