# pcq-kmeans: fit on a Fashion-MNIST subset, assign (text, --json, -o),
# determinism, the features export, and bad input (another image shape,
# a too-small grid, a wrong file kind, usage errors).
. tests/e2e/lib.sh
fm=fashion-mnist:/usr/share/datasets/fashion-mnist
[ -d /usr/share/datasets/fashion-mnist ] || skip "no Fashion-MNIST in /usr/share/datasets"
export SOURCE_DATE_EPOCH=1700000000

pcq-kmeans fit --data "$fm" --limit 2000 --epochs 3 --clusters 6 --seed 2 --threads 2 \
	-o "$T/k.msgpack" 2>"$T/err"
grep -q "^pcq-kmeans: 6 clusters fitted in .* 3 epochs, 48 batches" "$T/err" || fail "fit: $(cat "$T/err")"
pcq-info --json "$T/k.msgpack" >"$T/info.json"
[ "$(json "$T/info.json" "j['kind']")" = kmeans ] || fail "kind"
[ "$(json "$T/info.json" "(j['attrs']['clusters'], j['attrs']['partitions'], j['attrs']['input_shape'], j['attrs']['feature_length'])")" = "(6, 4, [1, 28, 28], 8)" ] ||
	fail "attrs: $(cat "$T/info.json")"

pcq-kmeans assign "$T/k.msgpack" --data "$fm" --limit 1000 --json -o "$T/ids.msgpack" >"$T/a.json"
[ "$(json "$T/a.json" "len(j['sizes']) == 6 and sum(j['sizes']) == 1000 == j['n'] and j['inertia'] > 0")" = True ] ||
	fail "assign --json: $(cat "$T/a.json")"
[ "$(json "$T/a.json" "[sum(h) for h in j['histograms']] == j['sizes'] and j['split'] == 'test'")" = True ] ||
	fail "histograms: $(cat "$T/a.json")"
pcq-info --json "$T/ids.msgpack" >"$T/ids.json"
[ "$(json "$T/ids.json" "(j['kind'], j['attrs']['split'], [(t['name'], t['dtype'], t['shape']) for t in j['tensors']])")" = \
	"('tensors', 'test', [('cluster', 'i32', [1000])])" ] || fail "ids file: $(cat "$T/ids.json")"
pcq-kmeans assign "$T/k.msgpack" --data "$fm" --limit 1000 >"$T/a.txt"
grep -q "^inertia " "$T/a.txt" || fail "assign text: $(cat "$T/a.txt")"
[ "$(grep -c '^ *[0-9]' "$T/a.txt")" -eq 6 ] || fail "assign text rows: $(cat "$T/a.txt")"

# The same command gives the same bytes; another thread count the same centres.
cp "$T/k.msgpack" "$T/first.msgpack"
pcq-kmeans fit --data "$fm" --limit 2000 --epochs 3 --clusters 6 --seed 2 --threads 2 \
	-o "$T/k.msgpack" 2>/dev/null
cmp -s "$T/k.msgpack" "$T/first.msgpack" || fail "same command, different bytes"
pcq-kmeans fit --data "$fm" --limit 2000 --epochs 3 --clusters 6 --seed 2 --threads 1 \
	-o "$T/k1.msgpack" 2>/dev/null
pcq-kmeans assign "$T/k1.msgpack" --data "$fm" --limit 1000 --json >"$T/a1.json"
[ "$(json "$T/a1.json" "(j['sizes'], j['inertia'])")" = "$(json "$T/a.json" "(j['sizes'], j['inertia'])")" ] ||
	fail "1 and 2 threads differ"

# The features export: (N, C·P·2) floats and labels.
pcq-kmeans features --data "$fm" --limit 300 --partitions 6 -o "$T/f.msgpack"
[ "$(pcq-info --json "$T/f.msgpack" | python3 -c 'import json,sys; j=json.load(sys.stdin); print([(t["name"], t["shape"]) for t in j["tensors"]])')" = \
	"[('features', [300, 12]), ('labels', [300])]" ] || fail "features file"

# Bad input.
make_cifar10 "$T/cifar"
expect_error 1 "^pcq-kmeans: '$T/cifar': images are 3x32x32, but '$T/k.msgpack' takes 1x28x28\$" \
	pcq-kmeans assign "$T/k.msgpack" --data "cifar10:$T/cifar"
expect_error 1 "'$T/cifar': images are 3x32x32, smaller than the 2x33 grid of 66 partitions" \
	pcq-kmeans fit --data "cifar10:$T/cifar" --partitions 66 -o "$T/x"
expect_error 1 "is a tensors file, expected a kmeans file" \
	pcq-kmeans assign "$T/ids.msgpack" --data "$fm"
[ ! -e "$T/x" ] || fail "a failed fit left an output"
expect_error 2 "^pcq-kmeans: --data KIND:PATH is required" pcq-kmeans fit -o "$T/x"
expect_error 2 "no command given" pcq-kmeans --data "$fm"
expect_error 2 "unknown command 'fitt'" pcq-kmeans fitt --data "$fm" -o "$T/x"
expect_error 2 "no KMEANS file given" pcq-kmeans assign --data "$fm"
expect_error 2 "option '--clusters' does not apply to 'assign'" \
	pcq-kmeans assign "$T/k.msgpack" --data "$fm" --clusters 3
expect_error 2 "invalid value '3' for --partitions: expected an even number" \
	pcq-kmeans fit --data "$fm" --partitions 3 -o "$T/x"
