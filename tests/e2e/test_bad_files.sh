# Bad input gives one line naming the file and what is wrong, and exit 1.
. tests/e2e/lib.sh
make_cifar10 "$T/cifar"
pcq-info --data "cifar10:$T/cifar" --save "$T/ds.msgpack" >/dev/null
pcq-info "$T/ds.msgpack" >/dev/null

# Truncated.
head -c 100 "$T/ds.msgpack" >"$T/cut.msgpack"
expect_error 1 "'$T/cut.msgpack': truncated" pcq-info "$T/cut.msgpack"
# A count no file of this size can hold (msgpack-c would allocate 64 GiB
# for it before finding out).
printf '\335\377\377\377\377' >"$T/count.msgpack"
expect_error 1 "'$T/count.msgpack': truncated: the msgpack object at byte 0 declares more than the 5 bytes" \
	pcq-info "$T/count.msgpack"
# Not msgpack / not ours / empty.
printf 'hello world' >"$T/text.msgpack"
expect_error 1 "'$T/text.msgpack': not a PCQ file" pcq-info "$T/text.msgpack"
: >"$T/empty.msgpack"
expect_error 1 "'$T/empty.msgpack': empty file" pcq-info "$T/empty.msgpack"
expect_error 1 "'$T/none.msgpack': cannot open: No such file" pcq-info "$T/none.msgpack"
# Unknown format version: the byte after the "version" key.
perl -pe 's/\xa7version\x01/\xa7version\x02/' "$T/ds.msgpack" >"$T/v2.msgpack"
expect_error 1 "'$T/v2.msgpack': unsupported format version 2" pcq-info "$T/v2.msgpack"
# A tensor whose bytes do not match its shape: test.labels claims 4 of 3.
perl -pe 's/\xa5shape\x91\x03\xa4data\xc4\x0c/\xa5shape\x91\x04\xa4data\xc4\x0c/' \
	"$T/ds.msgpack" >"$T/shape.msgpack"
cmp -s "$T/ds.msgpack" "$T/shape.msgpack" && fail "the shape edit changed nothing"
expect_error 1 "'$T/shape.msgpack': tensor 'test.labels': data is 12 bytes, but shape 4 of i32 needs 16" \
	pcq-info "$T/shape.msgpack"
# A file of the wrong kind where a data set file is expected.
pcq-info --data "dataset:$T/ds.msgpack" --json >"$T/ok.json"
[ "$(json "$T/ok.json" "j['splits'][0]['n']")" = 10 ] || fail "dataset file round trip"
printf '\202\246format\243pcq\247version\001' >"$T/partial.msgpack"
expect_error 1 "'$T/partial.msgpack': missing 'kind'" pcq-info "$T/partial.msgpack"
perl -pe 's/\xa4kind\xa7dataset/\xa4kind\xa5model/' "$T/ds.msgpack" >"$T/model.msgpack"
expect_error 1 "'$T/model.msgpack': is a model file, expected a dataset file" \
	pcq-info --data "dataset:$T/model.msgpack"
# Data sets: a missing folder, a CIFAR file of the wrong size.
expect_error 1 "'$T/nowhere" pcq-info --data "cifar10:$T/nowhere"
head -c 5000 "$T/cifar/test_batch.bin" >"$T/short.bin" && mv "$T/short.bin" "$T/cifar/test_batch.bin"
expect_error 1 "test_batch.bin'.*5000.*3073" pcq-info --data "cifar10:$T/cifar" --split test
expect_error 1 "unknown data set kind|known kinds" pcq-info --data "nosuch:$T"

# Model files that read well but cannot run: a NaN weight; a batch norm
# over 1x1 activations given a batch of one image (it would take its
# statistics from one value; pcq-train aborted on a CHECK before).
${PYTHON_TORCH:-/usr/bin/python3} - "$T" <<'PY'
import sys
sys.path.insert(0, 'tests/fixtures')
import numpy as np
import pcqfile
d = sys.argv[1]
pcqfile.write(f'{d}/px.msgpack', 'dataset', [
    ('train.images', np.arange(9, dtype=np.uint8).reshape(3, 3, 1, 1) * 20),
    ('train.labels', np.array([0, 1, 0], np.int32)),
    ('test.images', np.zeros((2, 3, 1, 1), np.uint8)),
    ('test.labels', np.array([0, 1], np.int32))],
    attrs={'source': 'test', 'classes': 2, 'class_names': ['a', 'b']})
def layer(name, op, inputs, **params):
    return {'name': name, 'op': op, 'inputs': inputs, 'params': params}
graph = [layer('conv1', 'conv2d', ['input'], out_channels=4, kernel=1, stride=1, pad=0, bias=0),
         layer('bn1', 'batchnorm2d', ['conv1'], eps=1e-5, momentum=0.1),
         layer('flat', 'flatten', ['bn1']),
         layer('fc', 'linear', ['flat'], out_features=2, bias=1)]
r = np.random.default_rng(1)
tensors = {'conv1.weight': r.standard_normal((4, 3, 1, 1)), 'bn1.weight': np.ones(4),
           'bn1.bias': np.zeros(4), 'bn1.running_mean': np.zeros(4),
           'bn1.running_var': np.ones(4), 'fc.weight': r.standard_normal((2, 4)),
           'fc.bias': np.zeros(2)}
attrs = {'input_shape': [3, 1, 1], 'classes': 2, 'norm_mean': [0.5] * 3, 'norm_std': [0.25] * 3}
for name, bias in (('px-model', 0.0), ('nan-model', float('nan'))):
    tensors['fc.bias'][1] = bias
    pcqfile.write(f'{d}/{name}.msgpack', 'model',
                  [(k, v.astype(np.float32)) for k, v in tensors.items()], graph=graph, attrs=attrs)
PY
expect_error 1 "'$T/nan-model.msgpack': tensor 'fc.bias' holds nan at element 1; a model's values must be finite" \
	pcq-infer "$T/nan-model.msgpack" --data "dataset:$T/px.msgpack"
expect_error 1 "'$T/px-model.msgpack': layer 'bn1' normalises 1x1 activations, so it needs at least 2 images a batch, but 3 training images in batches of 2 leave one of 1 image" \
	pcq-train --resume "$T/px-model.msgpack" --data "dataset:$T/px.msgpack" --batch 2 -o "$T/px-out.msgpack"
[ ! -e "$T/px-out.msgpack" ] || fail "a refused training run wrote its output"
pcq-train --resume "$T/px-model.msgpack" --data "dataset:$T/px.msgpack" --batch 3 --epochs 1 \
	-o "$T/px-out.msgpack" 2>/dev/null

# A file name that is not UTF-8 (a Latin-1 é) is kept in the provenance
# as the bytes it was; --json still prints valid JSON (U+FFFD for the byte).
latin1="$T/caf$(printf '\351').msgpack"
cp "$T/px-model.msgpack" "$latin1"
pcq-fuse "$latin1" --bit 8 -o "$T/fused-latin1.msgpack"
pcq-info --json "$T/fused-latin1.msgpack" "$latin1" >"$T/latin1.json"
python3 - "$T/latin1.json" <<'PY' || fail "pcq-info --json of a Latin-1 name: $(cat "$T/latin1.json")"
import json, sys
lines = open(sys.argv[1], 'rb').read().decode('utf-8').splitlines()  # strict: must be UTF-8
fused, model = (json.loads(l) for l in lines)
assert fused['meta']['inputs'][0]['path'].endswith('caf\ufffd.msgpack'), fused['meta']
assert model['file'].endswith('caf\ufffd.msgpack'), model['file']
PY

# An output that cannot be written is refused before the work that would
# make it: no data set read, no epoch trained (so none of these logs an
# epoch), and nothing left behind.
data="--data cifar10:$T/cifar"
nowhere=$T/no/such/folder
expect_error 1 "'$nowhere/m.msgpack': cannot create a temporary file beside it: No such file" \
	pcq-train --arch resnet20 $data -o "$nowhere/m.msgpack"
expect_error 1 "'$nowhere/log.jsonl': cannot create: No such file" \
	pcq-train --arch resnet20 $data --log "$nowhere/log.jsonl" -o "$T/m.msgpack"
expect_error 1 "'$T': is a directory" pcq-train --arch resnet20 $data --log "$T" -o "$T/m.msgpack"
expect_error 1 "'$nowhere/p.msgpack': cannot create" \
	pcq-infer "$T/px-model.msgpack" $data --predictions "$nowhere/p.msgpack"
expect_error 1 "'$nowhere/k.msgpack': cannot create" \
	pcq-kmeans fit $data --clusters 2 -o "$nowhere/k.msgpack"
expect_error 1 "'$nowhere/d.msgpack': cannot create" pcq-info $data --save "$nowhere/d.msgpack"
[ ! -e "$T/m.msgpack" ] || fail "a refused pcq-train wrote its checkpoint"
[ -z "$(find "$T" -name '*.tmp.*')" ] || fail "temporary files left: $(find "$T" -name '*.tmp.*')"
