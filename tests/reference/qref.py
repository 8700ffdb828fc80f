"""An independent reference of the integer network (SPEC §8-§9,
docs/QUANTIZATION.md), written from the definitions and not from the C
engine: numpy int64 arrays in N, C, H, W order, convolutions by direct
summation of (q_in - Z1)(q_w - Z2) over each window (no zero-point
expansion, no im2col), gemmlowp's helpers on Python's exact integers
semantics. The one place floats appear is as a carrier: each tap's sum over
input channels (and a linear layer's sum) runs as a float64 BLAS product of
integers, exact because every term and partial sum is an integer below 2^53
(exact_dot asserts the bound); the result goes straight back to int64. That
keeps a check of AlexNetSmall to seconds instead of half a minute.

Usage: qref.py QUANTIZED_MODEL PREDICTIONS [--write FIXTURE]
PREDICTIONS is what `pcq-infer QUANTIZED --predictions FILE
--save-quantized-input` writes: the quantized input images
('quantized_input', u8 N x C x H x W), each image's cluster ('cluster', or
all 0) and the engine's output integers ('output', u8 N x classes). Prints
how many images match exactly and exits 1 on any difference. With --write,
it also writes FIXTURE, a 'tensors' file with the inputs, clusters and the
reference's output integers ('expected'), for tests/unit/test_qengine.c."""
import os
import sys

import msgpack
import numpy as np

DT = {'u8': np.uint8, 'i8': np.int8, 'i32': np.int32, 'i64': np.int64, 'f32': np.float32}
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def load(path):
    root = msgpack.unpackb(open(path, 'rb').read(), raw=False)
    tensors = {}
    for t in root['tensors']:
        a = np.frombuffer(t['data'], dtype=np.dtype(DT[t['dtype']]).newbyteorder('<'))
        tensors[t['name']] = a.reshape(t['shape'])
    return root, tensors


def high_mul(a, b):
    """SaturatingRoundingDoublingHighMul on int64 arrays of int32 values."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    v = ab + nudge
    q = np.where(v >= 0, v // (1 << 31), -((-v) // (1 << 31)))   # truncate toward 0
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, q)


def div_pot(x, e):
    """RoundingDivideByPOT: nearest, ties away from zero."""
    mask = (1 << e) - 1
    floor = x // (1 << e)
    remainder = x - floor * (1 << e)
    threshold = (mask >> 1) + (x < 0)
    return floor + (remainder > threshold)


def requantize(acc, m0, shift):
    """acc * m0 * 2^-31 * 2^-shift with gemmlowp's roundings; m0, shift per row."""
    left = np.maximum(-shift, 0)
    x = np.clip(acc * (1 << left), INT32_MIN, INT32_MAX)
    hm = high_mul(x, m0)
    out = np.empty_like(hm)
    for s in np.unique(shift):
        sel = shift == s
        out[sel] = div_pot(hm[sel], int(max(s, 0)))
    return out


def per_image(v, cl, ndim):
    """Per-cluster vector v (K) as a per-image array broadcastable to ndim."""
    return v.astype(np.int64)[cl].reshape((-1,) + (1,) * (ndim - 1))


def per_image_or_channel(v, cl, ndim):
    """A multiplier or shift: per cluster (K), or per cluster and output
    channel (K, C) with per-channel weights, broadcastable to (N, C, ...)."""
    if v.ndim == 2:
        return v.astype(np.int64)[cl].reshape(v[cl].shape + (1,) * (ndim - 2))
    return per_image(v, cl, ndim)


def weights(t, name):
    """q_w - Z2, with Z2 per tensor (1) or per output channel (C_out)."""
    w = t[name + '.weight'].astype(np.int64)
    z2 = t[name + '.weight_zero'].astype(np.int64)
    return w - z2.reshape((-1,) + (1,) * (w.ndim - 1))


def exact_dot(a, b, axes):
    """np.tensordot of int64 arrays, computed in float64 and exact: with
    |a|, |b| at most A, B and L terms per sum, |any partial sum| <= L·A·B."""
    terms = int(np.prod([a.shape[i] for i in axes[0]]))
    bound = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * terms
    assert bound < 2**53, 'exact_dot: sums could exceed 2^53'
    return np.tensordot(a.astype(np.float64), b.astype(np.float64), axes).astype(np.int64)


def conv(x, cl, t, p, name, qmax):
    n, c, h, w = x.shape
    k, s, pad = p['kernel'], p['stride'], p['pad']
    wq = weights(t, name)
    z1 = per_image(t[name + '.in_zero'], cl, 4)
    xp = np.broadcast_to(z1, (n, c, h + 2 * pad, w + 2 * pad)).copy()
    xp[:, :, pad:pad + h, pad:pad + w] = x
    xp -= z1
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    acc = np.zeros((n, oh, ow, wq.shape[0]), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            win = xp[:, :, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
            acc += exact_dot(win, wq[:, :, ky, kx], ([1], [1]))   # n, oh, ow, o
    acc = acc.transpose(0, 3, 1, 2)
    return finish(acc, cl, t, p, name, qmax)


def linear(x, cl, t, p, name, qmax):
    wq = weights(t, name)
    z1 = per_image(t[name + '.in_zero'], cl, 2)
    acc = exact_dot(x.reshape(x.shape[0], -1) - z1, wq, ([1], [1]))
    return finish(acc, cl, t, p, name, qmax)


def finish(acc, cl, t, p, name, qmax):
    """acc·2^acc_shift + bias, requantized, clamped (at Z3 under a ReLU)."""
    nd = acc.ndim
    bias = t[name + '.bias'].astype(np.int64)[cl].reshape(acc.shape[:2] + (1,) * (nd - 2))
    v = acc * (1 << p.get('acc_shift', 0)) + bias
    assert v.min() >= INT32_MIN and v.max() <= INT32_MAX, name + ': int32 overflow'
    m0 = np.broadcast_to(per_image_or_channel(t[name + '.multiplier'], cl, nd), v.shape)
    sh = np.broadcast_to(per_image_or_channel(t[name + '.shift'], cl, nd), v.shape)
    z3 = per_image(t[name + '.out_zero'], cl, nd)
    out = z3 + requantize(v, m0, sh)
    return np.clip(out, z3 if p['relu'] else 0, qmax)


def add(a, b, cl, t, p, name, qmax, wide):
    """wide: an input has more than 8 bits, and the engine sums in int64."""
    s = 0
    for part, x in (('a', a), ('b', b)):
        z = per_image(t[f'{name}.{part}_zero'], cl, 4)
        m = per_image(t[f'{name}.{part}_multiplier'], cl, 4)
        s = s + (x - z) * m
    assert (np.abs(s) < (2**48 if wide else 2**31)).all(), name + ': sum beyond its bound'
    e = np.broadcast_to(per_image(t[name + '.shift'], cl, 4), s.shape)
    z3 = per_image(t[name + '.out_zero'], cl, 4)
    return np.clip(z3 + div_pot(s, e), z3 if p['relu'] else 0, qmax)


def avgpool(x, cl, t, p, name, qmax):
    n, c = x.shape[:2]
    pixels = x.shape[2] * x.shape[3]
    z1 = per_image(t[name + '.in_zero'], cl, 2)
    acc = (x.sum(axis=(2, 3)) - pixels * z1) * (1 << p['acc_shift'])
    m0 = np.broadcast_to(per_image(t[name + '.multiplier'], cl, 2), acc.shape)
    sh = np.broadcast_to(per_image(t[name + '.shift'], cl, 2), acc.shape)
    z3 = per_image(t[name + '.out_zero'], cl, 2)
    return np.clip(z3 + requantize(acc, m0, sh), 0, qmax).reshape(n, c, 1, 1)


def maxpool(x, p):
    n, c, h, w = x.shape
    k, s, pad = p['kernel'], p['stride'], p['pad']
    xp = np.full((n, c, h + 2 * pad, w + 2 * pad), -1, dtype=np.int64)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    out = np.full((n, c, oh, ow), -1, dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            out = np.maximum(out, xp[:, :, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s])
    return out


def write_fixture(path, x, cl, want, model_path):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
    import pcqfile
    pcqfile.write(path, 'tensors', [('quantized_input', x.astype(np.uint8)),
                                    ('cluster', cl.astype(np.int32)),
                                    ('expected', want.astype(np.uint8))],
                  attrs={'model': os.path.basename(model_path), 'reference': 'tests/reference/qref.py'})


def bits_summary(root):
    """'4 bits', or '4 bits, 8 at the first and last layers', and so on."""
    a = root['attrs']
    edge = a.get('first_last_bits', a['bits'])
    return (f"{a['bits']} bits" + (f', {edge} at the first and last layers' if edge != a['bits'] else '')
            + (f", {a['residual_bits']}-bit residual branches" if 'residual_bits' in a else '')
            + (', weights per channel' if a.get('per_channel') else ''))


def run(model_path, pred_path, fixture=None):
    root, t = load(model_path)
    _, pred = load(pred_path)
    x = pred['quantized_input'].astype(np.int64)
    cl = pred['cluster'].astype(np.int64) if 'cluster' in pred else np.zeros(len(x), np.int64)
    outs, bits = {}, {}
    for layer in root['graph']:
        op, name, p = layer['op'], layer['name'], layer.get('params', {})
        ins = [outs.get(i) for i in layer['inputs']]
        bits[name] = p['bits'] if 'bits' in p else bits[layer['inputs'][0]]
        # each requantizing op's own bits (mixed precision); pools keep their input's
        qmax = (1 << p['bits']) - 1 if 'bits' in p else None
        if op in ('qconv2d', 'qlinear'):
            wmax = (1 << p.get('weight_bits', p['bits'])) - 1
            assert int(t[name + '.weight'].max()) <= wmax, name + ': weight beyond its bits'
        if op == 'quantize':
            assert int(x.max()) <= qmax, 'input beyond its bits'
            y = x
        elif op == 'qconv2d':
            y = conv(ins[0], cl, t, p, name, qmax)
        elif op == 'qlinear':
            y = linear(ins[0], cl, t, p, name, qmax).reshape(len(x), -1, 1, 1)
        elif op == 'qadd':
            wide = max(bits[i] for i in layer['inputs']) > 8
            y = add(ins[0], ins[1], cl, t, p, name, qmax, wide)
        elif op == 'qavgpool':
            y = avgpool(ins[0], cl, t, p, name, qmax)
        elif op == 'global_avgpool2d':
            s = ins[0].sum(axis=(2, 3))
            pixels = ins[0].shape[2] * ins[0].shape[3]
            y = ((s + pixels // 2) // pixels).reshape(s.shape + (1, 1))
        elif op == 'maxpool2d':
            y = maxpool(ins[0], p)
        elif op == 'flatten':
            y = ins[0].reshape(len(x), -1, 1, 1)
        else:
            raise SystemExit(f'qref.py: unknown op {op}')
        assert int(y.min()) >= 0 and int(y.max()) < 1 << bits[name], name + ': beyond its bits'
        outs[name] = y
    want = y.reshape(len(x), -1)
    if fixture:
        write_fixture(fixture, x, cl, want, model_path)
    got = pred['output'].astype(np.int64)
    same = (want == got).all(axis=1)
    print(f'qref: {int(same.sum())}/{len(x)} images with identical output integers '
          f'({bits_summary(root)}, {int(cl.max()) + 1 if len(cl) else 0} clusters used)')
    if not same.all():
        i = int(np.argmin(same))
        print(f'qref: first difference, image {i}: engine {got[i].tolist()}, '
              f'reference {want[i].tolist()}')
        return 1
    return 0


if __name__ == '__main__':
    args = sys.argv[1:]
    fixture = None
    if len(args) == 4 and args[2] == '--write':
        fixture = args[3]
        args = args[:2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    sys.exit(run(args[0], args[1], fixture))
