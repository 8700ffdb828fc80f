#!/bin/sh
# The integer engine's speed in this build against another build (the
# commit before a change, say) on the same quantized models, robust to
# this shared machine's drift (its speed swings by up to 2x over minutes):
# the two builds' qengine_bench run in turn, PAIRS times per model, each
# the best of 3 trials of 10 batches, and the median of the pairs' ratios
# is printed with their range.
#   bench/engine_ab.sh OTHER MODEL... [-- PAIRS BATCH THREADS]
#   (7 pairs, batch 128, 2 threads)
# OTHER: the other build's qengine_bench (build/*/bench/qengine_bench of a
# second checkout); MODEL: quantized models, for instance those that
# `KEEP=DIR bench/int8_inference.sh` keeps.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ours=${OURS:-$here/../build/$(cat "$here/../build/variant" 2>/dev/null || echo cpu)/bench/qengine_bench}
other=$1
shift
models=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	models="$models $1"
	shift
done
[ $# -gt 0 ] && shift
pairs=${1:-7} batch=${2:-128} threads=${3:-2}
[ -x "$ours" ] || { echo "engine_ab: '$ours': not built (make build/VARIANT/bench/qengine_bench)" >&2; exit 1; }

speed() {   # images/s of one qengine_bench run
	"$1" "$2" "$batch" 10 "$threads" 3 | sed -n 's/.*: \([0-9]*\) images\/s (best.*/\1/p' | head -1
}
for m in $models; do
	p=1 runs=
	while [ "$p" -le "$pairs" ]; do
		a=$(speed "$ours" "$m") b=$(speed "$other" "$m")
		runs="$runs $a:$b"
		p=$((p + 1))
	done
	python3 - "$m" $runs <<'PY'
import statistics, sys
pairs = [tuple(map(int, r.split(':'))) for r in sys.argv[2:]]
ratios = sorted(a / b for a, b in pairs)
print(f"{sys.argv[1]}: this build {max(a for a, _ in pairs)} images/s, the other "
      f"{max(b for _, b in pairs)} (best of {len(pairs)}); ratio median "
      f"{statistics.median(ratios):.2f}x (range {ratios[0]:.2f}-{ratios[-1]:.2f})")
PY
done
