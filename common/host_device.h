/* Functions written once for the CPU and the GPU: PCQ_HOST_DEVICE marks a
 * static inline function that nvcc compiles for both (in C it is empty),
 * so a GPU kernel and the CPU code or test that checks it share one body. */
#ifndef PCQ_HOST_DEVICE_H
#define PCQ_HOST_DEVICE_H

#ifdef __CUDACC__
#define PCQ_HOST_DEVICE __host__ __device__
#else
#define PCQ_HOST_DEVICE
#endif

#endif
