/* Activation layouts. Plain: (N, C, H, W). Blocked, oneDNN's "nChw16c":
 * (N, C/16, H, W, 16), element (n, c, h, w) at
 *   (((n·C/16 + c/16)·H + h)·W + w)·16 + c % 16,
 * so that a vector register holds one pixel's 16 channels. Only for
 * C % 16 == 0: both layouts then hold the same N·C·H·W floats with each
 * sample's C·H·W contiguous, and element-wise ops (ReLU, residual add,
 * fake quantization per sample) run unchanged on either. Which nodes of a
 * model use it is decided once, at planning (model.c). */
#ifndef PCQ_LAYOUT_H
#define PCQ_LAYOUT_H

#define ACT_BLOCK 16

/* dst and src are distinct; c % ACT_BLOCK == 0. */
void layout_to_blocked(float *dst, const float *src, int n, int c, int hw);
void layout_to_plain(float *dst, const float *src, int n, int c, int hw);

#endif
