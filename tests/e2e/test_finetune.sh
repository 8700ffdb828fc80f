# pcq-fuse, fake-quantized fine-tuning with pcq-train and pcq-infer on
# fused models: a short ResNet20 pre-training on a Fashion-MNIST subset,
# a k-means model with 3 clusters, then PCQ (K = 3, 8 bits) and QAT
# (K = 1, 4 bits through pipes). The fused model in float scores as the
# pre-trained one; fine-tuned 8-bit PCQ stays near FP32; per-cluster
# results add up; bad combinations get one-line errors.
. tests/e2e/lib.sh
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
export SOURCE_DATE_EPOCH=1700000000

pcq-train --arch resnet20 --data "$fm" --limit 3000 --epochs 1 --batch 64 --lr 0.05 \
	--seed 5 -o "$T/pre.msgpack" 2>/dev/null
pcq-kmeans fit --data "$fm" --limit 3000 --clusters 3 --seed 2 -o "$T/km3.msgpack" 2>/dev/null
pcq-kmeans fit --data "$fm" --limit 3000 --clusters 4 --seed 2 -o "$T/km4.msgpack" 2>/dev/null

pcq-fuse "$T/pre.msgpack" --bit 8 --clusters 3 -o "$T/fused.msgpack"
pcq-info --json "$T/fused.msgpack" >"$T/info.json"
[ "$(json "$T/info.json" "j['kind']")" = fused-model ] || fail "kind"
[ "$(json "$T/info.json" "sum(l['op'] == 'batchnorm2d' for l in j['layers'])")" = 0 ] || fail "BN left"
[ "$(json "$T/info.json" "sum(l['op'] == 'fakequant' for l in j['layers'])")" = 33 ] || fail "points"

# Float evaluation of the fused model = the pre-trained model's.
pcq-infer "$T/pre.msgpack" --data "$fm" --limit 2000 --json >"$T/fp32.json"
pcq-infer "$T/fused.msgpack" --float --data "$fm" --limit 2000 --json >"$T/float.json"
[ "$(json "$T/float.json" "j['mode']")" = fused-float ] || fail "mode"
python3 - "$T/fp32.json" "$T/float.json" <<'PY' || fail "fused float differs from FP32"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert abs(a['top1'] - b['top1']) <= 0.1 and abs(a['loss'] - b['loss']) < 1e-4, (a['top1'], b['top1'])
PY

# Not fine-tuned yet, no k-means model, a k-means model of another K.
expect_error 1 "layer 'input.fq' has no activation range for cluster 0" \
	pcq-infer "$T/fused.msgpack" --data "$fm" --limit 100 --kmeans "$T/km3.msgpack"
expect_error 1 "has 3 clusters: give the k-means model" \
	pcq-train "$T/fused.msgpack" --data "$fm" --limit 100 -o "$T/x.msgpack"
expect_error 1 "km4.msgpack' has 4 clusters, but '.*fused.msgpack' was fused for 3" \
	pcq-train "$T/fused.msgpack" --data "$fm" --limit 100 --kmeans "$T/km4.msgpack" -o "$T/x.msgpack"
expect_error 1 "is a pre-trained model, not a fused one" \
	pcq-train "$T/pre.msgpack" --data "$fm" --limit 100 -o "$T/x.msgpack"
expect_error 1 "is a fused-model file; pcq-fuse takes a pre-trained model" \
	pcq-fuse "$T/fused.msgpack" --bit 4 -o "$T/x.msgpack"
expect_error 2 "bit" pcq-fuse "$T/pre.msgpack" --bit 9 -o "$T/x.msgpack"
[ ! -e "$T/x.msgpack" ] || fail "a failed run left an output"

# PCQ fine-tuning, K = 3, 8 bits, the reference's defaults but 3000 images.
pcq-train "$T/fused.msgpack" --data "$fm" --limit 3000 --kmeans "$T/km3.msgpack" \
	-o "$T/pcq.msgpack" 2>/dev/null
pcq-info --json "$T/pcq.msgpack" >"$T/pcq-info.json"
[ "$(json "$T/pcq-info.json" "j['attrs']['epochs_done']")" = 1 ] || fail "epochs_done"
pcq-infer "$T/pcq.msgpack" --data "$fm" --limit 2000 --kmeans "$T/km3.msgpack" --json \
	--predictions "$T/pred.msgpack" >"$T/pcq.json"
python3 - "$T/fp32.json" "$T/pcq.json" <<'PY' || fail "PCQ 8-bit result: $(cat "$T/pcq.json")"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print(f"FP32 {a['top1']:.2f}%, PCQ 8-bit K=3 simulated {b['top1']:.2f}% on 2000 images")
assert b['mode'] == 'simulated'
assert b['top1'] > a['top1'] - 3, 'more than 3 points lost at 8 bits'
pc = b['per_cluster']
assert len(pc) == 3 and sum(c['n'] for c in pc) == 2000
assert abs(sum(c['n'] * c['top1'] for c in pc) / 2000 - b['top1']) < 1e-6
PY
pcq-info --json "$T/pred.msgpack" >"$T/pred.json"
[ "$(json "$T/pred.json" "[t['name'] for t in j['tensors']][-1]")" = cluster ] || fail "cluster ids"

# QAT, 4 bits, through pipes; the fine-tuned model evaluates with 1 cluster.
pcq-fuse "$T/pre.msgpack" --bit 4 -o - |
	pcq-train - --data "$fm" --limit 1000 --batch 32 -o - 2>/dev/null >"$T/qat.msgpack"
pcq-infer "$T/qat.msgpack" --data "$fm" --limit 2000 --json >"$T/qat.json"
# Above 25% (chance is 10%): the one-epoch pre-training's accuracy swings
# with the thread count (its batch-norm statistics lag; measured 16% and
# 53% for 1 and 2 threads), and 4-bit QAT from it gave 36% and 61%.
[ "$(json "$T/qat.json" "j['top1'] > 25 and 'per_cluster' not in j")" = True ] ||
	fail "QAT 4-bit: $(cat "$T/qat.json")"
echo "QAT 4-bit K=1 simulated $(json "$T/qat.json" "j['top1']")%"
