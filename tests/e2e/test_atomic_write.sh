# A write that fails half-way leaves no partial file and keeps the old one.
. tests/e2e/lib.sh
make_cifar10 "$T/cifar"
pcq-info --data "cifar10:$T/cifar" --save "$T/out.msgpack" >/dev/null
cp "$T/out.msgpack" "$T/before.msgpack"

# A file-size limit of 4 KiB: the write fails with EFBIG part-way through
# (SIGXFSZ ignored so that write() reports the error instead of a signal).
set +e
(trap '' XFSZ; ulimit -f 4; pcq-info --data "cifar10:$T/cifar" --save "$T/out.msgpack") \
	>/dev/null 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a failed write exited $rc, expected 1"
grep -q "'$T/out.msgpack': write failed: File too large" "$T/err" || fail "message: $(cat "$T/err")"
cmp -s "$T/out.msgpack" "$T/before.msgpack" || fail "the existing file was changed"
[ -z "$(ls "$T" | grep '\.tmp\.')" ] || fail "a temporary file was left: $(ls "$T")"

# The same with no earlier file: nothing is left at all.
set +e
(trap '' XFSZ; ulimit -f 4; pcq-info --data "cifar10:$T/cifar" --save "$T/new.msgpack") >/dev/null 2>&1
set -e
[ ! -e "$T/new.msgpack" ] || fail "a partial new file was left"
[ -z "$(ls "$T" | grep '\.tmp\.')" ] || fail "a temporary file was left: $(ls "$T")"

# Disk full: /dev/full as the output, and stdout redirected to it.
expect_error 1 "'/dev/full': write failed: No space left on device" \
	pcq-info --data "cifar10:$T/cifar" --save /dev/full --json
[ -c /dev/full ] || fail "/dev/full was replaced"
set +e
pcq-info --data "cifar10:$T/cifar" --save - >/dev/full 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "writing to a full stdout exited $rc"
grep -q "'stdout': write failed" "$T/err" || fail "message: $(cat "$T/err")"
