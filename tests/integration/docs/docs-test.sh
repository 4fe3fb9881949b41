#!/usr/bin/env bash
# The man pages (deploy/man) and berthctl's bash completion
# (deploy/completion/berthctl.bash) against what the binaries say of
# themselves, so that neither drifts from them:
#
# - every page renders without a warning (groff -ww, man --warnings) and
#   has the sections an operator looks for;
# - every option berthd, berth-controller, berth-monitor and berthctl (each
#   of its commands) print in their help is in their page, and every option
#   a page documents is one of theirs;
# - every setting agent-config.c and controller-config.c read is in
#   berth-agent.yaml(5) / berth-controller.yaml(5), and every setting those
#   pages document is one they read;
# - the completion offers every command, kind and option berthctl's help
#   lists, only words berthctl accepts, files for -f, names from a live
#   controller, and nothing (quickly, silently) when none answers.
#
#   docs-test.sh BUILD_DIR
set -u
. "$(dirname "$0")/../../lib/check.sh"
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:?usage: docs-test.sh BUILD_DIR}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac

mandir=$top/deploy/man
completion=$top/deploy/completion/berthctl.bash
berthd=$build/agent/berthd
monitor=$build/agent/berth-monitor
controller=$build/scheduler-stub/berth-controller
berthctl=$build/scheduler-stub/berthctl
bash_completion=/usr/share/bash-completion/bash_completion

# What it needs (deploy/install-deps.sh installs it).
need=
command -v groff >/dev/null || need+=" groff-base"
command -v man >/dev/null || need+=" man-db"
[ -r "$bash_completion" ] || need+=" bash-completion"
if [ -n "$need" ]; then
	echo "SKIP: needs the packages$need (deploy/install-deps.sh)"
	exit 77
fi
for b in "$berthd" "$monitor" "$controller" "$berthctl"; do
	if [ ! -x "$b" ]; then
		echo "SKIP: $b is not built"
		exit 77
	fi
done

D=$(mktemp -d /tmp/berth-docs-test.XXXXXX)
ctl_pid=
cleanup() {
	[ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
# berthctl's settings file is looked for in $HOME: none here.
export HOME=$D/home
mkdir -p "$HOME"
unset BERTH_CONTROLLER BERTH_CONTROLLER_KEY BERTH_CONTROLLER_NAME BERTH_KEY BERTH_OPERATOR \
	BERTH_CONFIG BERTH_NAMESPACE BERTH_AGENT_SOCKET BERTH_AGENT_STATE_DIR

# A page as plain text, one paragraph a line (no breaks, no hyphenation).
text() {
	groff -man -Tascii -P-cbou -rLL=2000n -rHY=0 "$1" 2>/dev/null
}
# The lines of section $2 (a heading in capitals) of text $1.
section() {
	printf '%s\n' "$1" | awk -v s="$2" '/^[A-Z]/ { on = ($0 == s); next } on'
}
# The long options (--name) of help text $1: those its option tables start
# a line with, and those of its usage lines.
help_options() {
	printf '%s\n' "$1" | awk '
		/^[Uu]sage:/ { usage = 1 }
		/^$/ { usage = 0 }
		{
			line = $0
			if (!usage) {
				if (line !~ /^[ \t]+-/)
					next
				# only the option(s) the line starts with
				sub(/^[ \t]+/, "", line)
				sub(/  .*/, "", line)
			}
			while (match(line, /--[a-z][a-z-]*[a-z]/)) {
				print substr(line, RSTART, RLENGTH)
				line = substr(line, RSTART + RLENGTH)
			}
		}' | sort -u
}
# The long options of the option tags (.TP lines that start with a dash) of
# text $1.
tag_options() {
	printf '%s\n' "$1" | awk '
		/^       -/ {
			line = $0
			while (match(line, /--[a-z][a-z-]*[a-z]/)) {
				print substr(line, RSTART, RLENGTH)
				line = substr(line, RSTART + RLENGTH)
			}
		}' | sort -u
}
# Whether word $1 is in text $2 (not as part of a longer option or name).
has_word() {
	printf '%s\n' "$2" | grep -qE -- "(^|[^a-zA-Z0-9_.-])$(printf '%s' "$1" | sed 's/[.]/\\./g')([^a-zA-Z0-9_-]|$)"
}
in_list() {
	case " ${2//[$'\n\t']/ } " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- the pages render, cleanly ---------------------------------------------

pages="berthd.8 berth-monitor.8 berth-controller.8 berthctl.1 berth-agent.yaml.5 berth-controller.yaml.5"
for p in $pages; do
	f=$mandir/$p
	if [ ! -f "$f" ]; then
		bad "$p exists"
		continue
	fi
	expect "$p: groff -man -ww renders it without a warning" "" \
		"$(groff -man -ww -z "$f" 2>&1)"
	expect "$p: man --warnings renders it without a warning" "" \
		"$(MANWIDTH=80 MANPAGER=cat man --warnings=w -l "$f" 2>&1 >/dev/null)"
	expect "$p: its NAME line is one whatis reads" "0" "$(lexgrog "$f" >/dev/null 2>&1; echo $?)"
	t=$(text "$f")
	want="NAME SYNOPSIS DESCRIPTION FILES SEE_ALSO"
	case $p in
	*.5) want+=" SETTINGS" ;;
	*) want+=" OPTIONS EXIT_STATUS" ;;
	esac
	for s in $want; do
		expect "$p has a ${s/_/ } section" "yes" \
			"$(printf '%s\n' "$t" | grep -qx "${s/_/ }" && echo yes)"
	done
done
for f in "$mandir"/*; do
	in_list "$(basename "$f")" "$pages" || bad "deploy/man/$(basename "$f"): a page this test does not know"
done

# ---- the daemons' options ----------------------------------------------------

# check_options NAME PAGE HELP: every option of HELP is in PAGE's text, and
# every option PAGE documents (its tags) is in HELP (or --version).
check_options() {
	local name=$1 t o opts
	t=$(text "$mandir/$2")
	opts=$(help_options "$3")
	[ -n "$opts" ] || bad "$name: no option found in its help"
	for o in $opts; do
		has_word "$o" "$t" && ok "$2 documents $name $o" || bad "$2 documents $name $o"
	done
	for o in $(tag_options "$t"); do
		[ "$o" = --version ] && continue
		in_list "$o" "$opts" && ok "$name $o ($2) is in its help" ||
			bad "$2 documents $name $o, which its help does not list"
	done
}
check_options berthd berthd.8 "$("$berthd" --help)
$("$berthd" join --help)"
check_options berth-controller berth-controller.8 "$("$controller" --help)"
check_options berth-monitor berth-monitor.8 "$("$monitor" --help 2>&1)"
for b in "$berthd" "$controller" "$monitor" "$berthctl"; do
	n=$(basename "$b")
	page=$(ls "$mandir/$n".[18] 2>/dev/null)
	has_word --version "$(text "$page")" && ok "$n's page documents --version" ||
		bad "$n's page documents --version"
done

# ---- agent.yaml and controller.yaml ------------------------------------------

# The settings agent-config.c reads: the fields of read_root, and those of
# each sub-mapping's reader, under the name berth_yaml_opt_sub gives it.
# (two passes: the sub-mappings are registered after their readers)
agent_settings=$(awk '
	FNR == NR {
		if (match($0, /berth_yaml_opt_sub\(y, f, "[a-z_]+", read_[a-z_]+/)) {
			s = substr($0, RSTART, RLENGTH)
			split(s, a, "\"")
			r = a[3]; sub(/^, /, "", r)
			prefix[r] = a[2] "."
		}
		next
	}
	/^static void read_[a-z_]+\(/ { fn = $3; sub(/\(.*/, "", fn) }
	{
		line = $0
		while (match(line, /FLD\("[a-z_]+"\)/)) {
			f = substr(line, RSTART + 5, RLENGTH - 7)
			if (fn == "read_root")
				print f
			else if (fn in prefix)
				print prefix[fn] f
			else
				print "?" fn "." f
			line = substr(line, RSTART + RLENGTH)
		}
	}' "$top/agent/berthd/agent-config.c" "$top/agent/berthd/agent-config.c" | sort -u)
top_settings=$(printf '%s\n' "$agent_settings" | grep -v '[.?]')
n=$(printf '%s\n' "$top_settings" | grep -c .)
[ "$n" -ge 20 ] && ok "agent-config.c's settings found ($n at the top)" ||
	bad "agent-config.c's settings found: only $n at the top (has its field table changed?)"
expect "every sub-mapping reader of agent-config.c is known" "" \
	"$(printf '%s\n' "$agent_settings" | grep '^?')"
# deploy/agent.yaml shows every setting, commented out or not.
yaml_keys=$(grep -oE '^#?[a-z_]+:' "$top/deploy/agent.yaml" | tr -d '#:' | sort -u)
for k in $top_settings; do
	in_list "$k" "$yaml_keys" && ok "deploy/agent.yaml shows $k" ||
		bad "deploy/agent.yaml shows $k, a setting agent-config.c reads"
done
for k in $yaml_keys; do
	in_list "$k" "$top_settings" && ok "deploy/agent.yaml's $k is a setting" ||
		bad "deploy/agent.yaml's $k is a setting agent-config.c reads"
done
t=$(section "$(text "$mandir/berth-agent.yaml.5")" SETTINGS)
for s in $agent_settings $yaml_keys; do
	printf '%s\n' "$t" | grep -qE "^       $(printf '%s' "$s" | sed 's/[.]/\\./g')( |$)" &&
		ok "berth-agent.yaml.5 documents $s" || bad "berth-agent.yaml.5 documents $s"
done
for s in $(printf '%s\n' "$t" | sed -nE 's/^       ([a-z_.]+) \(.*/\1/p'); do
	in_list "$s" "$agent_settings" && ok "berth-agent.yaml.5's $s is a setting berthd reads" ||
		bad "berth-agent.yaml.5 documents $s, which agent-config.c does not read"
done

# controller.yaml: the settings table of controller-config.c, whose names
# are also the long options.
ctl_settings=$(sed -nE 's/^ *(TEXT|COUNT|DURATION|DURATION_RANGE)\("([a-z_]+)".*/\2/p' \
	"$top/scheduler-stub/controller/controller-config.c" | sort -u)
n=$(printf '%s\n' "$ctl_settings" | grep -c .)
[ "$n" -ge 10 ] && ok "controller-config.c's settings found ($n)" ||
	bad "controller-config.c's settings found: only $n (has its table changed?)"
t=$(section "$(text "$mandir/berth-controller.yaml.5")" SETTINGS)
ctl_help=$("$controller" --help)
for s in $ctl_settings; do
	printf '%s\n' "$t" | grep -qE "^       $s( |$)" && ok "berth-controller.yaml.5 documents $s" ||
		bad "berth-controller.yaml.5 documents $s"
	has_word "--${s//_/-}" "$ctl_help" && ok "controller setting $s is an option too" ||
		bad "controller setting $s has no option --${s//_/-}"
done
for s in $(printf '%s\n' "$t" | sed -nE 's/^       ([a-z_.]+) \(.*/\1/p'); do
	in_list "$s" "$ctl_settings" && ok "berth-controller.yaml.5's $s is a setting" ||
		bad "berth-controller.yaml.5 documents $s, which controller-config.c does not read"
done

# ---- berthctl: the page ------------------------------------------------------

main_help=$("$berthctl" --help)
commands=$(printf '%s\n' "$main_help" | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
n=$(printf '%s\n' "$commands" | grep -c .)
[ "$n" -ge 15 ] && ok "berthctl --help lists its commands ($n)" ||
	bad "berthctl --help lists its commands: only $n found"
t=$(text "$mandir/berthctl.1")
all_opts=$(help_options "$main_help")
for c in $commands; do
	h=$("$berthctl" "$c" --help 2>/dev/null)
	expect "berthctl $c --help succeeds" "0" "$("$berthctl" "$c" --help >/dev/null 2>&1; echo $?)"
	contains "berthctl $c --help prints a usage" "Usage: berthctl" "$h"
	printf '%s\n' "$t" | grep -qE "^   berthctl $c( |$)" && ok "berthctl.1 has a subsection for $c" ||
		bad "berthctl.1 has a subsection for $c"
	for o in $(help_options "$h"); do
		all_opts+=" $o"
		has_word "$o" "$t" && ok "berthctl.1 documents $c $o" || bad "berthctl.1 documents $c $o"
	done
done
all_opts+=" $(help_options "$("$berthctl" create secret --help)") --version"
for c in $(printf '%s\n' "$t" | sed -nE 's/^   berthctl ([a-z-]+).*/\1/p'); do
	in_list "$c" "$commands" && ok "berthctl.1's $c is a command" ||
		bad "berthctl.1 documents a command $c that berthctl --help does not list"
done
for o in $(tag_options "$t"); do
	in_list "$o" "$all_opts" && ok "berthctl.1's $o is an option of berthctl" ||
		bad "berthctl.1 documents $o, which no berthctl help lists"
done

# ---- berthctl: the completion ------------------------------------------------

expect "the completion is valid bash" "0" "$(bash -n "$completion" 2>&1; echo $?)"
# bash-completion loads it by the command's name, as installed
# (/usr/share/bash-completion/completions/berthctl; here the user's place).
mkdir -p "$HOME/.local/share/bash-completion/completions"
cp "$completion" "$HOME/.local/share/bash-completion/completions/berthctl"
expect "bash-completion loads it for berthctl" "complete -F _berthctl berthctl" \
	"$(bash --norc --noprofile -c '. "$1"; __load_completion berthctl || _completion_loader berthctl
		complete -p berthctl' _ "$bash_completion" 2>&1)"
rm -rf "$HOME/.local"

# The completion, run as readline would run it. Each argument after the mode
# (bc: with bash-completion loaded; plain: without) is a command line, its
# end the cursor; each prints one line: what is offered, space-separated.
cat >"$D/comp.sh" <<'EOF'
mode=$1 completion=$2
shift 2
if [ "$mode" = bc ]; then
	. /usr/share/bash-completion/bash_completion || exit 1
	declare -F _init_completion >/dev/null || declare -F _comp_initialize >/dev/null || exit 1
fi
. "$completion" || exit 1
for line in "$@"; do
	# readline's words: blanks separate them, and = and : are words too
	COMP_LINE=$line COMP_POINT=${#line} COMP_WORDS=()
	for tok in $line; do
		rest=$tok
		while [[ $rest =~ ^([^=:]*)([=:])(.*)$ ]]; do
			[[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
			COMP_WORDS+=("${BASH_REMATCH[2]}")
			rest=${BASH_REMATCH[3]}
		done
		[[ -n $rest ]] && COMP_WORDS+=("$rest")
	done
	[[ $line == *" " || $line == *[=:] ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_berthctl berthctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	echo ${COMPREPLY[@]+"${COMPREPLY[@]}"}
done
EOF
# comp MODE LINE...: the offers, a line each (berthctl from the build tree).
comp() {
	local mode=$1
	shift
	PATH=$build/scheduler-stub:$PATH bash --norc --noprofile -c '. "$0" "$@"' \
		"$D/comp.sh" "$mode" "$completion" "$@"
}
# Whether every word of $1 is in the list $2.
all_in() {
	local w
	for w in $1; do in_list "$w" "$2" || return 1; done
}

mkdir -p "$D/files/sub"
touch "$D/files/a.yaml" "$D/files/b.yml" "$D/files/c.json" "$D/files/d.txt"
export BERTH_CONTROLLER=tcp://127.0.0.1:1 # nothing listens there
for mode in bc plain; do
	got=$(cd "$D/files" && comp $mode "berthctl ge" "berthctl " "berthctl get " "berthctl get pods -o " \
		"berthctl apply -f " "berthctl apply --filename=" "berthctl get pods --output=y")
	expect "$mode: the completion runs" "7" "$(printf '%s\n' "$got" | wc -l)"
	mapfile -t r <<<"$got"
	expect "$mode: berthctl ge<TAB> is get" "get" "${r[0]}"
	for c in $commands; do
		in_list "$c" "${r[1]}" && ok "$mode: berthctl <TAB> offers $c" ||
			bad "$mode: berthctl <TAB> offers $c: [${r[1]}]"
	done
	all_in "${r[1]}" "$commands" && ok "$mode: berthctl <TAB> offers commands only" ||
		bad "$mode: berthctl <TAB> offers what berthctl --help does not list: [${r[1]}]"
	for k in pods nodes; do
		in_list "$k" "${r[2]}" && ok "$mode: berthctl get <TAB> offers $k" ||
			bad "$mode: berthctl get <TAB> offers $k: [${r[2]}]"
	done
	for f in wide json yaml; do
		in_list "$f" "${r[3]}" && ok "$mode: berthctl get pods -o <TAB> offers $f" ||
			bad "$mode: berthctl get pods -o <TAB> offers $f: [${r[3]}]"
	done
	for i in 4 5; do
		for f in a.yaml b.yml c.json sub; do
			in_list "$f" "${r[$i]%/}" && ok "$mode: apply -f <TAB> (${i}) offers $f" ||
				bad "$mode: apply -f <TAB> offers $f: [${r[$i]}]"
		done
		in_list d.txt "${r[$i]}" && bad "$mode: apply -f <TAB> offers d.txt, not a manifest" ||
			ok "$mode: apply -f <TAB> leaves out d.txt"
	done
	expect "$mode: --output=y<TAB> is yaml" "yaml" "${r[6]}"
done

# Every kind berthctl get's help names is offered, and -o's values are the
# ones berthctl takes (name exactly when it takes it).
kinds=$("$berthctl" get --help | awk '/^Usage:/ { u = 1 } /^$/ { u = 0 } u' |
	sed 's/^Usage: berthctl get//; s/\[.*//' | tr '|' '\n' | tr -d ' ' | grep -E '^[a-z]+$')
offered=$(comp bc "berthctl get " | head -1)
for k in $kinds; do
	in_list "$k" "$offered" && ok "get <TAB> offers $k" || bad "get <TAB> offers $k: [$offered]"
done
outputs=$(comp bc "berthctl get pods -o " | head -1)
for f in $outputs name; do
	rc=$("$berthctl" get pods -o "$f" --help >/dev/null 2>&1; echo $?)
	if in_list "$f" "$outputs"; then
		expect "get -o $f, which the completion offers, is taken" "0" "$rc"
	else
		expect "get -o $f, which the completion does not offer, is refused" "2" "$rc"
	fi
done

# Every option of every command's help is offered after the command (or
# after one of its words: node drain, create secret), and every word
# offered after get, describe, rollout, top, node and join-token is one
# berthctl takes (it fails to connect, 1, rather than refusing the word, 2).
declare -A helps
for c in $commands; do helps[$c]=$("$berthctl" "$c" --help); done
for c in $commands; do
	# commands whose help is the same (cordon, uncordon: node's) count as one
	h=${helps[$c]}
	lines=()
	for d in $commands; do
		[ "${helps[$d]}" = "$h" ] || continue
		lines+=("berthctl $d --")
		for s in $(comp bc "berthctl $d " | head -1); do
			case $s in */) continue ;; esac
			lines+=("berthctl $d $s --")
		done
	done
	subs=$(comp bc "berthctl $c " | head -1)
	offers=$(comp bc "${lines[@]}" | tr '\n' ' ')
	for o in $(help_options "$h"); do
		case " $offers " in
		*" $o "* | *" $o="*) ok "berthctl $c --<TAB> offers $o" ;;
		*) bad "berthctl $c --<TAB> offers $o" ;;
		esac
	done
	case $c in get | describe | rollout | top | node | join-token) ;; *) continue ;; esac
	for s in $subs; do
		case $c in
		get) args=(get "$s") ;;
		describe) args=(describe "$s" x) ;;
		rollout) [ "${s%/}" != "$s" ] && continue; args=(rollout "$s" deployment/x) ;;
		top) args=(top "$s") ;;
		node) args=(node "$s" x) && [ "$s" = taint ] && args+=(k:NoSchedule) ;;
		join-token) args=(join-token "$s") && [ "$s" = rm ] && args+=(x) ;;
		esac
		rc=$("$berthctl" --controller tcp://127.0.0.1:1 "${args[@]}" </dev/null >/dev/null 2>&1; echo $?)
		expect "berthctl takes ${args[*]}, which the completion offers" "1" "$rc"
	done
done

# A live controller (its channels on Unix sockets here): names come from it.
cs=$D/ctl
mkdir -p "$cs"
"$controller" -d "$cs/state" --rpc "ipc://$cs/rpc.sock" --events "ipc://$cs/events.sock" \
	--stream "ipc://$cs/stream.sock" --survey "ipc://$cs/survey.sock" >"$cs/log" 2>&1 &
ctl_pid=$!
export BERTH_CONTROLLER=ipc://$cs/rpc.sock BERTH_CONTROLLER_KEY=$cs/state/controller.pub \
	BERTH_KEY=$cs/state/admin.key
for _ in $(seq 100); do
	[ -S "$cs/rpc.sock" ] && [ -f "$cs/state/admin.key" ] && break
	sleep 0.1
done
out=$("$berthctl" create namespace team-a 2>&1)
expect "a live controller: create namespace team-a" "namespace/team-a created" "$out"
mapfile -t r < <(comp bc "berthctl -n " "berthctl describe namespace t" "berthctl get ns " \
	"berthctl --namespace=te")
for n in default team-a; do
	in_list "$n" "${r[0]}" && ok "-n <TAB> offers the controller's namespace $n" ||
		bad "-n <TAB> offers the controller's namespace $n: [${r[0]}] (log: $(cat "$cs/log"))"
done
expect "describe namespace t<TAB> is team-a" "team-a" "${r[1]}"
in_list team-a "${r[2]}" && ok "get ns <TAB> offers team-a" || bad "get ns <TAB> offers team-a: [${r[2]}]"
expect "--namespace=te<TAB> is team-a" "team-a" "${r[3]}"
expect "plain: describe namespace t<TAB> is team-a" "team-a" \
	"$(comp plain "berthctl describe namespace t")"
id=$("$berthctl" join-token create 2>/dev/null | cut -d. -f1)
[ -n "$id" ] && ok "a live controller: join-token create" || bad "a live controller: join-token create"
in_list "$id" "$(comp bc "berthctl join-token rm ")" && ok "join-token rm <TAB> offers the token's id" ||
	bad "join-token rm <TAB> offers the token's id $id: [$(comp bc "berthctl join-token rm ")]"

# No controller, or one that never answers (its events channel, which
# takes the connection and says nothing): names complete to nothing,
# silently, within seconds.
for addr in tcp://127.0.0.1:1 "ipc://$cs/events.sock"; do
	for line in "berthctl get nodes " "berthctl -n "; do
		start=$(date +%s)
		got=$(BERTH_CONTROLLER=$addr comp bc "$line" 2>"$D/err")
		took=$(($(date +%s) - start))
		expect "controller $addr: [$line<TAB>] offers nothing" "" "$got"
		expect "controller $addr: [$line<TAB>] says nothing" "" "$(cat "$D/err")"
		[ "$took" -le 5 ] && ok "controller $addr: [$line<TAB>] done in ${took}s" ||
			bad "controller $addr: [$line<TAB>] took ${took}s"
	done
done

check_summary
