/* im2col / col2im: unfold image patches into the columns of a matrix so a
 * convolution becomes a matrix product, and fold them back (the adjoint).
 * The same operation as PyTorch's torch.nn.functional.unfold / fold
 * (https://pytorch.org/docs/1.13/generated/torch.nn.Unfold.html), for one
 * image and a band of output rows [oh0, oh1), so a caller can keep the
 * matrix small enough to stay in cache, or place several images side by
 * side (ld is the distance between the matrix's rows):
 *
 *   col (C·KH·KW, ld), columns [0, (oh1 − oh0)·OW) written:
 *     col[(c·KH + i)·KW + j][(oh − oh0)·OW + ow]
 *         = im[c][oh·stride − pad + i][ow·stride − pad + j]
 *   (zero where the index falls in the padding),
 *   OH = (H + 2·pad − KH) / stride + 1, and likewise OW.
 *
 * col2im adds each column entry back to the pixel it came from:
 * im += im2colᵀ(col), the gradient of im2col; pixels outside the band's
 * receptive field are left alone. Both are single-threaded (conv2d.c
 * splits images between threads); the *_naive versions are the oracle. */
#ifndef PCQ_IM2COL_H
#define PCQ_IM2COL_H

struct im2col_shape {
	int c, h, w;     /* one input image: (C, H, W) */
	int kh, kw;      /* kernel height and width */
	int stride, pad; /* the same along H and W; zero padding */
};

int im2col_out_h(const struct im2col_shape *s);
int im2col_out_w(const struct im2col_shape *s);

/* col (C·KH·KW, ld) = unfold(im (C, H, W)) for output rows [oh0, oh1) */
void im2col(float *col, int ld, const float *im, int oh0, int oh1,
	    const struct im2col_shape *s);
void im2col_naive(float *col, int ld, const float *im, int oh0, int oh1,
		  const struct im2col_shape *s);

/* im (C, H, W) += fold(col (C·KH·KW, ld)) for output rows [oh0, oh1) */
void col2im(float *im, const float *col, int ld, int oh0, int oh1,
	    const struct im2col_shape *s);
void col2im_naive(float *im, const float *col, int ld, int oh0, int oh1,
		  const struct im2col_shape *s);

#endif
