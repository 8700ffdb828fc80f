#!/bin/sh
# Runs each cmocka test binary given as an argument and ends with one
# summary line "unit: N passed, N failed" (binaries, not cases; cmocka's
# own per-case lines come before it). Exit status 1 if any binary failed.
passed=0 failed=0
for t in "$@"; do
	t0=$(date +%s)
	if "$t"; then
		passed=$((passed + 1))
		echo "PASS $t ($(($(date +%s) - t0)) s)"
	else
		failed=$((failed + 1))
		echo "FAILED: $t" >&2
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
