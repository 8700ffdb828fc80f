# The real data sets: Fashion-MNIST from the Debian package (installed by
# `make deps`), and the CIFAR-10 JPEG copy when ../shared/data has it.
. tests/e2e/lib.sh
fm=/usr/share/datasets/fashion-mnist
[ -d "$fm" ] || fail "'$fm' is missing: run make deps (package dataset-fashion-mnist)"
pcq-info --data "fashion-mnist:$fm" --json >"$T/fm.json"
[ "$(json "$T/fm.json" "[s['n'] for s in j['splits']]")" = "[60000, 10000]" ] || fail "fashion-mnist counts"
[ "$(json "$T/fm.json" "j['splits'][0]['shape']")" = "[1, 28, 28]" ] || fail "fashion-mnist shape"
[ "$(json "$T/fm.json" "set(j['splits'][0]['histogram'])")" = "{6000}" ] || fail "fashion-mnist train histogram"
[ "$(json "$T/fm.json" "set(j['splits'][1]['histogram'])")" = "{1000}" ] || fail "fashion-mnist test histogram"
[ "$(json "$T/fm.json" "round(j['splits'][0]['mean'][0], 4)")" = "0.286" ] || fail "fashion-mnist mean"
pcq-info --data "fashion-mnist:$fm" --split test --limit 100 --json >"$T/fm100.json"
[ "$(json "$T/fm100.json" "j['splits'][0]['n']")" = 100 ] || fail "--limit"

dir=$(scripts/cifar10-jpeg.sh) || skip "no CIFAR-10 JPEG copy in ../shared/data"
pcq-info --data "folder:$dir" --json --save "$T/cifar.msgpack" >"$T/c.json"
[ "$(json "$T/c.json" "[s['n'] for s in j['splits']]")" = "[50000, 10000]" ] || fail "cifar10-jpeg counts"
[ "$(json "$T/c.json" "j['splits'][0]['shape']")" = "[3, 32, 32]" ] || fail "cifar10-jpeg shape"
[ "$(json "$T/c.json" "set(j['splits'][0]['histogram'])")" = "{5000}" ] || fail "cifar10-jpeg train histogram"
[ "$(json "$T/c.json" "set(j['splits'][1]['histogram'])")" = "{1000}" ] || fail "cifar10-jpeg test histogram"
[ "$(json "$T/c.json" "j['splits'][0]['class_names'][0] + ' ' + j['splits'][0]['class_names'][9]")" = "airplane truck" ] ||
	fail "cifar10-jpeg class order"
echo "cifar10-jpeg decoded in $(json "$T/c.json" "[round(s['seconds'], 2) for s in j['splits']]") s"
# The saved data set reads back with the same content.
pcq-info --data "dataset:$T/cifar.msgpack" --json >"$T/d.json"
[ "$(json "$T/d.json" "[s['sha256'] for s in j['splits']]")" = "$(json "$T/c.json" "[s['sha256'] for s in j['splits']]")" ] ||
	fail "dataset file content differs from the folder"
echo "dataset file read in $(json "$T/d.json" "[round(s['seconds'], 2) for s in j['splits']]") s"
