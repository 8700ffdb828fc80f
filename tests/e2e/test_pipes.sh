# "-" is stdin and stdout: a data set file streams through a pipe, and a
# file read from stdin has the same summary as the file on disk.
. tests/e2e/lib.sh
make_cifar10 "$T/cifar"
# With --save - the file goes to stdout and the summary to stderr.
SOURCE_DATE_EPOCH=0 pcq-info --data "cifar10:$T/cifar" --save - 2>"$T/summary" >"$T/a.msgpack"
grep -q '^train  10 images 3x32x32' "$T/summary" || fail "summary: $(cat "$T/summary")"
SOURCE_DATE_EPOCH=0 pcq-info --data "cifar10:$T/cifar" --save "$T/b.msgpack" >/dev/null
pcq-info --json - <"$T/a.msgpack" >"$T/stdin.json"
pcq-info --json "$T/b.msgpack" >"$T/file.json"
[ "$(json "$T/stdin.json" "j['file']")" = "-" ] || fail "stdin is not named -"
# Same data; the command lines differ (--save - vs a path), so compare tensors.
[ "$(json "$T/stdin.json" "j['tensors']")" = "$(json "$T/file.json" "j['tensors']")" ] ||
	fail "stdin and file summaries differ"
# A pipe end to end: write to stdout, read from stdin.
pcq-info --data "cifar10:$T/cifar" --save - 2>/dev/null | pcq-info --json - >"$T/pipe.json"
[ "$(json "$T/pipe.json" "j['kind']")" = dataset ] || fail "pipe"
