# SPDX-License-Identifier: BSD-3-Clause
# Bash completion for ftgtctl: friendly forms, method names and a method's --params.
# The candidates come from `ftgtctl __complete WORDS... CUR`, which reads the schema
# built into the binary, so completion never drifts from what ftgtctl accepts.
#
#   source scripts/ftgtctl-completion.bash     (or copy to /etc/bash_completion.d/ftgtctl)

_ftgtctl() {
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	cmd=${COMP_WORDS[0]}
	# The binary as typed (./build/app/ftgtctl/ftgtctl), else the one on PATH.
	if [[ $cmd == "~"* ]]; then
		cmd=${HOME}${cmd:1}
	fi
	if ! [[ -x $cmd ]] && ! type -P "$cmd" >/dev/null 2>&1; then
		cmd=ftgtctl
	fi

	case $prev in
	-s | --socket)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	-t | --timeout)
		return 0
		;;
	esac

	local out
	out=$("$cmd" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return 0
	COMPREPLY=()
	local line
	while IFS= read -r line; do
		if [[ $line == __files__ ]]; then
			local f
			while IFS= read -r f; do
				COMPREPLY+=("$f")
			done < <(compgen -f -- "$cur")
			compopt -o filenames 2>/dev/null
		elif [[ -n $line ]]; then
			COMPREPLY+=("$line")
		fi
	done <<<"$out"
	return 0
}

complete -F _ftgtctl ftgtctl
