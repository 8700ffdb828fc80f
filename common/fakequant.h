/* b-bit asymmetric fake quantization (SPEC §7): the scale and zero point
 * of a real range, quantize-dequantize with saturation, its straight-
 * through gradient, and the per-cluster range statistics of activations.
 *
 * Range → (S, Z): the range is first extended to contain 0 (so real zero,
 * the padding value, is exactly representable), S = (max − min)/(2^b − 1),
 * raised to FLT_EPSILON when smaller (a degenerate range, e.g. [0, 0],
 * gets a tiny positive S rather than a division by zero: PyTorch's
 * observers use the same floor, and raising S keeps the range covered),
 * Z = clamp(round(−min/S), 0, 2^b − 1). round is round-half-to-even
 * (rintf in the default rounding mode, as torch.round).
 *
 * The symmetric grid (weights only, `pcq-fuse --symmetric`, SPEC §10):
 * S = max(|min|, |max|)/(2^(b−1) − 1) (same floor), Z = 2^(b−1), the
 * "narrow range" of TensorFlow Lite's int8 weights in unsigned form: the
 * range's codes are 1..2^b − 1, symmetric about Z, and q − Z fits int8 at
 * every width, so the integer engine never needs weight offsets.
 *
 * Quantize-dequantize: q = clamp(round(x/S) + Z, 0, 2^b − 1),
 * x̂ = S·(q − Z), all in float32. The gradient passes unchanged where
 * round(x/S) + Z lies in [0, 2^b − 1] and is zero where it saturates
 * (PyTorch's fake_quantize_per_tensor_affine rule). */
#ifndef PCQ_FAKEQUANT_H
#define PCQ_FAKEQUANT_H

#include "fq_rule.h"

#include <stddef.h>
#include <stdint.h>

#define FQ_MIN_BITS 2
#define FQ_MAX_BITS 8
/* Activations may be wider: the inputs of a residual add at up to 16 bits
 * (pcq-fuse --residual-bit, SPEC §10). round(x/S) + Z stays exact in
 * float32 (below 2^24). */
#define FQ_MAX_ACT_BITS 16

/* bits: 2..FQ_MAX_ACT_BITS, or with FQ_SYMMETRIC (fq_rule.h) the
 * symmetric grid (2..8). */
struct qparams qparams_from_range(float lo, float hi, int bits);

/* fq_unclamped and fq_clamp (fq_rule.h): the rounding rule. */

/* out may equal x. mask (n bytes, 1 = gradient passes) may be NULL. */
void fakequant_forward(float *out, uint8_t *mask, const float *x, size_t n,
		       const struct qparams *q);
/* dx = dout where mask is set, 0 elsewhere; dx may equal dout. */
void fakequant_backward(float *dx, const float *dout, const uint8_t *mask, size_t n);

/* (min, max) of x[0..n); n > 0. NaN elements are ignored (a NaN loss
 * stops training anyway). */
void range_of(const float *x, size_t n, float *lo, float *hi);

/* The same three on relu(x) = (x < 0 ? 0 : x) (relu.h), with the ReLU
 * computed as they read x: for a ReLU whose only consumer is the fake
 * quantization (model.c). fakequant_relu_forward's mask also clears the
 * ReLU's zero-gradient places (x <= 0), so fakequant_backward then gives
 * the gradient of both; without a qparams (q NULL) out is relu(x).
 * range_relu_of and fakequant_relu_forward give the bits of relu_forward
 * followed by range_of and fakequant_forward. */
void fakequant_relu_forward(float *out, uint8_t *mask, const float *x, size_t n,
			    const struct qparams *q);
void range_relu_of(const float *x, size_t n, float *lo, float *hi);

/* Per-cluster activation range: the first batch that contains the cluster
 * sets it, later ones smooth it: r ← smooth·r + (1 − smooth)·batch range.
 * range: (2) lo, hi; batches: how many batches have updated it. */
void range_update(float *range, float *batches, float lo, float hi, float smooth);

#endif
