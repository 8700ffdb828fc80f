#!/bin/sh
# Integer against simulated quantization on a whole test set (issue 6's
# fidelity check): for each fine-tuned chain, quantize its ft.msgpack with
# the current pcq-quantize (into the chain folder's int.msgpack, and its
# int.json as pipelines/pcq.mk writes it, for pipelines/table.py), evaluate
# the fused model (simulated quantization) and the integer model with
# --predictions, and print both accuracies, the share of images with the
# same predicted class, and the integer engine's images/s.
#   bench/int_fidelity.sh DATA CHAIN_DIR[:KMEANS] ...
# e.g. bench/int_fidelity.sh folder:$(scripts/cifar10-jpeg.sh) \
#        RUN/qat-b4-ft1-lr1e-4-bs8 RUN/pcq-b4-k10-ft1-lr1e-4-bs32:RUN/kmeans-k10-p4.msgpack
set -eu
[ $# -ge 2 ] || { echo "usage: bench/int_fidelity.sh DATA CHAIN_DIR[:KMEANS] ..." >&2; exit 2; }
py=${PYTHON_TORCH:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../bin
data=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for chain in "$@"; do
	dir=${chain%%:*} km=
	[ "$dir" != "$chain" ] && km="--kmeans ${chain#*:}"
	"$bin/pcq-quantize" "$dir/ft.msgpack" -o "$dir/int.msgpack"
	"$bin/pcq-infer" "$dir/ft.msgpack" --data "$data" $km --batch 128 \
		--predictions "$tmp/sim.msgpack" --json >"$tmp/sim.json"
	"$bin/pcq-infer" "$dir/int.msgpack" --data "$data" $km --batch 128 \
		--predictions "$tmp/int.msgpack" --json >"$tmp/int.json"
	cp "$tmp/int.json" "$dir/int.json.tmp" && mv "$dir/int.json.tmp" "$dir/int.json"
	$py - "$tmp" "$(basename "$dir")" <<'PY'
import json, sys
import msgpack
import numpy as np
d, name = sys.argv[1:]
def predicted(path):
    m = msgpack.unpackb(open(path, 'rb').read(), raw=False)
    t = next(x for x in m['tensors'] if x['name'] == 'predicted')
    return np.frombuffer(t['data'], dtype=np.int32)
same = (predicted(f'{d}/sim.msgpack') == predicted(f'{d}/int.msgpack')).mean()
s, i = json.load(open(f'{d}/sim.json')), json.load(open(f'{d}/int.json'))
print(f"{name}: simulated {s['top1']:.2f}%  integer {i['top1']:.2f}%  same prediction "
      f"{100 * same:.2f}%  integer engine {i['n'] / i['engine_seconds']:.0f} images/s "
      f"({i['n']} images)")
PY
done
