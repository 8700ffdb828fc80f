# Data-parallel training with --device cuda (common/dist.h), where a GPU is
# usable: on a GPU, or with the tools built on the CUDA emulator (make
# test-emu runs this with build/emu's tools). Skipped otherwise. On 2 ranks
# (each takes GPU local-rank mod the GPU count) a pre-training step, whose
# batch norms exchange their sums through the host (cuda/layers.cu,
# bn_sync.h), and a PCQ fine-tuning of a fused model (per-cluster ranges
# over the whole batch) give one process's model within float rounding.
. tests/e2e/lib.sh
command -v mpirun >/dev/null 2>&1 || skip "no mpirun (Debian: openmpi-bin)"
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
[ -d /usr/share/datasets/fashion-mnist ] || skip "no Fashion-MNIST (dataset-fashion-mnist)"
export SOURCE_DATE_EPOCH=1700000000
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
# a machine whose MPI cannot start processes at all is not a failure of ours
mpirun -np 2 true >"$T/mpi" 2>&1 || skip "mpirun cannot start 2 processes here: $(head -n 3 "$T/mpi")"
py=${PYTHON_TORCH:-/usr/bin/python3}
same() {
	$py tests/e2e/compare_models.py "$1" "$2" "$3" >"$T/cmp" || fail "$4: $(cat "$T/cmp")"
	echo "$4: largest relative difference $(cat "$T/cmp")"
}

one="--arch resnet20 --data $fm --limit 32 --batch 32 --epochs 1 --seed 3 --threads 1"
pcq-train $one --device cuda -o "$T/one.msgpack" 2>"$T/err" ||
	skip "no usable GPU (pcq-train --device cuda: $(tail -n 1 "$T/err"))"
mpirun -np 2 pcq-train $one --device cuda -o "$T/two.msgpack" 2>"$T/err" ||
	fail "2 ranks: $(tail -n 3 "$T/err")"
same "$T/one.msgpack" "$T/two.msgpack" 1e-4 "a pre-training step on 2 ranks against one (cuda)"

pcq-kmeans fit --data "$fm" --limit 64 --clusters 3 --seed 2 -o "$T/km.msgpack" 2>/dev/null
pcq-fuse "$T/one.msgpack" --bit 4 --clusters 3 -o "$T/fused.msgpack"
tune="--kmeans $T/km.msgpack --data $fm --limit 64 --batch 32 --threads 1 --device cuda"
pcq-train "$T/fused.msgpack" $tune -o "$T/t1.msgpack" 2>/dev/null
mpirun -np 2 pcq-train "$T/fused.msgpack" $tune -o "$T/t2.msgpack" 2>"$T/err" ||
	fail "fine-tuning on 2 ranks: $(tail -n 3 "$T/err")"
same "$T/t1.msgpack" "$T/t2.msgpack" 1e-4 "PCQ 4-bit K=3 fine-tuning on 2 ranks against one (cuda)"
