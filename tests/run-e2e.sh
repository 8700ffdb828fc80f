#!/bin/sh
# Runs each end-to-end shell test given as an argument from the repository
# root with bin/ (or $E2E_BIN) first on PATH and a fresh scratch folder in
# $TMPDIR_E2E.
# A test exits 0 (pass), 77 (skipped, e.g. a data set that is not here) or
# anything else (fail); each line says how long it took. Ends with "e2e: N passed, N failed, N skipped".
passed=0 failed=0 skipped=0
root=$(pwd)
for t in "$@"; do
	scratch=$(mktemp -d)
	t0=$(date +%s)
	PATH="${E2E_BIN:-$root/bin}:$PATH" TMPDIR_E2E="$scratch" sh "$t" >"$scratch.log" 2>&1
	rc=$?
	took="$(($(date +%s) - t0)) s"
	case $rc in
	0) passed=$((passed + 1)); echo "PASS $t ($took)" ;;
	77) skipped=$((skipped + 1)); echo "SKIP $t: $(tail -n 1 "$scratch.log")" ;;
	*) failed=$((failed + 1)); echo "FAIL $t (exit $rc):"; sed 's/^/    /' "$scratch.log" | tail -n 30 ;;
	esac
	rm -rf "$scratch" "$scratch.log"
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
