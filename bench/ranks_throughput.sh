#!/bin/sh
# Data-parallel training throughput (common/dist.h): pcq-train on RANKS
# MPI ranks of one thread each against PyTorch's DistributedDataParallel on
# as many gloo processes of one thread, on the same synthetic batches of
# 128 images, each rank taking its share of every batch; and, for scale,
# both in one process of RANKS threads. Prints images/s per side and the
# ratios.
#   bench/ranks_throughput.sh [ARCH] [BATCHES] [RANKS]   (default resnet20 20 2)
# ROUNDS=N (default 1) runs every side N times, interleaved, and reports
# each side's best images/s with the spread.
set -eu
arch=${1:-resnet20}
batches=${2:-20}
ranks=${3:-2}
batch=128
rounds=${ROUNDS:-1}
. "$(dirname "$0")/torch_peer.sh"   # py, here, blas_core (PyTorch's BLAS on a core that knows this CPU), tmp
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

warmup=2
$py "$here/make_synthetic.py" "$tmp/synth.msgpack" 3 32 32 $(( (batches + warmup) * batch )) $batch 10
[ -n "$blas_core" ] && echo "PyTorch's OpenBLAS does not know this CPU: OPENBLAS_CORETYPE=$blas_core"
train() {   # train LOG LAUNCHER...: one pcq-train epoch over the batches
	log=$1
	shift
	"$@" "$here/../bin/pcq-train" --arch "$arch" --data "dataset:$tmp/synth.msgpack" \
		--epochs 1 --batch $batch --no-augment --log "$log" -o "$tmp/model.msgpack" \
		2>"$tmp/train.err" || { cat "$tmp/train.err" >&2; exit 1; }
}
r=1
while [ $r -le "$rounds" ]; do
	env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} $py "$here/torch_ddp_train.py" "$arch" \
		"$tmp/synth.msgpack" $batch "$ranks" 1 $warmup >"$tmp/ddp.$r.json"
	train "$tmp/ranks.$r.json" mpirun -np "$ranks" -x OMP_NUM_THREADS=1
	env ${blas_core:+OPENBLAS_CORETYPE=$blas_core} $py "$here/torch_train.py" "$arch" \
		"$tmp/synth.msgpack" $batch "$ranks" $warmup >"$tmp/torch.$r.json"
	train "$tmp/one.$r.json" env OMP_NUM_THREADS="$ranks"
	r=$((r + 1))
done

python3 - "$tmp" "$rounds" "$arch" "$ranks" <<'PY'
import json, sys
tmp, rounds, arch, ranks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def ips(side):
    return [json.loads(open(f"{tmp}/{side}.{r}.json").read().splitlines()[-1])["images_per_second"]
            for r in range(1, rounds + 1)]
spread = lambda v: f" (best of {rounds}, spread {min(v):.1f}-{max(v):.1f})" if rounds > 1 else ""
ddp, pr, torch1, one = ips("ddp"), ips("ranks"), ips("torch"), ips("one")
print(f"{arch} batch 128")
print(f"  pytorch DDP, {ranks} gloo processes x 1 thread: {max(ddp):8.1f} images/s{spread(ddp)}")
print(f"  pcq-train, {ranks} MPI ranks x 1 thread:       {max(pr):8.1f} images/s{spread(pr)}")
print(f"  pytorch, 1 process x {ranks} threads:           {max(torch1):8.1f} images/s{spread(torch1)}")
print(f"  pcq-train, 1 process x {ranks} threads:         {max(one):8.1f} images/s{spread(one)}")
print(f"  ratio (pcq/pytorch), {ranks} ranks: {max(pr) / max(ddp):.2f}x; one process: {max(one) / max(torch1):.2f}x")
print(f"  pcq-train {ranks} ranks / 1 process: {max(pr) / max(one):.2f}x")
PY
