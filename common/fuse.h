/* Turning a pre-trained model into a fused model (SPEC §7, docs/FORMAT.md
 * §fused-model): every batch norm folded into the convolution before it,
 * conv2d and linear layers given weight_bits, and a fakequant layer at
 * every quantization point:
 *   - the network input ("input.fq");
 *   - the output of each conv2d, linear and add — after its ReLU when its
 *     only consumer is one (after the folded batch norm for a conv):
 *     this covers the convs that feed a residual add, the downsample
 *     branches, the add outputs after their ReLU and the logits.
 *   - the output of a global average pool: the mean of P values of the
 *     input's grid lies between its levels, and rounding it back onto
 *     that grid loses most of what the mean carries at 4 bits, so it gets
 *     its own range (docs/QUANTIZATION.md: a deliberate addition to
 *     SPEC §7, which lets pooling keep its input's scale).
 * Max pooling, flatten and dropout keep their input's scale and get none.
 * A fakequant layer is named "<layer>.fq" after the layer it follows.
 *
 * Every weight and activation gets `bits`, except with mixed precision
 * (first_last_bits, SPEC §10): then the first and the last conv2d/linear
 * layers quantize their weights and their input to first_last_bits —
 * the input image, and the point the last layer reads — and so do the
 * logits, which at 4 bits would tie on a 16-level grid.
 *
 * With residual_bits (16-bit residual adds, SPEC §10) the quantization
 * points that only residual adds read — a block's last convolution and
 * its downsample branch — get residual_bits instead: the add then sums
 * two finely quantized branches and only its output, which the next
 * convolution reads, is rounded to `bits`.
 *
 * Weights are quantized with one range per tensor, or with per_channel
 * one per output channel (the param weight_per_channel = 1, SPEC §10);
 * on fakequant.h's asymmetric grid, or with symmetric on its symmetric
 * one (the param weight_symmetric = 1, SPEC §10). */
#ifndef PCQ_FUSE_H
#define PCQ_FUSE_H

#include "pcqfile.h"

struct fuse_options {
	int bits;        /* 2..8 */
	int first_last_bits;  /* 0 (= bits), or 2..8: see above */
	int residual_bits;    /* 0 (= bits), or 2..16: see above */
	int per_channel;      /* 1: weights get a range per output channel */
	int symmetric;        /* 1: weights on the symmetric grid */
	int clusters;    /* K >= 1 */
	double smooth;   /* EMA factor of the activation ranges */
};

/* Builds out (a fused-model file, no provenance) from the model file in;
 * -1 after one line naming `name` when it cannot be fused. */
int fuse_model(struct pcqfile *out, const struct pcqfile *in, const char *name,
	       const struct fuse_options *o);

#endif
