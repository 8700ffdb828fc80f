/* Tests for requant.c: requant_i32, requant_u8 and div_pot_i32 give the
 * bits of fixedpoint.h's fp_requantize / fp_div_pot (the reference, with
 * the u8 clamp of z + r done in int64) on every shift −31..31 and every
 * exponent 0..31, for m0 in {0, 2^30, 2^31 − 1, 1, random}, on inputs
 * drawn from: the full int32 range; ±2^k + {−2..2} and the extremes; exact
 * ±0.5 ties of the high multiply (x·m0 ≡ 2^30 mod 2^31, from m0's inverse
 * mod a power of two); values whose high-multiplied result lies on or next
 * to a ±0.5 tie of the rounding division (and on small results, so the u8
 * clamp edges are crossed); for negative shifts, the saturation thresholds
 * INT32_MAX >> s, −2^(31−s) and their neighbours. Lengths that are not
 * multiples of the vector width, offsets that misalign the buffers,
 * out == x, guard bytes after the output, and u8 clamps including ReLU
 * (lo = z), lo = hi and zero points far outside 0..255. Each test runs
 * every path this CPU has (requant_force: scalar, AVX2, AVX-512), so one
 * binary covers them all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fixedpoint.h"
#include "requant.h"
#include "rng.h"

#define NPATHS (REQUANT_AVX512 + 1)

/* Forces path p (REQUANT_SCALAR ...); its name, or NULL when this CPU
 * lacks it (the test skips it). */
static const char *set_path(int p)
{
	if (requant_force(p)) {
		print_message("requant: this CPU has no %s path; not tested\n",
			      requant_path_name(p));
		return NULL;
	}
	return requant_impl_name();
}

static int teardown_path(void **state)
{
	(void)state;
	requant_force(REQUANT_AUTO);
	return 0;
}

static uint8_t ref_u8(int32_t x, int32_t m0, int shift, int32_t z, int32_t lo, int32_t hi)
{
	int64_t v = (int64_t)z + fp_requantize(x, m0, shift);
	return (uint8_t)(v < lo ? lo : v > hi ? hi : v);
}

static int32_t rand_i32(struct rng *r)
{
	return (int32_t)rng_u32(r);
}

/* Uniform in [lo, hi] (int64 bounds within int32). */
static int64_t rand_range(struct rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)(hi - lo) + 1;
	uint64_t u = span > UINT32_MAX ? rng_u32(r) : rng_below(r, (uint32_t)span);
	return lo + (int64_t)(u % span);
}

static int32_t clamp32(__int128 v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* ±2^k + d, d in −2..2, k in 0..31, clamped; or an extreme. */
static int32_t near_pot(struct rng *r)
{
	static const int32_t ext[] = {INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1, -1};
	if (rng_below(r, 4) == 0)
		return ext[rng_below(r, sizeof(ext) / sizeof(ext[0]))];
	int64_t v = (INT64_C(1) << rng_below(r, 32)) + (int64_t)rng_below(r, 5) - 2;
	return clamp32(rng_below(r, 2) ? v : -v);
}

/* The inverse of odd a modulo 2^32 (Newton: each step doubles the bits). */
static uint32_t inv_odd(uint32_t a)
{
	uint32_t x = a;                       /* right to 3 bits */
	for (int i = 0; i < 5; i++)
		x *= 2 - a * x;
	return x;
}

/* x with (x·2^s)·m0 ≡ 2^30 (mod 2^31) and x·2^s within int32, so that
 * fp_high_mul meets an exact ±0.5 tie (s = −shift for negative shifts,
 * else 0). With m0 = 2^t·u, u odd, that is x ≡ 2^(30−t−s)·u^−1 mod
 * 2^(31−t−s); needs t + s <= 30. Returns 0 with *ok = 0 when impossible. */
static int32_t high_mul_tie(struct rng *r, int32_t m0, int s, int *ok)
{
	*ok = 0;
	if (m0 == 0)
		return 0;
	int t = __builtin_ctz((unsigned)m0);
	if (t + s > 30)
		return 0;
	int k = 31 - t - s;                   /* the modulus 2^k, k >= 1 */
	uint32_t u = (uint32_t)m0 >> t;
	uint64_t mod = UINT64_C(1) << k;
	uint64_t x0 = ((uint64_t)inv_odd(u) << (30 - t - s)) & (mod - 1);
	/* A random multiple of 2^k in [−2^(31−s), 2^(31−s)) plus x0 stays in it. */
	int64_t lim = INT64_C(1) << (31 - s);
	int64_t v = rand_range(r, -lim, lim - 1);
	int64_t base = v - (int64_t)(((uint64_t)v) & (mod - 1));   /* floor to 2^k */
	*ok = 1;
	return (int32_t)(base + (int64_t)x0);
}

/* x near acc whose requantized value is T/2 (T odd: a tie of the rounding
 * division, or of the high multiply when shift <= 0): x ≈ T·2^(30+shift)/m0,
 * plus d in −2..2. Small T puts the result near the u8 clamp edges. */
static int32_t near_value(struct rng *r, int32_t m0, int shift, int64_t T)
{
	if (m0 == 0)
		return rand_i32(r);
	__int128 num = (__int128)T * ((__int128)1 << (31 + shift));   /* 31 + shift in 0..62 */
	__int128 x = num / ((__int128)2 * m0);
	return clamp32(x + (int64_t)rng_below(r, 5) - 2);
}

/* n inputs for (m0, shift), the kinds mixed at random positions. */
static void fill_inputs(struct rng *r, int32_t *x, size_t n, int32_t m0, int shift)
{
	const int s = shift < 0 ? -shift : 0;
	const int32_t sat_hi = INT32_MAX >> s;
	const int32_t sat_lo = (int32_t)-(INT64_C(1) << (31 - s));
	for (size_t i = 0; i < n; i++) {
		int ok = 1;
		int32_t v;
		switch (rng_below(r, 8)) {
		case 0:
		case 1:
			v = rand_i32(r);
			break;
		case 2:
			v = near_pot(r);
			break;
		case 3:
			v = high_mul_tie(r, m0, s, &ok);
			if (!ok)
				v = rand_i32(r);
			break;
		case 4:                 /* a tie of a small result: u8 clamp edges */
			v = near_value(r, m0, shift, 2 * rand_range(r, -300, 300) + 1);
			break;
		case 5:                 /* a tie anywhere in the range */
			v = near_value(r, m0, shift, 2 * (int64_t)rand_i32(r) + 1);
			break;
		case 6:                 /* a small result, not a tie */
			v = near_value(r, m0, shift, 2 * rand_range(r, -300, 300));
			break;
		default:                /* saturation edges of x·2^s */
			if (s == 0) {
				v = (int32_t)rand_range(r, -1000, 1000);
			} else {
				int32_t edge = rng_below(r, 2) ? sat_hi : sat_lo;
				int64_t d = (int64_t)rng_below(r, 5) - 2;
				v = rng_below(r, 4) ? clamp32(edge + d)
						    : (int32_t)rand_range(r, INT32_MIN, INT32_MAX);
			}
			break;
		}
		x[i] = v;
	}
}

static void check_i32(const int32_t *got, const int32_t *x, size_t n, int32_t m0, int shift,
		      const char *path, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		int32_t want = fp_requantize(x[i], m0, shift);
		if (got[i] != want)
			fail_msg("%s %s: requant_i32 x[%zu] = %d, m0 %d, shift %d: got %d, want %d",
				 path, what, i, x[i], m0, shift, got[i], want);
	}
}

static void check_u8(const uint8_t *got, const int32_t *x, size_t n, int32_t m0, int shift,
		     int32_t z, int32_t lo, int32_t hi, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t want = ref_u8(x[i], m0, shift, z, lo, hi);
		if (got[i] != want)
			fail_msg("%s: requant_u8 x[%zu] = %d, m0 %d, shift %d, z %d, [%d, %d]: "
				 "got %d, want %d", path, i, x[i], m0, shift, z, lo, hi, got[i], want);
	}
}

/* m0 values: the documented edges and random ones (odd, even, small,
 * normalised in [2^30, 2^31)). */
static int32_t pick_m0(struct rng *r, int j)
{
	switch (j) {
	case 0: return 0;
	case 1: return INT32_C(1) << 30;
	case 2: return INT32_MAX;
	case 3: return 1;
	case 4: return (int32_t)(rng_u32(r) >> 1) | 1;                       /* odd */
	case 5: return (int32_t)((rng_u32(r) >> 1) & ~UINT32_C(0xff));        /* even */
	default: return (INT32_C(1) << 30) | (int32_t)(rng_u32(r) >> 2);      /* normalised */
	}
}
#define N_M0 8

/* Every shift, every m0 kind: out of place and in place. */
static void test_i32_all_shifts(void **state)
{
	(void)state;
	const size_t n = 2048 + 5;          /* not a multiple of 8 */
	int32_t *x = malloc(n * sizeof(*x)), *out = malloc(n * sizeof(*out));
	assert_non_null(x);
	assert_non_null(out);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		struct rng r;
		rng_seed(&r, 2024, 1);
		for (int j = 0; j < N_M0; j++)
			for (int shift = -31; shift <= 31; shift++) {
				int32_t m0 = pick_m0(&r, j);
				fill_inputs(&r, x, n, m0, shift);
				requant_i32(out, x, n, m0, shift);
				check_i32(out, x, n, m0, shift, path, "out of place");
				memcpy(out, x, n * sizeof(*x));
				requant_i32(out, out, n, m0, shift);
				check_i32(out, x, n, m0, shift, path, "in place");
			}
	}
	free(x);
	free(out);
}

/* One million inputs over the full int32 range, m0 and shift random per
 * chunk of 4096 (negative shifts saturate most of these). */
static void test_full_range(void **state)
{
	(void)state;
	const size_t n = (size_t)1 << 20, chunk = 4096;
	int32_t *x = malloc(n * sizeof(*x)), *out = malloc(n * sizeof(*out));
	uint8_t *out8 = malloc(n);
	assert_non_null(x);
	assert_non_null(out);
	assert_non_null(out8);
	struct rng r;
	rng_seed(&r, 7, 2);
	for (size_t i = 0; i < n; i++)
		x[i] = rand_i32(&r);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		rng_seed(&r, 8, 3);
		for (size_t c = 0; c < n; c += chunk) {
			int32_t m0 = pick_m0(&r, (int)rng_below(&r, N_M0));
			int shift = (int)rng_below(&r, 63) - 31;
			int32_t z = (int32_t)rng_below(&r, 256), hi = 255;
			requant_i32(out + c, x + c, chunk, m0, shift);
			check_i32(out + c, x + c, chunk, m0, shift, path, "full range");
			requant_u8(out8 + c, x + c, chunk, m0, shift, z, z, hi);
			check_u8(out8 + c, x + c, chunk, m0, shift, z, z, hi, path);
		}
	}
	free(x);
	free(out);
	free(out8);
}

/* The u8 clamp: ReLU (lo = z), a qmax below 255, lo = hi, and zero points
 * outside 0..255 up to the int32 extremes, over every shift. */
static void test_u8_clamps(void **state)
{
	(void)state;
	static const int32_t zlh[][3] = {
		{0, 0, 255}, {128, 0, 255}, {37, 37, 255}, {200, 200, 250}, {255, 255, 255},
		{0, 0, 0}, {9, 7, 7}, {-1000000, 0, 255}, {1000000, 0, 255},
		{INT32_MIN, 0, 255}, {INT32_MIN, 0, 0}, {INT32_MIN + 255, 0, 255},
		{INT32_MIN + 100, 0, 255}, {INT32_MAX, 0, 255}, {INT32_MAX - 200, 3, 255},
		{-7, 0, 15},
	};
	const size_t nz = sizeof(zlh) / sizeof(zlh[0]);
	const size_t n = 1024 + 3;
	int32_t *x = malloc(n * sizeof(*x));
	uint8_t *out = malloc(n);
	assert_non_null(x);
	assert_non_null(out);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		struct rng r;
		rng_seed(&r, 99, 4);
		for (int shift = -31; shift <= 31; shift++)
			for (int j = 0; j < N_M0; j++) {
				int32_t m0 = pick_m0(&r, j);
				fill_inputs(&r, x, n, m0, shift);
				for (size_t k = 0; k < nz; k++) {
					requant_u8(out, x, n, m0, shift, zlh[k][0], zlh[k][1], zlh[k][2]);
					check_u8(out, x, n, m0, shift, zlh[k][0], zlh[k][1], zlh[k][2], path);
				}
			}
	}
	free(x);
	free(out);
}

/* div_pot_i32 for every exponent: ties q·2^e ± 2^(e−1) and neighbours,
 * powers of two, the full range; out of place and in place. */
static void test_div_pot(void **state)
{
	(void)state;
	const size_t n = 4096 + 7;
	int32_t *x = malloc(n * sizeof(*x)), *out = malloc(n * sizeof(*out));
	assert_non_null(x);
	assert_non_null(out);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		struct rng r;
		rng_seed(&r, 5, 5);
		for (int e = 0; e <= 31; e++) {
			for (size_t i = 0; i < n; i++) {
				switch (rng_below(&r, 4)) {
				case 0:
					x[i] = rand_i32(&r);
					break;
				case 1:
					x[i] = near_pot(&r);
					break;
				default: {
					int64_t q = (int64_t)rand_i32(&r) >> e;       /* floor: in range */
					int64_t h = e ? INT64_C(1) << (e - 1) : 0;
					int64_t v = q * (INT64_C(1) << e) + (rng_below(&r, 2) ? h : -h);
					x[i] = clamp32(v + (int64_t)rng_below(&r, 3) - 1);
					break;
				}
				}
			}
			for (int inplace = 0; inplace < 2; inplace++) {
				if (inplace) {
					memcpy(out, x, n * sizeof(*x));
					div_pot_i32(out, out, n, e);
				} else {
					div_pot_i32(out, x, n, e);
				}
				for (size_t i = 0; i < n; i++) {
					int32_t want = fp_div_pot(x[i], e);
					if (out[i] != want)
						fail_msg("%s: div_pot_i32 x[%zu] = %d, e %d%s: got %d, want %d",
							 path, i, x[i], e, inplace ? " in place" : "",
							 out[i], want);
				}
			}
		}
	}
	free(x);
	free(out);
}

/* Lengths 0, 1, 7, 8, 9, 33, 1000 at offsets 0..3 (misaligned), with
 * guard values after the output that must survive. */
static void test_lengths(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 7, 8, 9, 31, 32, 33, 40, 1000};
	enum { GUARD = 40, MAXN = 1000 + 3 + GUARD };
	int32_t x[MAXN], out[MAXN], cp[MAXN];
	uint8_t out8[MAXN];
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		struct rng r;
		rng_seed(&r, 11, 6);
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
			for (size_t off = 0; off < 4; off++)
				for (int shift = -31; shift <= 31; shift += 5) {
					const size_t n = lens[li];
					int32_t m0 = pick_m0(&r, (int)rng_below(&r, N_M0));
					int32_t z = (int32_t)rng_below(&r, 256);
					int e = shift < 0 ? -shift : shift;
					fill_inputs(&r, x, MAXN, m0, shift);
					for (size_t i = 0; i < MAXN; i++)
						out[i] = INT32_C(0x5a5a5a5a);
					memset(out8, 0xa5, sizeof(out8));

					requant_i32(out + off, x + off, n, m0, shift);
					check_i32(out + off, x + off, n, m0, shift, path, "lengths");
					requant_u8(out8 + off, x + off, n, m0, shift, z, z, 255);
					check_u8(out8 + off, x + off, n, m0, shift, z, z, 255, path);
					for (size_t i = 0; i < MAXN; i++) {
						if (i >= off && i < off + n)
							continue;
						if (out[i] != INT32_C(0x5a5a5a5a) || out8[i] != 0xa5)
							fail_msg("%s: n %zu offset %zu: wrote index %zu",
								 path, n, off, i);
					}

					memcpy(cp, x, sizeof(cp));
					requant_i32(cp + off, cp + off, n, m0, shift);
					check_i32(cp + off, x + off, n, m0, shift, path, "lengths in place");
					assert_memory_equal(cp + off + n, x + off + n,
							    (MAXN - off - n) * sizeof(*x));

					memcpy(cp, x, sizeof(cp));
					div_pot_i32(cp + off, cp + off, n, e);
					for (size_t i = 0; i < n; i++)
						assert_int_equal(cp[off + i], fp_div_pot(x[off + i], e));
					assert_memory_equal(cp + off + n, x + off + n,
							    (MAXN - off - n) * sizeof(*x));
				}
	}
}

/* Hand-worked values through the vector path (a full vector of each). */
static void test_known_values(void **state)
{
	(void)state;
	const int32_t p30 = INT32_C(1) << 30;
	struct { int32_t x, m0; int shift; int32_t want; } c[] = {
		{1, p30, 0, 1},                  /* +0.5 → 1 */
		{-1, p30, 0, 0},                 /* −0.5 → 0 */
		{-3, p30, 0, -1},                /* −1.5 → −1 */
		{6, p30, 1, 2},                  /* 3/2 → 2 (away from zero) */
		{-6, p30, 1, -2},                /* −3/2 → −2 */
		{INT32_MIN, INT32_MAX, 0, -INT32_MAX},
		{INT32_MAX, INT32_MAX, 0, INT32_MAX - 1},
		{INT32_MAX, INT32_MAX, 31, 1},
		{INT32_MIN, INT32_MAX, 31, -1},
		{1, INT32_MAX, -31, INT32_MAX - 1},   /* 1·2^31 saturates to INT32_MAX */
		{-1, INT32_MAX, -31, -INT32_MAX},     /* −2^31 fits */
		{-2, INT32_MAX, -31, -INT32_MAX},     /* saturates to INT32_MIN */
		{3, 0, -5, 0},
	};
	for (int p = 0; p < NPATHS; p++) {
		if (!set_path(p))
			continue;
		for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
			int32_t x[8], out[8];
			for (int i = 0; i < 8; i++)
				x[i] = c[k].x;
			assert_int_equal(fp_requantize(c[k].x, c[k].m0, c[k].shift), c[k].want);
			requant_i32(out, x, 8, c[k].m0, c[k].shift);
			for (int i = 0; i < 8; i++)
				assert_int_equal(out[i], c[k].want);
		}
	}
}

/* requant_u8_rows: true values v = acc·2^acc_shift + bias (acc drawn, then
 * stored minus coef·box, wrapped, when there is a box term) against
 * ref_u8(v); channel counts that take the vector path (multiples of 16) and
 * the scalar one, negative shifts (saturating v·2^s) and ReLU clamps; and
 * per channel (m0_k, shift_k: each channel its own, the plans in vector
 * form where every one allows it). */
/* One random epilogue case of test_conv_rows and test_u16_rows, kout
 * channels and `rows` rows: per channel a bias within ±bias_even (even
 * channels) or ±bias_odd, a box coefficient, a shift of shift..shift + 2
 * (negative shifts as they are: they take the scalar path) and a
 * multiplier of any size; per row a box sum and accumulators within
 * 2^(30 − acc_shift) (within ±2^10 on even rows with small_even_rows);
 * v: each output's exact value before requantization, acc: what the
 * epilogue reads (with_coef: less the box term it adds back). */
struct rows_case {
	int32_t *bias, *coef, *shiftk, *m0k, *box, *acc;
	int64_t *v;
};

static void random_rows(struct rng *r, const struct rows_case *c, int rows, int kout, int shift,
			int acc_shift, int with_coef, int32_t bias_even, int32_t bias_odd,
			int small_even_rows)
{
	const int64_t amax = (INT64_C(1) << (30 - acc_shift)) - 1;
	for (int k = 0; k < kout; k++) {
		const int32_t b = k % 2 ? bias_odd : bias_even;
		c->bias[k] = (int32_t)rand_range(r, -b, b);
		c->coef[k] = (int32_t)rand_range(r, -255, 255);
		int sh = shift + (shift >= 0 ? k % 3 : 0);
		c->shiftk[k] = sh > 31 ? 31 : sh;
		c->m0k[k] = k % 4 == 3 ? (int32_t)rand_range(r, 0, 1 << 20)
			    : (int32_t)rand_range(r, INT64_C(1) << 30, INT32_MAX);
	}
	for (int row = 0; row < rows; row++) {
		c->box[row] = (int32_t)rand_range(r, 0, 255 * 576);
		for (int k = 0; k < kout; k++) {
			int64_t a = small_even_rows && row % 2 == 0 ? rand_range(r, -(1 << 10), 1 << 10)
								     : rand_range(r, -amax, amax);
			size_t e = (size_t)row * kout + k;
			c->v[e] = a * (INT64_C(1) << acc_shift) + c->bias[k];
			c->acc[e] = with_coef ? (int32_t)((uint32_t)a - (uint32_t)c->coef[k] *
							   (uint32_t)c->box[row])
					      : (int32_t)a;
		}
	}
}

static void test_conv_rows(void **state)
{
	(void)state;
	static const int kouts[] = { 16, 32, 48, 64, 10, 7 };
	static const int shifts[] = { -8, -3, -1, 0, 1, 5, 9, 12, 20, 31 };
	static const int acc_shifts[] = { 0, 1, 4, 16 };
	enum { ROWS = 37, MAXK = 64 };
	int32_t acc[ROWS * MAXK], bias[MAXK], coef[MAXK], box[ROWS];
	int32_t m0k[MAXK], shiftk[MAXK], buf[6 * MAXK];
	struct requant_plan plans[MAXK];
	struct requant_channels ch;
	int64_t v[ROWS * MAXK];
	uint8_t out[ROWS * MAXK + 16];
	const struct rows_case c = { bias, coef, shiftk, m0k, box, acc, v };
	int vector_runs = 0;
	struct rng r;
	rng_seed(&r, 17, 0);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		for (size_t ki = 0; ki < sizeof(kouts) / sizeof(kouts[0]); ki++)
			for (size_t si = 0; si < sizeof(shifts) / sizeof(shifts[0]); si++)
				for (size_t ai = 0; ai < sizeof(acc_shifts) / sizeof(acc_shifts[0]); ai++)
					for (int mode = 0; mode < 4; mode++) {
			const int with_coef = mode % 2, pc = mode / 2;
			const int kout = kouts[ki], as = acc_shifts[ai];
			int32_t m0 = (int32_t)rand_range(&r, INT64_C(1) << 30, INT32_MAX);
			int32_t z = (int32_t)rand_range(&r, 0, 255), lo = with_coef ? z : 0;
			random_rows(&r, &c, ROWS, kout, shifts[si], as, with_coef, 1 << 29, 1 << 29, 0);
			for (int k = 0; k < kout; k++)
				requant_plan_make(&plans[k], m0k[k], shiftk[k], z, lo, 255);
			requant_channels_make(&ch, plans, kout, buf);
			vector_runs += pc && ch.ok && kout % 16 == 0;
			memset(out, 0xee, sizeof(out));
			struct requant_rows rp = {
				.bias = bias, .coef = with_coef ? coef : NULL, .box = box,
				.acc_shift = as, .m0 = m0, .shift = shifts[si],
				.m0_k = pc ? m0k : NULL, .shift_k = pc ? shiftk : NULL,
				.z = z, .lo = lo, .hi = 255, .channels = pc ? &ch : NULL,
			};
			requant_u8_rows(out, acc, ROWS, kout, &rp);
			for (size_t e = 0; e < (size_t)ROWS * kout; e++) {
				const int k = (int)(e % (size_t)kout);
				uint8_t want = pc ? ref_u8((int32_t)v[e], m0k[k], shiftk[k], z, lo, 255)
						  : ref_u8((int32_t)v[e], m0, shifts[si], z, lo, 255);
				if (out[e] != want)
					fail_msg("%s: requant_u8_rows kout %d shift %d acc_shift %d coef %d "
						 "per channel %d: out[%zu] = %d, want %d", path, kout,
						 pc ? shiftk[k] : shifts[si], as, with_coef, pc, e, out[e],
						 want);
			}
			assert_int_equal(out[(size_t)ROWS * kout], 0xee);
		}
	}
	assert_true(vector_runs > 0);   /* the per-channel vector path ran */
}

/* requant_u8_rows with values dense around every output level: v near
 * the requantized value's ties and steps T/2 for T over the clamp range
 * and a little beyond (the clamp-first path's bounds A and B, requant.c),
 * for 8- and 4-bit ranges, ReLU clamps, lo = hi, zero points inside and
 * outside 0..255, every shift −4..31, acc_shift 0 and 3, with and without
 * a box term; and per channel, each channel with its own multiplier and a
 * shift of shift..shift + 2. */
static void test_conv_rows_dense(void **state)
{
	(void)state;
	enum { ROWS = 23, KOUT = 32 };
	int32_t acc[ROWS * KOUT], bias[KOUT], coef[KOUT], box[ROWS];
	int32_t m0k[KOUT], shiftk[KOUT], buf[6 * KOUT];
	struct requant_plan plans[KOUT];
	struct requant_channels ch;
	int32_t v[ROWS * KOUT];
	uint8_t out[ROWS * KOUT + 16];
	static const int32_t m0s[] = { 0, 1, 1 << 30, INT32_MAX, -1, -1, -1 };
	struct rng r;
	rng_seed(&r, 23, 0);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		for (int shift = -4; shift <= 31; shift++)
			for (size_t mi = 0; mi < sizeof(m0s) / sizeof(m0s[0]); mi++)
				for (int kinds = 0; kinds < 12; kinds++) {
			const int kind = kinds % 6, pc = kinds / 6;
			const int32_t m0 = m0s[mi] >= 0 ? m0s[mi]
					   : (int32_t)rand_range(&r, INT64_C(1) << 30, INT32_MAX);
			const int hi = kind < 3 ? 255 : 15;
			const int32_t z = kind == 2 ? -300 + (int32_t)rng_below(&r, 900)
					: (int32_t)rng_below(&r, (uint32_t)hi + 1);
			const int32_t lo = kind == 1 || kind == 4 ? (z < 0 ? 0 : z > hi ? hi : z)
					 : kind == 5 ? hi / 2 : 0;
			const int32_t top = kind == 5 ? lo : hi;
			const int as = kind % 2 ? 3 : 0, with_coef = kind >= 3;
			for (int k = 0; k < KOUT; k++) {
				bias[k] = (int32_t)rand_range(&r, -1000, 1000);
				coef[k] = (int32_t)rand_range(&r, -255, 255);
				m0k[k] = k % 2 ? m0 : (int32_t)rand_range(&r, INT64_C(1) << 30, INT32_MAX);
				shiftk[k] = shift + k % 3 > 31 ? 31 : shift + k % 3;
				requant_plan_make(&plans[k], m0k[k], shiftk[k], z, lo, top);
			}
			requant_channels_make(&ch, plans, KOUT, buf);
			for (int row = 0; row < ROWS; row++) {
				box[row] = (int32_t)rand_range(&r, 0, 255 * 9);
				for (int k = 0; k < KOUT; k++) {
					const int32_t m = pc ? m0k[k] : m0;
					const int sh = pc ? shiftk[k] : shift;
					/* r = T/2 around [lo − z − 3, top − z + 3] */
					int64_t T = 2 * rand_range(&r, (int64_t)lo - z - 3,
								   (int64_t)top - z + 3) +
						    (int64_t)rng_below(&r, 2);
					int64_t want_v = near_value(&r, m, sh, T);
					/* a·2^as + bias within int32 (|bias| <= 1000) */
					const int64_t amax = (INT32_MAX - 1000) >> as;
					int64_t a = (want_v - bias[k]) >> as;   /* floor */
					a = a > amax ? amax : a < -amax ? -amax : a;
					size_t e = (size_t)row * KOUT + k;
					v[e] = (int32_t)(a * (INT64_C(1) << as) + bias[k]);
					acc[e] = with_coef ? (int32_t)((uint32_t)a - (uint32_t)coef[k] *
									   (uint32_t)box[row])
							   : (int32_t)a;
				}
			}
			memset(out, 0xee, sizeof(out));
			struct requant_plan plan;   /* every other case: the caller's plan */
			requant_plan_make(&plan, m0, shift, z, lo, top);
			struct requant_rows rp = {
				.bias = bias, .coef = with_coef ? coef : NULL, .box = box,
				.acc_shift = as, .m0 = m0, .shift = shift,
				.m0_k = pc ? m0k : NULL, .shift_k = pc ? shiftk : NULL,
				.z = z, .lo = lo, .hi = top, .plan = mi % 2 ? &plan : NULL,
				.channels = pc ? &ch : NULL,
			};
			requant_u8_rows(out, acc, ROWS, KOUT, &rp);
			for (size_t e = 0; e < (size_t)ROWS * KOUT; e++) {
				const int k = (int)(e % KOUT);
				uint8_t want = pc ? ref_u8(v[e], m0k[k], shiftk[k], z, lo, top)
						  : ref_u8(v[e], m0, shift, z, lo, top);
				if (out[e] != want)
					fail_msg("%s: requant_u8_rows (dense) m0 %d shift %d z %d [%d, %d] "
						 "acc_shift %d coef %d: v %d: got %d, want %d", path, m0,
						 shift, z, lo, top, as, with_coef, v[e], out[e], want);
			}
			assert_int_equal(out[(size_t)ROWS * KOUT], 0xee);
		}
	}
}

/* A multiplier m < REQUANT_ADD_MAX_MULT and an s in 0..510 (a sum a + b of
 * bytes) with s·m >= 2^30 and s·m ≡ 2^23 − 1 (mod 2^24): with both
 * zero points 0 (or 255: −s·m), the add's sum at shift 24 lies one step
 * from a tie beyond ±2^30, where a sign term taken from the wrong bit
 * would round it the other way. */
static int32_t big_near_tie_mult(void)
{
	for (uint32_t s = 257; s <= 509; s += 2) {
		uint32_t inv = s;   /* s^−1 mod 2^32 by Newton's iteration */
		for (int i = 0; i < 5; i++)
			inv *= 2 - s * inv;
		const uint32_t m = (((1u << 23) - 1) * inv) & ((1u << 24) - 1);
		if (m < REQUANT_ADD_MAX_MULT && (uint64_t)s * m >= (1u << 30))
			return (int32_t)m;
	}
	fail_msg("no multiplier near a tie");
	return 0;
}

/* requant_add_u8 on every pair (a, b) of bytes against its definition
 * written out with fixedpoint.h's fp_div_pot, for zero points at both ends
 * and inside, multipliers 0, 1, 2^22 − 1 (the largest: sums near ±2^31)
 * and random, every shift 0..24 (sums on exact ties of the division
 * included: multipliers 2^(shift−1) make every odd sum one, to shift 22;
 * and sums one step from a tie beyond ±2^30, big_near_tie_mult), ReLU,
 * and lengths and offsets that leave scalar tails. */
static void test_add(void **state)
{
	(void)state;
	enum { N = 65536 };
	uint8_t *a = malloc(N + 32), *b = malloc(N + 32), *out = malloc(N + 32);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(out);
	for (int i = 0; i < N; i++) {
		a[i] = (uint8_t)(i & 255);
		b[i] = (uint8_t)(i >> 8);
	}
	struct rng r;
	rng_seed(&r, 23, 0);
	const int32_t big = REQUANT_ADD_MAX_MULT - 1;
	struct { int32_t za, zb, ma, mb; } c[] = {
		{ 0, 255, big, big }, { 255, 0, big, big }, { 0, 0, big, 0 }, { 128, 127, 1, 1 },
		{ 17, 200, -1, -1 }, { 3, 250, -1, -1 }, { 255, 255, 0, 0 }, { 64, 192, -2, -2 },
		{ 0, 0, -3, -3 }, { 255, 255, -3, -3 },
	};
	const int32_t near_tie = big_near_tie_mult();
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++)
			for (int shift = 0; shift <= REQUANT_ADD_MAX_SHIFT; shift++) {
				int32_t tie = shift == 0 ? 1 : shift <= 22 ? 1 << (shift - 1) : big;
				struct requant_add q = {
					.za = c[k].za, .zb = c[k].zb, .shift = shift,
					/* -1: random; -2: 2^(shift−1), odd sums are
					 * ties; -3: near_tie */
					.ma = c[k].ma == -1 ? (int32_t)rand_range(&r, 0, big) :
					      c[k].ma == -2 ? tie : c[k].ma == -3 ? near_tie : c[k].ma,
					.mb = c[k].mb == -1 ? (int32_t)rand_range(&r, 0, big) :
					      c[k].mb == -2 ? tie : c[k].mb == -3 ? near_tie : c[k].mb,
					.z = (int32_t)rand_range(&r, 0, 255),
					.hi = shift % 3 == 2 ? 200 : 255,
				};
				q.lo = shift % 2 ? (q.z < q.hi ? q.z : q.hi) : 0;
				size_t off = (size_t)shift % 5, n = N - off - (size_t)(shift % 4) * 3;
				memset(out, 0xee, N + 32);
				requant_add_u8(out + off, a + off, b + off, n, &q);
				for (size_t i = 0; i < n; i++) {
					int64_t sum = (int64_t)(a[off + i] - q.za) * q.ma +
						      (int64_t)(b[off + i] - q.zb) * q.mb;
					assert_true(sum >= INT32_MIN && sum <= INT32_MAX);
					int64_t v = q.z + fp_div_pot((int32_t)sum, q.shift);
					uint8_t want = (uint8_t)(v < q.lo ? q.lo : v > q.hi ? q.hi : v);
					if (out[off + i] != want)
						fail_msg("%s: requant_add_u8 case %zu shift %d: a %d b %d: "
							 "got %d, want %d", path, k, shift, a[off + i],
							 b[off + i], out[off + i], want);
				}
				assert_int_equal(out[off + n], 0xee);
				if (off)
					assert_int_equal(out[off - 1], 0xee);
			}
	}
	free(a);
	free(b);
	free(out);
}

/* 16-bit residual branches (requant_wide.c). requant_u16_rows against the
 * definition, clamp(z + fp_requantize(v), lo, hi) stored as uint16, for
 * zero points and clamps over the whole 16-bit range, per tensor
 * (requant_i32's vector path, and with a plan AVX-512's clamp-first
 * loop) and per channel (with the plans in vector form too), with and
 * without a box term, in one call over rows whose elements do not divide
 * the 1024-element pieces it works in. */
static void test_u16_rows(void **state)
{
	(void)state;
	static const int kouts[] = { 16, 7, 64 };
	static const int shifts[] = { -8, -1, 0, 1, 5, 12, 20, 31 };
	static const int acc_shifts[] = { 0, 4, 16 };
	enum { ROWS = 200, MAXK = 64 };
	int32_t *acc = malloc(ROWS * MAXK * sizeof(int32_t)), bias[MAXK], coef[MAXK], box[ROWS];
	int64_t *v = malloc(ROWS * MAXK * sizeof(int64_t));
	uint16_t *out = malloc((ROWS * MAXK + 1) * sizeof(uint16_t));
	int32_t m0k[MAXK], shiftk[MAXK], buf[6 * MAXK];
	struct requant_plan plans[MAXK];
	struct requant_channels ch;
	assert_non_null(acc);
	assert_non_null(v);
	assert_non_null(out);
	const struct rows_case c = { bias, coef, shiftk, m0k, box, acc, v };
	int spread = 0;   /* outputs strictly inside (lo, hi) */
	int plan_runs = 0, channel_runs = 0;
	struct rng r;
	rng_seed(&r, 29, 0);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		for (size_t ki = 0; ki < sizeof(kouts) / sizeof(kouts[0]); ki++)
			for (size_t si = 0; si < sizeof(shifts) / sizeof(shifts[0]); si++)
				for (size_t ai = 0; ai < sizeof(acc_shifts) / sizeof(acc_shifts[0]); ai++)
					for (int mode = 0; mode < 4; mode++) {
			const int with_coef = mode % 2, pc = mode / 2;
			const int kout = kouts[ki], as = acc_shifts[ai], rows = ROWS - (int)si;
			int32_t m0 = (int32_t)rand_range(&r, INT64_C(1) << 30, INT32_MAX);
			int32_t z = (int32_t)rand_range(&r, 0, 65535);
			int32_t lo = with_coef ? z : 0;
			int32_t hi = mode == 3 ? (int32_t)rand_range(&r, lo, 65535) : 65535;
			/* small values on even channels and rows, so that outputs
			 * land inside the 16-bit range and not only at its ends */
			random_rows(&r, &c, rows, kout, shifts[si], as, with_coef, 1 << 12, 1 << 29, 1);
			memset(out, 0xee, (ROWS * MAXK + 1) * sizeof(uint16_t));
			/* per tensor, every other case with a plan: AVX-512's
			 * clamp-first loop where the plan allows it */
			struct requant_plan plan;
			requant_plan_make(&plan, m0, shifts[si], z, lo, hi);
			const int planned = ai % 2 == 0;
			plan_runs += planned && !pc && plan.ok && kout % 16 == 0;
			/* per channel, the same cases with the plans in vector form */
			for (int k = 0; k < kout; k++)
				requant_plan_make(&plans[k], m0k[k], shiftk[k], z, lo, hi);
			requant_channels_make(&ch, plans, kout, buf);
			channel_runs += planned && pc && ch.ok && kout % 16 == 0;
			struct requant_rows rp = {
				.bias = bias, .coef = with_coef ? coef : NULL, .box = box,
				.acc_shift = as, .m0 = m0, .shift = shifts[si],
				.m0_k = pc ? m0k : NULL, .shift_k = pc ? shiftk : NULL,
				.z = z, .lo = lo, .hi = hi, .plan = planned ? &plan : NULL,
				.channels = planned ? &ch : NULL,
			};
			requant_u16_rows(out, acc, (size_t)rows, kout, &rp);
			for (size_t e = 0; e < (size_t)rows * kout; e++) {
				const int k = (int)(e % (size_t)kout);
				int64_t t = (int64_t)z + (pc ? fp_requantize((int32_t)v[e], m0k[k], shiftk[k])
							     : fp_requantize((int32_t)v[e], m0, shifts[si]));
				uint16_t want = (uint16_t)(t < lo ? lo : t > hi ? hi : t);
				spread += want > lo && want < hi;
				if (out[e] != want)
					fail_msg("%s: requant_u16_rows kout %d shift %d acc_shift %d coef "
						 "%d per channel %d: out[%zu] = %d, want %d", path, kout,
						 pc ? shiftk[k] : shifts[si], as, with_coef, pc, e, out[e],
						 want);
			}
			assert_int_equal(out[(size_t)rows * kout], 0xeeee);
		}
	}
	assert_true(spread > 100000);
	assert_true(plan_runs > 50);
	assert_true(channel_runs > 20);
	free(acc);
	free(v);
	free(out);
}

/* requant_add_wide against the definition for every storage pair (8 or
 * 16 bits each, and 12 and 9): with a wide input the int64 sum, with the
 * largest multipliers (2^31 − 1) and zero points at both ends of each
 * range, every shift 0..62; narrow pairs go to requant_add_u8. */
static void test_add_wide(void **state)
{
	(void)state;
	enum { N = 4099 };
	static const int widths[][2] = { { 16, 8 }, { 8, 16 }, { 16, 16 }, { 12, 4 }, { 9, 9 },
					 { 4, 16 }, { 8, 8 } };
	uint16_t *a = malloc(N * sizeof(uint16_t)), *b = malloc(N * sizeof(uint16_t));
	uint8_t *a8 = malloc(N), *b8 = malloc(N), *out = malloc(N + 1);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(a8);
	assert_non_null(b8);
	assert_non_null(out);
	struct rng r;
	rng_seed(&r, 31, 0);
	for (int p = 0; p < NPATHS; p++) {
		const char *path = set_path(p);
		if (!path)
			continue;
		for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
			const int ab = widths[w][0], bb = widths[w][1], wide = ab > 8 || bb > 8;
			const int32_t amax = (1 << ab) - 1, bmax = (1 << bb) - 1;
			const int32_t big = wide ? INT32_MAX : REQUANT_ADD_MAX_MULT - 1;
			const int top = wide ? REQUANT_ADD_WIDE_MAX_SHIFT : REQUANT_ADD_MAX_SHIFT;
			for (int shift = 0; shift <= top; shift++)
				for (int c = 0; c < 4; c++) {
			for (int i = 0; i < N; i++) {
				a[i] = (uint16_t)(i < 2 ? i * amax : rand_range(&r, 0, amax));
				b[i] = (uint16_t)(i < 2 ? (1 - i) * bmax : rand_range(&r, 0, bmax));
				a8[i] = (uint8_t)a[i], b8[i] = (uint8_t)b[i];
			}
			/* c 0, 1: the largest multipliers, zero points at the ends;
			 * 2: random; 3: multipliers that put the sum near 2^shift */
			const int32_t near = shift < 31 ? (int32_t)(1 << (shift > 16 ? shift - 16 : 0)) : big;
			struct requant_add q = {
				.za = c == 0 ? 0 : c == 1 ? amax : (int32_t)rand_range(&r, 0, amax),
				.zb = c == 0 ? bmax : c == 1 ? 0 : (int32_t)rand_range(&r, 0, bmax),
				.ma = c < 2 ? big : c == 2 ? (int32_t)rand_range(&r, 0, big) : near,
				.mb = c < 2 ? big : c == 2 ? (int32_t)rand_range(&r, 0, big) : near,
				.shift = shift,
				.z = (int32_t)rand_range(&r, 0, 255),
				.hi = shift % 3 == 2 ? 200 : 255,
			};
			q.lo = shift % 2 ? (q.z < q.hi ? q.z : q.hi) : 0;
			memset(out, 0xee, N + 1);
			requant_add_wide(out, ab > 8 ? (const void *)a : a8, ab,
					 bb > 8 ? (const void *)b : b8, bb, N, &q);
			for (int i = 0; i < N; i++) {
				/* the definition in 128 bits: floor and ties away from 0 */
				__int128 sum = (__int128)(a[i] - q.za) * q.ma + (__int128)(b[i] - q.zb) * q.mb;
				__int128 d = (__int128)1 << shift, fl = sum >= 0 ? sum / d : -((-sum + d - 1) / d);
				__int128 rem = sum - fl * d, twice = 2 * rem;
				__int128 rounded = fl + (twice > d || (twice == d && sum >= 0));
				__int128 v = q.z + rounded;
				uint8_t want = (uint8_t)(v < q.lo ? q.lo : v > q.hi ? q.hi : v);
				if (out[i] != want)
					fail_msg("%s: requant_add_wide %d+%d bits shift %d case %d: a %d "
						 "b %d: got %d, want %d", path, ab, bb, shift, c, a[i],
						 b[i], out[i], want);
			}
			assert_int_equal(out[N], 0xee);
		}
		}
	}
	free(a);
	free(b);
	free(a8);
	free(b8);
	free(out);
}

/* The automatic path is the best the CPU has, capped by PCQ_REQUANT;
 * forcing a path the CPU lacks fails and changes nothing. */
static void test_path_names(void **state)
{
	(void)state;
	static const char *const names[] = { "scalar", "avx2", "avx512" };
	int best = REQUANT_SCALAR;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		best = REQUANT_AVX2;
	if (best == REQUANT_AVX2 && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		best = REQUANT_AVX512;
#endif
	int want = best;
	const char *env = getenv("PCQ_REQUANT");
	for (int p = REQUANT_SCALAR; env && p < best; p++)
		if (!strcmp(env, names[p]))
			want = p;
	assert_int_equal(requant_force(REQUANT_SCALAR), 0);
	assert_string_equal(requant_impl_name(), "scalar");
	for (int p = REQUANT_AVX2; p <= REQUANT_AVX512; p++) {
		assert_int_equal(requant_force(p), p <= best ? 0 : -1);
		assert_string_equal(requant_impl_name(), names[p <= best ? p : best]);
	}
	assert_int_equal(requant_force(REQUANT_AUTO), 0);
	assert_string_equal(requant_impl_name(), names[want]);
	print_message("requant: automatic path %s\n", names[want]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_names),
		cmocka_unit_test_teardown(test_known_values, teardown_path),
		cmocka_unit_test_teardown(test_i32_all_shifts, teardown_path),
		cmocka_unit_test_teardown(test_u8_clamps, teardown_path),
		cmocka_unit_test_teardown(test_div_pot, teardown_path),
		cmocka_unit_test_teardown(test_lengths, teardown_path),
		cmocka_unit_test_teardown(test_full_range, teardown_path),
		cmocka_unit_test_teardown(test_conv_rows, teardown_path),
		cmocka_unit_test_teardown(test_conv_rows_dense, teardown_path),
		cmocka_unit_test_teardown(test_add, teardown_path),
		cmocka_unit_test_teardown(test_u16_rows, teardown_path),
		cmocka_unit_test_teardown(test_add_wide, teardown_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
