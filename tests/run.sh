#!/bin/sh
# Runs tests and ends with one line "tests: N passed, N failed, N skipped";
# exit status 1 if any failed. Usage: sh tests/run.sh [-j N] TEST...
# A TEST is a cmocka binary (unit tests) or a shell script (end-to-end
# tests, run by sh with bin/, or $E2E_BIN, first on PATH and a fresh
# scratch folder in $TMPDIR_E2E). Its exit status is its verdict: 0 pass,
# 77 skipped (a script whose data set is not here), anything else fail.
# A test running longer than $TEST_TIMEOUT seconds (default 1200) is
# stopped and fails. Each test's output is kept and shown only when it
# fails; a pass prints its seconds and the cmocka cases it skipped (no
# GPU, for instance).
# -j N: N tests at a time, taken in the order given (so give the longest
# first), each end-to-end test with its share of the cores as
# $OMP_NUM_THREADS unless that is set: two tests on one thread each keep
# the cores busier than one on all of them (a test's Python checks, file
# reading and serial parts leave cores idle), so on CI's 2 cores make test
# takes a quarter less time (docs/TESTING.md). Unit tests keep OpenMP's
# default, all cores, as some compare 1 thread with all of them.
root=$(pwd)
limit=${TEST_TIMEOUT:-1200}   # the longest test takes 150 s on CI's 2 cores

# run_one TEST VERDICTS: runs TEST, prints its report in one write and
# appends its verdict to the file VERDICTS.
run_one() {
	t=$1
	scratch=$(mktemp -d)
	t0=$(date +%s)
	case $t in
	*.sh)
		threads=
		[ -n "${OMP_NUM_THREADS:-}" ] || [ -z "${E2E_THREADS:-}" ] ||
			threads=OMP_NUM_THREADS=$E2E_THREADS
		env $threads PATH="${E2E_BIN:-$root/bin}:$PATH" TMPDIR_E2E="$scratch" \
			timeout -k 10 "$limit" sh "$t" ;;
	*) timeout -k 10 "$limit" "$t" ;;
	esac >"$scratch.log" 2>&1
	rc=$?
	took="$(($(date +%s) - t0)) s"
	case $rc in
	0) verdict=PASS report="PASS $t ($took)"
		skipped=$(sed -n 's/^\[  SKIPPED \] \(test_[a-z0-9_]*\)$/\1/p' "$scratch.log" | sort -u)
		[ -z "$skipped" ] || report="$report; skipped: $(echo $skipped | sed 's/ /, /g')" ;;
	77) verdict=SKIP report="SKIP $t: $(tail -n 1 "$scratch.log")" ;;
	*) verdict=FAIL why="exit $rc, $took"
		[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || why="timed out after $limit s"
		report="FAIL $t ($why):
$(sed 's/^/    /' "$scratch.log" | tail -n 40)" ;;
	esac
	printf '%s\n' "$report"
	echo "$verdict" >>"$2"
	rm -rf "$scratch" "$scratch.log"
}

if [ "${1-}" = --one ]; then
	run_one "$2" "$3"
	exit 0
fi
jobs=1
case ${1-} in
-j) jobs=$2; shift 2 ;;
-j*) jobs=${1#-j}; shift ;;
esac
verdicts=$(mktemp)
if [ "$jobs" -gt 1 ] && [ $# -gt 1 ]; then
	cores=$(nproc)
	E2E_THREADS=$((cores > jobs ? cores / jobs : 1))
	export E2E_THREADS
	printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh "$0" --one {} "$verdicts"
else
	for t in "$@"; do
		run_one "$t" "$verdicts"
	done
fi
passed=$(grep -c PASS "$verdicts")
failed=$(grep -c FAIL "$verdicts")
skipped=$(grep -c SKIP "$verdicts")
rm -f "$verdicts"
echo "tests: $passed passed, $failed failed, $skipped skipped"
# a test that never reported (the runner killed) is a failure too
[ "$failed" -eq 0 ] && [ $((passed + skipped)) -eq $# ]
