# pcq-quantize and integer-only pcq-infer: for ResNet20 and AlexNetSmall,
# at 4 and 8 bits, with one cluster (QAT) and three (PCQ), and at 4 bits
# with 8-bit first and last layers (mixed precision) and weights quantized
# per output channel, and at 8 bits with per-channel weights on the
# symmetric grid, and ResNet20 with 16-bit residual adds, the engine's
# output integers equal those of tests/reference/qref.py — an independent
# integer implementation — for every image of a test batch; integer and
# simulated accuracy agree; bad inputs get one-line errors.
. tests/e2e/lib.sh
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
py=${PYTHON_TORCH:-/usr/bin/python3}
$py -c 'import numpy, msgpack' 2>/dev/null || skip "no numpy/msgpack for $py (make deps)"
export SOURCE_DATE_EPOCH=1700000000

pcq-kmeans fit --data "$fm" --limit 2000 --clusters 3 --seed 2 -o "$T/km.msgpack" 2>/dev/null
# AlexNetSmall does not learn in a budget like this (about 10% top-1; its
# agreement check below is weak), so it gets fewer images: what it is here
# for is qref.py's check of max pools, linear layers and wide convolutions.
for arch in resnet20 alexnet-small; do
	n=1500 tune=600
	[ "$arch" = alexnet-small ] && n=600 tune=300
	pcq-train --arch "$arch" --data "$fm" --limit $n --epochs 1 --batch 64 --lr 0.02 \
		--seed 5 -o "$T/$arch.msgpack" 2>/dev/null
	for setting in "4 3" "8 1" "4 3 8 pc" "8 3 8 pcs"; do
		set -- $setting
		bits=$1 k=$2 edge=${3:-} pc= sym= km=
		case ${4:-} in pc*) pc=--per-channel ;; esac
		case ${4:-} in *s) sym=--symmetric ;; esac
		[ "$k" -gt 1 ] && km="--kmeans $T/km.msgpack"
		tag=$arch-$bits-$k${edge:+-$edge}${4:+-$4}
		pcq-fuse "$T/$arch.msgpack" --bit "$bits" ${edge:+--first-last-bit $edge} $pc $sym \
			--clusters "$k" -o - |
			pcq-train - --data "$fm" --limit $tune --batch 32 $km -o "$T/$tag.fused" 2>/dev/null
		pcq-quantize "$T/$tag.fused" -o "$T/$tag.int"
		pcq-infer "$T/$tag.int" --data "$fm" --limit 48 $km --json \
			--predictions "$T/$tag.pred" --save-quantized-input >"$T/$tag.json"
		[ "$(json "$T/$tag.json" "j['mode']")" = integer ] || fail "$tag: mode"
		$py tests/reference/qref.py "$T/$tag.int" "$T/$tag.pred" >"$T/qref.out" ||
			fail "$tag: $(cat "$T/qref.out")"
		echo "$tag: $(cat "$T/qref.out")"
		if [ -n "$edge" ]; then
			# the widened layers as the integer model has them: the input,
			# the first layer's weights, the last's weights and logits;
			# every weighted layer's weights per channel; on the symmetric
			# grid, every weight zero point 2^(b-1) and every code q with
			# |q - Z2| <= 2^(b-1) - 1, the largest reached in each channel
			$py - "$T/$tag.int" "$edge" "$bits" "$sym" <<'PY' || fail "$tag: layer bits"
import sys, msgpack, numpy as np
f = msgpack.unpackb(open(sys.argv[1], 'rb').read(), raw=False)
g = f['graph']
edge, inner, sym = int(sys.argv[2]), int(sys.argv[3]), bool(sys.argv[4])
w = [l for l in g if l['op'] in ('qconv2d', 'qlinear')]
got = (g[0]['params']['bits'], w[0]['params']['weight_bits'], w[-1]['params']['weight_bits'],
       w[-1]['params']['bits'], w[1]['params']['weight_bits'], w[0]['params']['bits'])
assert got == (edge,) * 4 + (inner,) * 2, got
assert all(l['params'].get('weight_per_channel') == 1 for l in w)
assert all(bool(l['params'].get('weight_symmetric')) == sym for l in w)
t = {t['name']: t for t in f['tensors']}
for l in w if sym else []:
    b, name = l['params']['weight_bits'], l['name']
    z = np.frombuffer(t[name + '.weight_zero']['data'], dtype='<i4')
    q = np.frombuffer(t[name + '.weight']['data'], dtype=np.uint8).reshape(len(z), -1)
    reach = np.abs(q.astype(int) - z[:, None]).max(axis=1)
    assert (z == 1 << (b - 1)).all(), (name, z)
    assert (reach == (1 << (b - 1)) - 1).all(), (name, reach)
PY
		fi
		if [ "$arch" = alexnet-small ]; then
			# without oneDNN's convolution: im2col, the GEMM, max pool on bytes
			# (with it, each conv read only by a max pool pools its int32s)
			PCQ_ICONV=off pcq-infer "$T/$tag.int" --data "$fm" --limit 48 $km \
				--predictions "$T/$tag.off.pred" --save-quantized-input >/dev/null
			$py tests/reference/qref.py "$T/$tag.int" "$T/$tag.off.pred" >"$T/qref.out" ||
				fail "$tag, PCQ_ICONV=off: $(cat "$T/qref.out")"
		fi
		# Integer vs simulated on 500 images: within 1 point, >= 97% the same;
		# with per-channel weights within 2 points, >= 93%. These models are
		# barely trained and amplify a difference layer after layer, and a
		# per-channel grid lets a near-constant channel sit on a rounding tie
		# (measured: one channel of layer1.2.conv2 at x/S = 1.4999999, which
		# float32 rounds up and the exact integer path down; by layer 3
		# codes differ by up to 6 steps, 96% of predictions the same). The
		# exactness check above is qref.py's. On CIFAR-10 (BENCHMARKS.md) the
		# per-channel models' integer accuracy is within 0.15 points.
		pcq-infer "$T/$tag.int" --data "$fm" --limit 500 $km --json --predictions "$T/i.pred" >"$T/i.json"
		pcq-infer "$T/$tag.fused" --data "$fm" --limit 500 $km --json --predictions "$T/s.pred" >"$T/s.json"
		loose=${pc:+1}
		$py - "$T/i.json" "$T/s.json" "$T/i.pred" "$T/s.pred" "$tag" "$loose" <<'PY' || fail "$tag fidelity"
import json, sys
import msgpack, numpy as np
i, s = (json.load(open(p)) for p in sys.argv[1:3])
def predicted(p):
    t = {t['name']: t for t in msgpack.unpackb(open(p, 'rb').read())['tensors']}['predicted']
    return np.frombuffer(t['data'], dtype='<i4')
same = (predicted(sys.argv[3]) == predicted(sys.argv[4])).mean()
print(f"{sys.argv[5]}: integer {i['top1']:.2f}%, simulated {s['top1']:.2f}%, same prediction {100 * same:.1f}%")
points, share = (2.0, 0.93) if sys.argv[6] else (1.0, 0.97)
assert abs(i['top1'] - s['top1']) <= points and same >= share
PY
	done
done

# 16-bit residual adds (SPEC §10): ResNet20 at 4 bits, 3 clusters, each
# block's last convolution and downsample branch at 16 bits. The integer
# model equals qref.py's; integer and simulated predictions agree; the
# device engine (--device host: qkernels.h's definitions, as on a GPU)
# predicts the same.
pcq-fuse "$T/resnet20.msgpack" --bit 4 --residual-bit 16 --clusters 3 -o - |
	pcq-train - --data "$fm" --limit 600 --batch 32 --kmeans "$T/km.msgpack" \
		-o "$T/res16.fused" 2>/dev/null
pcq-quantize "$T/res16.fused" -o "$T/res16.int"
pcq-infer "$T/res16.int" --data "$fm" --limit 48 --kmeans "$T/km.msgpack" \
	--predictions "$T/res16.pred" --save-quantized-input >/dev/null
$py tests/reference/qref.py "$T/res16.int" "$T/res16.pred" >"$T/qref.out" ||
	fail "residual 16: $(cat "$T/qref.out")"
echo "residual 16: $(cat "$T/qref.out")"
$py - "$T/res16.int" <<'PY' || fail "residual 16: layer bits"
import sys, msgpack
g = msgpack.unpackb(open(sys.argv[1], 'rb').read(), raw=False)['graph']
wide = sorted(l['name'] for l in g if l['params'].get('bits') == 16)
want = sorted([f'layer{s}.{b}.conv2' for s in (1, 2, 3) for b in range(3)] +
              ['layer2.0.downsample.0', 'layer3.0.downsample.0'])
assert wide == want, wide
assert all(l['params']['bits'] == 4 for l in g if l['op'] == 'qadd')
PY
pcq-infer "$T/res16.int" --data "$fm" --limit 500 --kmeans "$T/km.msgpack" \
	--predictions "$T/i.pred" >/dev/null
pcq-infer "$T/res16.fused" --data "$fm" --limit 500 --kmeans "$T/km.msgpack" \
	--predictions "$T/s.pred" >/dev/null
pcq-infer "$T/res16.int" --device host --data "$fm" --limit 500 --kmeans "$T/km.msgpack" \
	--predictions "$T/h.pred" >/dev/null
$py - "$T/i.pred" "$T/s.pred" "$T/h.pred" <<'PY' || fail "residual 16 fidelity"
import sys, msgpack, numpy as np
def predicted(p):
    t = {t['name']: t for t in msgpack.unpackb(open(p, 'rb').read())['tensors']}['predicted']
    return np.frombuffer(t['data'], dtype='<i4')
same = (predicted(sys.argv[1]) == predicted(sys.argv[2])).mean()
print(f"residual 16: same prediction {100 * same:.1f}%")
assert same >= 0.97
assert (predicted(sys.argv[1]) == predicted(sys.argv[3])).all(), 'device engine differs'
PY
# What reads a 16-bit point must be an add: a fused model whose stem
# output (read by a convolution too) is 16-bit is refused by pcq-quantize,
# as is one whose add output is; an integer model whose 16-bit convolution
# feeds a convolution is refused by pcq-infer; a model without residual
# adds cannot have them.
$py - "$T/res16.fused" "$T/res16.int" "$T" <<'PY'
import sys, msgpack
for src, dst, layer in ((sys.argv[1], 'res16stem.fused', 'relu.fq'),
                        (sys.argv[1], 'res16add.fused', 'layer1.0.relu2.fq'),
                        (sys.argv[2], 'res16bad.int', 'layer1.1.conv1')):
    m = msgpack.unpackb(open(src, 'rb').read(), raw=False)
    next(l for l in m['graph'] if l['name'] == layer)['params']['bits'] = 16
    open(sys.argv[3] + '/' + dst, 'wb').write(msgpack.packb(m, use_bin_type=True))
PY
expect_error 1 "layer 'layer1.0.conv1' reads 'relu.fq', a 16-bit activation: only a residual add" \
	pcq-quantize "$T/res16stem.fused" -o "$T/x.int"
expect_error 1 "layer 'layer1.0.add': its output is 16-bit; a residual add's output has at most 8 bits" \
	pcq-quantize "$T/res16add.fused" -o "$T/x.int"
expect_error 1 "layer 'layer1.1.conv2' reads 'layer1.1.conv1', a 16-bit activation: only a qadd" \
	pcq-infer "$T/res16bad.int" --data "$fm" --limit 10 --kmeans "$T/km.msgpack"
expect_error 1 "--residual-bit: the model has no residual add" \
	pcq-fuse "$T/alexnet-small.msgpack" --bit 4 --residual-bit 16 -o "$T/x.fused"
[ ! -e "$T/x.fused" ] || fail "a failed pcq-fuse left its output"

# A near-dead channel (per-channel weights ~1e-9, a bias of 100): its bias
# cannot be written on S1·S2 in int32, so pcq-quantize coarsens that
# channel's grid, says so in one line, and the integer model still equals
# qref.py's.
$py - "$T/resnet20-4-3-8-pc.fused" "$T/dead.fused" <<'PY'
import sys, msgpack, numpy as np
m = msgpack.unpackb(open(sys.argv[1], 'rb').read(), raw=False)
for t in m['tensors']:
    if t['name'] in ('layer1.0.conv1.weight', 'layer1.0.conv1.bias'):
        a = np.frombuffer(t['data'], '<f4').reshape(t['shape']).copy()
        a[0] = a[0] * 1e-8 if a.ndim > 1 else 100.0
        t['data'] = a.tobytes()
open(sys.argv[2], 'wb').write(msgpack.packb(m, use_bin_type=True))
PY
pcq-quantize "$T/dead.fused" -o "$T/dead.int" 2>"$T/err"
grep -q "layer 'layer1.0.conv1': 1 weight grid(s) so fine that a bias would overflow" "$T/err" ||
	fail "dead channel: $(cat "$T/err")"
pcq-infer "$T/dead.int" --data "$fm" --limit 48 --kmeans "$T/km.msgpack" \
	--predictions "$T/dead.pred" --save-quantized-input >/dev/null
$py tests/reference/qref.py "$T/dead.int" "$T/dead.pred" >"$T/qref.out" ||
	fail "dead channel: $(cat "$T/qref.out")"

# Refusals: a fused model never fine-tuned, a pre-trained model, no k-means.
pcq-fuse "$T/resnet20.msgpack" --bit 4 -o "$T/raw.fused"
expect_error 1 "layer 'input.fq' has no activation range for cluster 0" \
	pcq-quantize "$T/raw.fused" -o "$T/x.int"
expect_error 1 "is a model file; pcq-quantize takes a fused model" \
	pcq-quantize "$T/resnet20.msgpack" -o "$T/x.int"
expect_error 1 "has 3 clusters: give the k-means model" \
	pcq-infer "$T/resnet20-4-3.int" --data "$fm" --limit 10
expect_error 2 "save-quantized-input needs" \
	pcq-infer "$T/resnet20-4-3.int" --data "$fm" --limit 10 --save-quantized-input
# A qadd in the earlier form (a (multiplier, shift) pair per input) is refused.
$py - "$T/resnet20-4-3.int" "$T/old.int" <<'PY'
import sys, msgpack
m = msgpack.unpackb(open(sys.argv[1], 'rb').read(), raw=False)
add = next(l for l in m['graph'] if l['op'] == 'qadd')['name']
k = next(t for t in m['tensors'] if t['name'] == add + '.shift')
m['tensors'].append(dict(k, name=add + '.a_shift'))
open(sys.argv[2], 'wb').write(msgpack.packb(m, use_bin_type=True))
PY
expect_error 1 "a qadd with per-input shifts, from a pcq-quantize before the single-rounding add" \
	pcq-infer "$T/old.int" --data "$fm" --limit 10 --kmeans "$T/km.msgpack"
[ ! -e "$T/x.int" ] || fail "a failed pcq-quantize left its output"
