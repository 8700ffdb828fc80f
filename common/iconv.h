/* Exact integer convolution on oneDNN's direct int8 convolution primitive
 * (u8 source, s8 weights, s32 destination), for the integer engine:
 *
 *   acc[i, oy, ox, k] = Σ_{ky, kx, c} (x̃[i, oy·stride + ky, ox·stride + kx, c] − z1[i])
 *                                     · (q_w[k, c, ky, kx] − Z2)
 *
 * x: (n, H, W, C) uint8, NHWC; z1[i] in 0..255, one zero point per image;
 * x̃ is x padded by `pad` on each side with z1[i], so padded taps add
 * exactly 0. q_w: (K, C, kernel, kernel) uint8 in PyTorch's layout, values
 * 0..qmax (qmax = 2^bits − 1); Z2 = Z2[k], a weight zero point in 0..qmax
 * per output channel (the same K times for per-tensor quantization).
 * acc: (n, OH, OW, K) int32, NHWC, OH = (H + 2·pad − kernel)/stride + 1
 * (likewise OW), written, never read. Every value is bit for bit the
 * definition, whatever the CPU or the number of threads, or iconv_create
 * says the layer is not available and the caller keeps its im2col + igemm
 * path (igemm.h).
 *
 * How (iconv.c): oneDNN pads with 0 and knows no per-image zero point, so
 * it runs on the raw x with its own zero padding and with int8 weights w'.
 * Where every q_w − Z2 fits int8 (always so for bits <= 7), w' = q_w − Z2.
 * 8-bit weights span 255 steps, so the extremes of a layer usually fall
 * one or two steps outside int8 from Z2. When only a few weights do
 * (at most max(2, K/8)), w' = q_w − Z2 clamped to int8 and the rest r
 * of those few makes a sparse term: Σ over them of r·x at their tap
 * (valid taps only), a multiply-add per output row each. Otherwise w' =
 * q_w − o[k] with per-channel offsets o[k], the value nearest to Z2 that
 * makes q_w[k] − o[k] fit. Over the valid (unpadded) taps V(oy, ox):
 *
 *   Σ_V (x − z1)(q_w − Z2) = Σ_V x·w'  +  (o[k] − Z2)·Σ_V Σ_c x  −  z1·T[k](oy, ox)
 *
 * where Σ_V x·w' is the primitive's output, Σ_V Σ_c x a box sum of the
 * per-pixel channel sums (from an integral image; computed only when some
 * o[k] != Z2), and T[k](oy, ox) = Σ_V Σ_c (q_w − Z2), a table over the
 * few distinct border positions, made at create time. One pass over acc
 * after the primitive adds the two terms (and the sparse term, if any).
 * iconv_run_padded leaves out the
 * z1 term of the full kernel, −z1·Σ(q_w − Z2), which the integer engine
 * subtracts in its requantization loop anyway; then only the border
 * outputs need the z1 correction (none when pad = 0), and no output at all
 * needs a pass when also every o[k] = Z2.
 *
 * Exactness of the primitive's part:
 *   - products and sums: oneDNN's int8 kernels sum u8·s8 products in
 *     int32 exactly only with VNNI (vpdpbusd; AMX too); without it they
 *     use vpmaddubsw, which saturates pairs in int16 (igemm.h). So iconv
 *     requires that oneDNN's effective ISA (dnnl_get_effective_cpu_isa,
 *     which honours ONEDNN_MAX_CPU_ISA) has VNNI: avx512_core_vnni and
 *     above, or avx2_vnni. Every partial sum is within
 *     255·128·kernel²·C < 2^31.
 *   - the store: oneDNN's jit int8 convolution kernels
 *     (jit_*_x8s8s32x_*, and the gemm-based one's post-processing)
 *     convert the int32 accumulators to float and back (vcvtdq2ps, scale,
 *     vcvtps2dq) even for an s32 destination with no scales: exact only
 *     for |value| <= 2^24. The brgemm-based kernels (brgconv*) store the
 *     int32 accumulators unchanged when no scales, bias, zero points or
 *     post-ops are set (none are). So a primitive is used when its raw
 *     output is provably within 2^24 (x in 0..255, so the output lies in
 *     [−255·Σ over the negative w' of |w'|, 255·Σ over the positive w'];
 *     both within 2^24 for every output channel: always so for bits <= 4
 *     and kernel²·C <= 4386; then any implementation but oneDNN's slow
 *     reference one is accepted), or
 *     else when oneDNN picked brgconv on avx512_core_vnni or on AMX
 *     (avx512_core_amx*, whose tdpbusd also sums exactly in int32; libdnnl
 *     2.6: the unit tests check raw outputs around 5·10^7, odd values
 *     included, bit for bit, on whichever of the two the CPU has).
 *     Of the accepted implementations oneDNN offers (up to four, the
 *     gemm-based one left out), each primitive takes the fastest, timed on
 *     the spot when it is created: which wins depends on the CPU and the
 *     layer (on an AMX Xeon, brgconv or the jit AMX kernel on 3x3 layers of
 *     16 channels and more, the VNNI direct kernel on the 3-channel stem
 *     and 1x1 ones; on AVX-512 VNNI without AMX the direct kernel nearly
 *     everywhere), and all are exact, so the choice changes only the
 *     speed. A primitive for the last, smaller batch takes the batch's
 *     choice untimed. PCQ_ICONV=first takes oneDNN's first accepted one
 *     instead, untimed. oneDNN's own src
 *     zero-point attribute is not used: one zero point per call, not per
 *     image, and it sends brgconv down the float post-op path.
 *   - the corrections are added in uint32 (wrapping); each term and the
 *     result fit in int32 (kernel²·C·255² < 2^31), so the result is exact.
 *
 * Threads: oneDNN's OpenMP runtime and the correction pass use the OpenMP
 * threads (omp_set_num_threads / threads_set); inside a parallel region
 * everything runs on the calling thread. One iconv must not be run by two
 * threads at once (it holds the primitives' argument handles); different
 * ones may (each has its own oneDNN stream). */
#ifndef PCQ_ICONV_H
#define PCQ_ICONV_H

#include <stddef.h>
#include <stdint.h>

struct iconv;

/* Plans the convolution for batches of up to `batch` images: checks the
 * arguments, offsets and reorders the weights once into the layout
 * oneDNN's primitive wants, creates the primitives for n = batch and
 * n = 1 (each timing the candidate implementations: some milliseconds
 * per layer), their scratchpads and the correction tables. Returns
 *    0  and *out, to be freed with iconv_free;
 *    1  (*out = NULL) when oneDNN cannot be used exactly for this layer
 *       here: no VNNI in oneDNN's effective ISA, PCQ_ICONV=off in the
 *       environment (read at the first call), kernel²·C > 33025 (the
 *       int32 bound), or an implementation that is slow (reference) or
 *       not known to be exact for outputs beyond 2^24 (see above);
 *   -1  after an error message (error()): bad arguments (sizes <= 0, an
 *       empty output, bits outside 2..8, a weight or Z2 above qmax) or a
 *       oneDNN failure. */
/* The offset o nearest z for which every w[t] − o of the n weights fits
 * int8 (one exists: the weights lie in 0..255): one output channel's. */
int iconv_int8_offset(const uint8_t *w, size_t n, int z);

int iconv_create(struct iconv **out, int batch, int C, int H, int W, int K, int kernel,
		 int stride, int pad, const uint8_t *q_w, const int32_t *w_zero, int bits);

/* acc = the definition above for images 0..n−1 of x (1 <= n <= batch);
 * z1: n zero points, each 0..255 (CHECK). A primitive for an n other than
 * batch and 1 (the last, smaller batch) is created at its first use and
 * kept; if oneDNN picks an implementation not accepted above for it, that
 * n runs image by image on the n = 1 primitive (PCQ_ICONV=one in the
 * environment forces this for every such n, for the tests). Dies (die())
 * only if oneDNN fails (out of memory). */
void iconv_run(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1, int32_t *acc);

/* As iconv_run, without subtracting the input zero point over the full
 * kernel:
 *   acc[i, oy, ox, k] = Σ_{ky, kx, c} x̃[i, oy·stride + ky, ox·stride + kx, c]
 *                                      · (q_w[k, c, ky, kx] − Z2)
 *                     = iconv_run's value + z1[i]·Σ_{c, ky, kx} (q_w[k, c, ky, kx] − Z2)
 * (x̃ still padded with z1[i]): what im2col padded with z1 and igemm with
 * za = 0 give, for callers that subtract z1·Σ(q_w − Z2) in their own pass
 * over acc. Exact under the same conditions (|value| <= kernel²·C·255²). */
void iconv_run_padded(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1,
		      int32_t *acc);

/* As iconv_run_padded, with the box term left to the caller when
 * iconv_coef(cv) is not NULL: then acc lacks coef[k]·box[i, oy, ox] and
 *   box[i, oy, ox] = Σ over the valid taps V(oy, ox) of Σ_c x
 * (0 when every tap is padding; box: (n, OH, OW)), which the caller adds
 * in its own pass over acc (in wrapping 32-bit arithmetic: the sum is
 * exact). Saves the correction pass's work on every interior output. When
 * iconv_coef is NULL, box is not written. */
void iconv_run_split(struct iconv *cv, const uint8_t *x, int n, const int32_t *z1,
		     int32_t *acc, int32_t *box);

/* (K): o[k] − Z2 of the comment above, or NULL when every o[k] = Z2 (no
 * box term). */
const int32_t *iconv_coef(const struct iconv *cv);

/* iconv_run_split also leaves out the sparse term when this is not 0 (the
 * number of weights in it); the caller adds it with iconv_add_sparse, row
 * block by row block, right before reading those accumulators anyway. */
int iconv_sparse_count(const struct iconv *cv);

/* The most weights beyond int8 a layer with K output channels keeps as a
 * sparse term: max(2, K/8) (also the integer engine's GEMM rule). */
int iconv_sparse_limit(int K);

/* acc += the sparse term for output rows r0..r1−1 (row = oy·OW + ox) of
 * image i of x (x as given to iconv_run_split); acc points at row r0 of
 * that image, K accumulators a row. Wrapping 32-bit adds: exact once the
 * whole sum is made. Reads only cv: threads may call it at once. */
void iconv_add_sparse(const struct iconv *cv, const uint8_t *x, int i, int r0, int r1,
		      int32_t *acc);

void iconv_free(struct iconv *cv);

/* oneDNN's implementation for n = batch, e.g. "brgconv:avx512_core_vnni". */
const char *iconv_impl(const struct iconv *cv);

/* How many implementations were candidates for n = batch (prim_create in
 * iconv.c: the exact ones oneDNN offers, at most four). */
int iconv_candidates(const struct iconv *cv);

/* For tests and benchmarks: primitives created from now on take the
 * candidate-th candidate (the last when there are fewer), or with −1 (the
 * default) the fastest, timed. Not thread-safe; PCQ_ICONV=first in the
 * environment starts it at 0. */
void iconv_pick(int candidate);

/* NULL when this machine and environment allow iconv at all (oneDNN has
 * VNNI, PCQ_ICONV is not "off"); else why not, for messages and tests. A
 * layer may still be refused (1) for its size or implementation. */
const char *iconv_unavailable(void);

#endif
