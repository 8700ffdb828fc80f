/* From a fine-tuned fused model to a quantized model (SPEC §8,
 * docs/FORMAT.md §quantized-model): integer weights with their per-tensor
 * (S2, Z2), and per cluster c the input and output (S, Z), int32 biases
 * q_bias[c] = round(b / (S1[c]·S2)) and requantization multipliers
 * M[c] = S1[c]·S2 / S3[c] as (M0, shift). Every (S, Z) is computed by
 * qparams_from_range (fakequant.h) from the same ranges fine-tuning used,
 * so the integer model quantizes exactly where the simulation did.
 *
 * The fused graph is rewritten into integer ops:
 *   input.fq                          -> quantize  (float in, u8 out)
 *   conv2d [-> relu] -> fakequant     -> qconv2d   (relu = 0/1)
 *   linear [-> relu] -> fakequant     -> qlinear
 *   add [-> relu] -> fakequant        -> qadd      (two rescalings)
 *   global_avgpool2d -> fakequant     -> qavgpool  (its own output scale)
 *   maxpool2d, global_avgpool2d, flatten: the same op on integers
 *   dropout: removed (identity at inference).
 * Anything else (a ReLU or conv whose output is not quantized, a
 * fakequant elsewhere) is refused with the reason. */
#ifndef PCQ_QUANTIZE_H
#define PCQ_QUANTIZE_H

#include "pcqfile.h"

/* Builds out (a quantized-model file, no provenance) from the fused model
 * in; -1 after one line naming `name`, e.g. when a cluster's range was
 * never calibrated. */
int quantize_model(struct pcqfile *out, const struct pcqfile *in, const char *name);

#endif
