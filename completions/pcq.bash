# Bash completion for the PCQ tools: pcq-train, pcq-kmeans, pcq-fuse,
# pcq-quantize, pcq-infer and pcq-info. `make install` puts it where
# bash-completion finds it; or `. completions/pcq.bash` in a shell.
# Options come from each tool's own --help, read once a shell, so they
# follow the tools; the values below are checked against those help
# texts by tests/e2e/test_install.sh.

_pcq_data_kinds="cifar10 cifar100 mnist fashion-mnist folder dataset"
_pcq_archs="resnet20 resnet32 resnet44 resnet56 alexnet-small"
_pcq_devices="cpu cuda auto"
_pcq_norms="cifar10 mnist fashion-mnist imagenet data"
_pcq_kmeans_commands="fit assign features"

# _pcq_options TOOL: TOOL's long options, from its --help (cached).
_pcq_options() {
	local var=_pcq_opts_${1//-/_}
	if [[ -z ${!var+set} ]]; then
		printf -v "$var" '%s' "$("$1" --help 2>/dev/null |
			sed -n 's/^ *\(-[a-z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' | tr '\n' ' ')"
	fi
	printf '%s' "${!var}"
}

# _pcq_add WORDS CUR: COMPREPLY gets the words starting with CUR.
_pcq_add() {
	local w
	for w in $(compgen -W "$1" -- "$2"); do
		COMPREPLY+=("$w")
	done
}

# _pcq_paths CUR [dirs]: files (or only folders) starting with CUR; bash
# marks folders with a '/' and adds no space after them.
_pcq_paths() {
	local p flag=-f
	[[ -n ${2-} ]] && flag=-d
	while IFS= read -r p; do
		COMPREPLY+=("$p")
	done < <(compgen $flag -- "$1")
	compopt -o filenames 2>/dev/null
}

_pcq() {
	COMPREPLY=()
	# The words by blanks only: bash also breaks at ':', which --data's
	# KIND:PATH holds; what is completed is then the part after the last
	# ':', and the candidates are cut to match.
	local line=${COMP_LINE:0:COMP_POINT} tool=${1##*/}
	local cur=${line##*[[:blank:]]}
	local before=${line%"$cur"}
	before=${before%"${before##*[![:blank:]]}"}
	local prev=${before##*[[:blank:]]}
	[[ $before == *[![:blank:]]* ]] || prev=

	case $prev in
	--arch) _pcq_add "$_pcq_archs" "$cur" ;;
	--device) _pcq_add "$_pcq_devices" "$cur" ;;
	--split)
		_pcq_add "train test" "$cur"
		[[ $tool == pcq-info ]] && _pcq_add all "$cur" ;;
	--norm)
		_pcq_add "$_pcq_norms" "$cur"
		[[ $tool == pcq-kmeans ]] && _pcq_paths "$cur" ;;
	--data)
		if [[ $cur == *:* ]]; then
			local kind=${cur%%:*} path=${cur#*:} p
			local saved=("${COMPREPLY[@]}")
			COMPREPLY=()
			if [[ $kind == dataset ]]; then _pcq_paths "$path"; else _pcq_paths "$path" dirs; fi
			for p in "${COMPREPLY[@]}"; do
				saved+=("$kind:$p")
			done
			COMPREPLY=("${saved[@]}")
		else
			local k
			for k in $_pcq_data_kinds; do
				[[ $k: == "$cur"* ]] && COMPREPLY+=("$k:")
			done
			compopt -o nospace 2>/dev/null
		fi ;;
	-o | --output | --kmeans | --resume | --log | --predictions | --save) _pcq_paths "$cur" ;;
	--epochs | --batch | --lr | --momentum | --wd | --lr-step | --lr-gamma | --seed | \
	--threads | --limit | --bit | --first-last-bit | --residual-bit | --clusters | --smooth | --partitions | --tol | --refine) ;;
	*)
		if [[ $cur == -* ]]; then
			_pcq_add "$(_pcq_options "$1")" "$cur"
		elif [[ $tool == pcq-kmeans && ${before#"${before%%[![:blank:]]*}"} == "$1" ]]; then
			_pcq_add "$_pcq_kmeans_commands" "$cur"
		else
			_pcq_paths "$cur"
		fi ;;
	esac
	# Bash replaces only what follows the last ':' of the word.
	if [[ $cur == *:* && ${#COMPREPLY[@]} -gt 0 ]]; then
		local head=${cur%"${cur##*:}"} i
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$head"}
		done
	fi
}

complete -F _pcq pcq-train pcq-kmeans pcq-fuse pcq-quantize pcq-infer pcq-info
