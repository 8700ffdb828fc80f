# The pipelines (pipelines/pcq.mk): the whole PCQ and QAT chains through all
# five tools on a Fashion-MNIST subset with a tiny schedule; every stage's
# file has the right kind; the integer accuracy is well above chance; a
# second `make` rebuilds nothing; a touched k-means model rebuilds exactly
# the PCQ chain's fused, fine-tuned, integer and result files.
. tests/e2e/lib.sh
export SOURCE_DATE_EPOCH=1700000000
vars="RESULTS=$T/r DATA=fashion-mnist:/usr/share/datasets/fashion-mnist LIMIT=2000
PRE_EPOCHS=3 PRE_LR=0.05 PRE_STEP=2 BIT=4 K=3 CHAINS=4:1\ 4:3"
run_make() { eval make --no-print-directory "$@" $vars; }

run_make chains-table >"$T/log" 2>&1 || fail "make chains-table: $(tail -5 "$T/log")"
run=$T/r/fashion-mnist/resnet20-s1-n2000
pcq=$run/pcq-b4-k3-ft1-lr1e-4-bs32
qat=$run/qat-b4-ft1-lr1e-4-bs8
for f in "$run/pre-e3-lr0.05-bs128.msgpack:model" "$run/kmeans-k3-p4.msgpack:kmeans" \
	"$pcq/fused.msgpack:fused-model" "$pcq/ft.msgpack:fused-model" \
	"$pcq/int.msgpack:quantized-model" "$qat/int.msgpack:quantized-model"; do
	file=${f%:*} kind=${f##*:}
	pcq-info --json "$file" >"$T/info.json" || fail "pcq-info $file"
	[ "$(json "$T/info.json" "j['kind']")" = "$kind" ] || fail "$file is not a $kind"
done
for chain in "$pcq" "$qat"; do
	[ "$(json "$chain/int.json" "j['mode'] == 'integer' and j['top1'] > 40")" = True ] ||
		fail "integer accuracy of $chain: $(cat "$chain/int.json")"
done
tail -5 "$T/log"

# Nothing to do the second time: no tool would run.
run_make -n chains >"$T/dry" 2>&1 || fail "make -n: $(cat "$T/dry")"
! grep -q '^bin/pcq-' "$T/dry" || fail "a second make would run: $(grep '^bin/pcq-' "$T/dry")"

# A new k-means model: exactly the PCQ chain's files are remade.
find "$T/r" -type f -newer "$T/log" >/dev/null
sleep 1
touch "$run/kmeans-k3-p4.msgpack" "$T/stamp"
sleep 1
run_make chains >"$T/log2" 2>&1 || fail "make after touch: $(tail -5 "$T/log2")"
changed=$(find "$T/r" -type f -newer "$T/stamp" | sed "s|$run/||" | sort | tr '\n' ' ')
want="pcq-b4-k3-ft1-lr1e-4-bs32/ft.best.msgpack pcq-b4-k3-ft1-lr1e-4-bs32/ft.jsonl pcq-b4-k3-ft1-lr1e-4-bs32/ft.msgpack pcq-b4-k3-ft1-lr1e-4-bs32/fused.msgpack pcq-b4-k3-ft1-lr1e-4-bs32/int.json pcq-b4-k3-ft1-lr1e-4-bs32/int.msgpack pcq-b4-k3-ft1-lr1e-4-bs32/sim.json "
[ "$changed" = "$want" ] || fail "touching the k-means model remade: $changed"

# RANKS=2: pcq-train (pre-training and fine-tuning), and only it, under mpirun.
run_make -n -B chains RANKS=2 >"$T/dry2" 2>&1 || fail "make -n RANKS=2: $(tail -3 "$T/dry2")"
[ "$(grep -c '^mpirun -np 2 *bin/pcq-train ' "$T/dry2")" -eq 3 ] &&
	! grep -q '^bin/pcq-train' "$T/dry2" && ! grep -q 'mpirun.*pcq-\(infer\|fuse\|kmeans\|quantize\)' "$T/dry2" ||
	fail "RANKS=2: $(grep 'pcq-' "$T/dry2" | grep -v '^cc')"
