# make install: the tools and their bash completion land under DESTDIR
# and run from there; make uninstall removes them. The completion
# (completions/pcq.bash) offers each tool's options from its --help, the
# values of --arch, --device, --split, --norm and --data's kinds (which
# every tool's help must still name), pcq-kmeans's commands, and paths
# after --data KIND: (bash breaks words at ':').
. tests/e2e/lib.sh
command -v bash >/dev/null || skip "no bash"
root=$T/root
make --no-print-directory install DESTDIR="$root" PREFIX=/usr >"$T/log" 2>&1 ||
	fail "make install: $(tail -3 "$T/log")"
for t in train kmeans fuse quantize infer info; do
	[ -x "$root/usr/bin/pcq-$t" ] || fail "pcq-$t not installed"
	[ -f "$root/usr/share/bash-completion/completions/pcq-$t" ] || fail "no completion for pcq-$t"
done
"$root/usr/bin/pcq-info" --version >/dev/null || fail "the installed pcq-info does not run"

# Each completion case: a command line (the cursor at its end) and the
# candidates bash would get, joined by '|'.
mkdir "$T/dir.d" && touch "$T/model.msgpack" "$T/dir.d/data.msgpack"
cat >"$T/cases" <<CASES
pcq-train --ar	--arch|
pcq-train --arch 	resnet20|resnet32|resnet44|resnet56|alexnet-small|
pcq-infer --device 	cpu|cuda|auto|
pcq-info --split 	train|test|all|
pcq-infer --split 	train|test|
pcq-kmeans 	fit|assign|features|
pcq-kmeans fit --cl	--clusters|
pcq-fuse --b	--bit|
pcq-train --data fash	fashion-mnist:|
pcq-train --data fashion-mnist:$T/di	$T/dir.d|
pcq-infer x --data dataset:$T/dir.d/d	$T/dir.d/data.msgpack|
pcq-quantize $T/mod	$T/model.msgpack|
CASES
bash -c '
. completions/pcq.bash
PATH=$1:$PATH
while IFS="	" read -r line want; do
	COMP_LINE=$line COMP_POINT=${#line}
	words=($line)
	[[ $line == *" " ]] && words+=("")
	COMPREPLY=()
	_pcq "${words[0]}" "${words[-1]}" "${words[-2]}"
	got=$(printf "%s|" "${COMPREPLY[@]}")
	# after a colon bash completes only what follows it
	[[ ${words[-1]} == *:* ]] && want=${want#*:}
	[[ $got == "$want" ]] || { echo "completing \"$line\": got \"$got\", expected \"$want\""; exit 1; }
done <"$2"
# the values offered are the ones the tools name in their help
for a in $_pcq_archs; do pcq-train --help | grep -q -- "$a" || { echo "pcq-train --help lacks $a"; exit 1; }; done
for d in $_pcq_devices; do pcq-infer --help | grep -q -- "$d" || { echo "pcq-infer --help lacks $d"; exit 1; }; done
for n in $_pcq_norms; do pcq-train --help | grep -q -- "$n" || { echo "pcq-train --help lacks $n"; exit 1; }; done
for k in $_pcq_data_kinds; do pcq-kmeans --help | grep -q -- "$k" || { echo "pcq-kmeans --help lacks $k"; exit 1; }; done
for c in $_pcq_kmeans_commands; do pcq-kmeans --help | grep -q -- "pcq-kmeans $c" || { echo "pcq-kmeans --help lacks $c"; exit 1; }; done
' bash "$root/usr/bin" "$T/cases" >"$T/out" 2>&1 || fail "$(cat "$T/out")"

make --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >/dev/null
[ -z "$(find "$root" -type f)" ] || fail "make uninstall left $(find "$root" -type f)"
echo "installed, completed, uninstalled"
