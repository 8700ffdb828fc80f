# Helpers for the end-to-end tests (sourced; POSIX sh). Each test runs with
# bin/ first on PATH and a scratch folder in $TMPDIR_E2E (tests/run.sh).
set -eu
T=${TMPDIR_E2E:?run through tests/run.sh}

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }

# expect_error CODE PATTERN CMD...: CMD exits with CODE, prints exactly one
# line on stderr, and that line matches PATTERN (grep -E).
expect_error() {
	code=$1 pattern=$2
	shift 2
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code; stderr: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "'$*' printed $(wc -l <"$T/err") lines on stderr, expected 1: $(cat "$T/err")"
	grep -Eq -- "$pattern" "$T/err" || fail "'$*' said '$(cat "$T/err")', expected /$pattern/"
}

# json FILE EXPR: evaluates a Python expression on the JSON object in FILE
# (bound to j) and prints the result.
json() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# tensor_hashes FILE: each tensor's name and SHA-256 in a PCQ file, one
# line, so two files' tensors compare with cmp.
tensor_hashes() {
	pcq-info --json "$1" | python3 -c '
import json, sys
print([(t["name"], t["sha256"]) for t in json.load(sys.stdin)["tensors"]])'
}

# A small CIFAR-10 binary release in DIR: 5 training files of 2 records
# and a test file of 3 records; labels 0..9 in order, pixels = record index.
make_cifar10() {
	mkdir -p "$1"
	for b in 1 2 3 4 5; do
		: >"$1/data_batch_$b.bin"
		for r in 0 1; do
			label=$(( (2 * (b - 1) + r) % 10 ))
			{ printf "\\$(printf %03o "$label")"; head -c 3072 /dev/zero | tr '\0' "\\$(printf %03o $((b * 10 + r)))"; } >>"$1/data_batch_$b.bin"
		done
	done
	: >"$1/test_batch.bin"
	for r in 0 1 2; do
		{ printf "\\$(printf %03o "$r")"; head -c 3072 /dev/zero; } >>"$1/test_batch.bin"
	done
}
