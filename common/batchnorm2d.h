/* 2-D batch normalisation over (N, H, W) per channel, as PyTorch's
 * torch.nn.BatchNorm2d (docs: pytorch.org/docs/stable/generated/
 * torch.nn.BatchNorm2d.html; Ioffe & Szegedy 2015, Algorithm 1):
 *   training: y = γ·(x − μ_B)/√(σ²_B + eps) + β with the batch mean and the
 *     biased batch variance; running stats move by `momentum` towards the
 *     batch mean and the UNBIASED batch variance (σ²_B·M/(M−1), M = N·H·W);
 *   eval: the same with running_mean and running_var.
 * Per-channel sums are accumulated in double. OpenMP: one thread per
 * channel (plain layout) or per block of 16 channels and eighth of the
 * batch (blocked layout), so results do not depend on the number of
 * threads. The naive oracles take the plain layout only.
 * Gradients: dgamma and dbeta accumulate (+=); din is overwritten (=). */
#ifndef PCQ_BATCHNORM2D_H
#define PCQ_BATCHNORM2D_H

/* PyTorch's defaults. */
#define BATCHNORM2D_EPS 1e-5f
#define BATCHNORM2D_MOMENTUM 0.1f

struct batchnorm2d_shape {
	int N, C, H, W;
	float eps;           /* > 0, usually BATCHNORM2D_EPS */
	float momentum;      /* in (0, 1], usually BATCHNORM2D_MOMENTUM */
	int blocked;         /* tensors in layout.h's blocked layout (C % 16 == 0) */
	int relu;            /* forward: a ReLU fused after it (relu.h's forward) */
	/* Training with data-parallel ranks (bn_sync.h): this rank's share of
	 * the whole batch (its images / the batch's), whose statistics then
	 * span every rank's share; its loss gradients are for the mean over
	 * its share alone (model_sum_grads weights them later). 0: the
	 * statistics of this batch alone. */
	double share;
};

/* Training mode. Saves the batch mean and 1/√(σ²_B + eps) per channel for
 * the backward, and updates running_mean and running_var in place.
 * N·H·W must be at least 2 (PyTorch refuses a single value per channel).
 * out may be the same buffer as in. */
void batchnorm2d_forward_train(float *out,           // (N, C, H, W)
			       float *mean,          // (C) saved
			       float *invstd,        // (C) saved
			       const float *in,      // (N, C, H, W)
			       const float *gamma,   // (C)
			       const float *beta,    // (C)
			       float *running_mean,  // (C) updated
			       float *running_var,   // (C) updated
			       const struct batchnorm2d_shape *s);

/* Eval mode: normalises with the running statistics; momentum unused.
 * out may be the same buffer as in. */
void batchnorm2d_forward_eval(float *out,                // (N, C, H, W)
			      const float *in,           // (N, C, H, W)
			      const float *gamma,        // (C)
			      const float *beta,         // (C)
			      const float *running_mean, // (C)
			      const float *running_var,  // (C)
			      const struct batchnorm2d_shape *s);

/* Backward of the training-mode forward (batch statistics), from the
 * saved mean and invstd:
 *   x̂ = (x − μ)·invstd,  dβ += Σ dy,  dγ += Σ dy·x̂,
 *   dx = γ·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M).
 * din may be the same buffer as dout. */
void batchnorm2d_backward(float *din,           // (N, C, H, W) =
			  float *dgamma,        // (C) +=
			  float *dbeta,         // (C) +=
			  const float *mean,    // (C) saved by forward_train
			  const float *invstd,  // (C) saved by forward_train
			  const float *dout,    // (N, C, H, W)
			  const float *in,      // (N, C, H, W)
			  const float *gamma,   // (C)
			  const struct batchnorm2d_shape *s);

/* The backward of batch norm and the ReLU fused after it (s->relu in the
 * forward): dout is the ReLU's output gradient, taken as 0 where the
 * forward's output relu_out <= 0 (relu.h's backward); relu_out NULL is
 * batchnorm2d_backward. Saves the ReLU's own pass over the batch. */
void batchnorm2d_relu_backward(float *din,            // (N, C, H, W) =
			       float *dgamma,         // (C) +=
			       float *dbeta,          // (C) +=
			       const float *mean,     // (C) saved by forward_train
			       const float *invstd,   // (C) saved by forward_train
			       const float *dout,     // (N, C, H, W) the ReLU's
			       const float *relu_out, // (N, C, H, W) or NULL
			       const float *in,       // (N, C, H, W)
			       const float *gamma,    // (C)
			       const struct batchnorm2d_shape *s);

/* Plain-loop versions of the above (two-pass statistics, no OpenMP), kept
 * as the test oracle (STYLE.md 5). */
void batchnorm2d_forward_train_naive(float *out, float *mean, float *invstd,
				     const float *in, const float *gamma,
				     const float *beta, float *running_mean,
				     float *running_var,
				     const struct batchnorm2d_shape *s);
void batchnorm2d_backward_naive(float *din, float *dgamma, float *dbeta,
				const float *mean, const float *invstd,
				const float *dout, const float *in,
				const float *gamma,
				const struct batchnorm2d_shape *s);

#endif
