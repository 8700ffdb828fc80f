/* Backend dispatch; see backend.h. PCQ_CUDA is defined by the Makefile
 * when cuda/ is compiled in; no other file tests it. */
#include "backend.h"

#include "check.h"
#include "threads.h"

#include <cblas.h>
#include <stdio.h>

#ifdef PCQ_CUDA
int cuda_device_count(void);
int cuda_set_device(int device);
int cuda_device_describe(int device, char *buf, size_t len);
int cuda_sgemm_nn(int m, int n, int k, const float *d_a, const float *d_b, float *d_c);
int cuda_alloc(void **d_p, size_t bytes);
void cuda_free(void *d_p);
int cuda_upload(void *d_dst, const void *src, size_t bytes);
int cuda_download(void *dst, const void *d_src, size_t bytes);
#endif

int backend_has_cuda(void)
{
#ifdef PCQ_CUDA
	return 1;
#else
	return 0;
#endif
}

int backend_gpu_count(void)
{
#ifdef PCQ_CUDA
	return cuda_device_count();
#else
	return 0;
#endif
}

int backend_use_gpu(int index)
{
#ifdef PCQ_CUDA
	return cuda_device_count() > 0 ? cuda_set_device(index % cuda_device_count()) : 0;
#else
	(void)index;
	return 0;
#endif
}

void backend_describe(char *buf, size_t len)
{
	int used = snprintf(buf, len, "CPU (%s, %d threads)", openblas_get_config(),
			    threads_get());
	if (used < 0 || (size_t)used >= len)
		return;
#ifdef PCQ_CUDA
	char gpu[256] = "no GPU found";
	if (cuda_device_count() > 0)
		cuda_device_describe(0, gpu, sizeof(gpu));
	snprintf(buf + used, len - (size_t)used, "; CUDA: %s", gpu);
#else
	snprintf(buf + used, len - (size_t)used, "; CUDA: not compiled in");
#endif
}

static int sgemm_cuda(int m, int n, int k, const float *a, const float *b, float *c)
{
#ifdef PCQ_CUDA
	void *d_a = NULL, *d_b = NULL, *d_c = NULL;
	size_t sa = (size_t)m * k * sizeof(float), sb = (size_t)k * n * sizeof(float),
	       sc = (size_t)m * n * sizeof(float);
	int rc = -1;
	if (cuda_alloc(&d_a, sa) == 0 && cuda_alloc(&d_b, sb) == 0 &&
	    cuda_alloc(&d_c, sc) == 0 && cuda_upload(d_a, a, sa) == 0 &&
	    cuda_upload(d_b, b, sb) == 0 && cuda_sgemm_nn(m, n, k, d_a, d_b, d_c) == 0 &&
	    cuda_download(c, d_c, sc) == 0)
		rc = 0;
	cuda_free(d_a);
	cuda_free(d_b);
	cuda_free(d_c);
	return rc;
#else
	(void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
	return error("this pcq was built without CUDA (rebuild with CUDA=1)");
#endif
}

int backend_sgemm(enum device device, int m, int n, int k, const float *a,
		  const float *b, float *c)
{
	if (device == DEVICE_CUDA)
		return sgemm_cuda(m, n, k, a, b, c);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k,
		    b, n, 0.0f, c, n);
	return 0;
}
