/* Test helpers: loading reference tensors written by the PyTorch scripts in
 * tests/fixtures/ (PCQ files of kind "tensors"), and float comparison with
 * a stated tolerance that reports NaN/Inf first, then the largest
 * difference and the first bad index. Include after <cmocka.h>. */
#ifndef PCQ_TEST_FIXTURE_H
#define PCQ_TEST_FIXTURE_H

#include "pcqfile.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Loads tests/fixtures/NAME (tests run from the repository root). */
static inline void fixture_load(struct pcqfile *f, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "tests/fixtures/%s", name);
	if (pcqfile_read(f, path, KIND_TENSORS, NULL))
		fail_msg("cannot read fixture %s", path);
}

/* The f32 tensor NAME with exactly `numel` elements. */
static inline const float *fixture_f32(const struct pcqfile *f, const char *name,
				       size_t numel)
{
	const struct tensor *t = pcqfile_tensor(f, name);
	if (!t)
		fail_msg("fixture has no tensor '%s'", name);
	if (t->dtype != DTYPE_F32 || t->nbytes != numel * sizeof(float))
		fail_msg("fixture tensor '%s': %s of %zu bytes, expected f32 of %zu",
			 name, dtype_name(t->dtype), t->nbytes, numel * sizeof(float));
	return t->data;
}

/* Passes when |got - want| <= atol + rtol·|want| everywhere. */
static inline void assert_close(const float *got, const float *want, size_t n,
				double atol, double rtol, const char *what)
{
	double worst = 0;
	size_t first_bad = n;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(got[i]) && isfinite(want[i]))
			fail_msg("%s: element %zu is %g, expected %g", what, i, got[i], want[i]);
		double d = fabs((double)got[i] - want[i]);
		if (d > worst)
			worst = d;
		if (d > atol + rtol * fabs(want[i]) && first_bad == n)
			first_bad = i;
	}
	if (first_bad < n)
		fail_msg("%s: max |diff| %g; first bad index %zu: got %.8g, expected %.8g "
			 "(atol %g, rtol %g)", what, worst, first_bad, got[first_bad],
			 want[first_bad], atol, rtol);
}

#endif
