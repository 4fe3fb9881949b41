# bash completion for berthctl(1)                         -*- shell-script -*-
#
# Installed as /usr/share/bash-completion/completions/berthctl, where
# bash-completion loads it the first time berthctl is completed; or source
# it from ~/.bashrc. It uses bash-completion's helpers when they are there
# (_init_completion, _filedir) and plain compgen when they are not.
#
# Commands, kinds (with kubectl's short names where berthctl takes them),
# options and their values are completed from the lists below, which
# tests/integration/docs keeps in step with `berthctl COMMAND --help'. Names
# of live objects (nodes, namespaces, pods, containers, workloads) are asked
# of the controller with `berthctl get KIND', whose table's NAME column is
# read, with the connection options of the command line; that call is
# bounded (about 3 s) and silent, so a controller that does not answer
# completes nothing rather than hanging the shell.

# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)): words split as meant

_berthctl_commands='apply create delete get describe events logs exec attach port-forward stop rollout health top node
    cordon uncordon drain join-token keygen image agent run controller version'

# The connection and namespace options every command but run, image and
# keygen takes (berthctl takes them before or after the command).
_berthctl_global_opts='--controller --controller-key --controller-name --key --operator
    --config --timeout --request-timeout -n --namespace -A --all-namespaces'
_berthctl_global_argopts='--controller --controller-key --controller-name --key --operator
    --config --timeout --request-timeout -n --namespace'

_berthctl_get_kinds='nodes namespaces workloads deployments daemonsets jobs cronjobs
    replicasets poddisruptionbudgets secrets configmaps pods containers
    no ns deploy ds cj rs pdb cm po'
_berthctl_describe_kinds='node namespace workload deployment daemonset job cronjob pod
    container poddisruptionbudget secret configmap ns deploy ds cj po pdb cm'
_berthctl_delete_kinds='workload deployment daemonset job cronjob namespace
    poddisruptionbudget secret configmap node deploy ds cj ns pdb cm'

_berthctl_caps='ALL AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE
    CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE
    LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST
    NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE
    SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG
    WAKE_ALARM'

# _berthctl_options CMD [SUB]: sets opts (every option of the command) and
# argopts (those that take a value, as the next word).
_berthctl_options()
{
    opts='' argopts=''
    case $1 in
    apply)
        opts='-f --filename --dry-run --wait --wait-timeout'
        argopts='-f --filename --wait-timeout' ;;
    create)
        case $2 in
        namespace | ns) opts='--dry-run' ;;
        job) opts='--from --dry-run' argopts='--from' ;;
        configmap | cm)
            opts='--from-literal --from-file --dry-run'
            argopts='--from-literal --from-file' ;;
        secret)
            opts='--from-literal --from-file --type --docker-server --docker-username
                --docker-password --docker-email --cert --key --dry-run'
            argopts='--from-literal --from-file --type --docker-server --docker-username
                --docker-password --docker-email --cert --key' ;;
        *)
            opts='--from --dry-run --from-literal --from-file --type --docker-server
                --docker-username --docker-password --docker-email --cert --key'
            argopts='--from --from-literal --from-file --type --docker-server
                --docker-username --docker-password --docker-email --cert --key' ;;
        esac ;;
    delete)
        opts='-f --filename --dry-run'
        argopts='-f --filename' ;;
    get)
        opts='-o --output -l --selector --node --workload --show-values -w --watch'
        argopts='-o --output -l --selector --node --workload' ;;
    events)
        opts='--for --types -w --watch -o --output'
        argopts='--for --types -o --output' ;;
    describe)
        opts='--node' argopts='--node' ;;
    logs)
        opts='-c --container -p --previous -f --follow --tail --timestamps --node'
        argopts='-c --container --tail --node' ;;
    exec | attach)
        opts='-c --container -i --stdin -t --tty --node' argopts='-c --container --node' ;;
    port-forward)
        opts='--address --node' argopts='--address --node' ;;
    stop)
        opts='--grace --node' argopts='--grace --node' ;;
    rollout)
        opts='-w --watch=false --revision --to-revision'
        argopts='--revision --to-revision' ;;
    health)
        opts='--wait -o --output' argopts='--wait -o --output' ;;
    top)
        opts='--node --workload -o --output' argopts='--node --workload -o --output' ;;
    node | cordon | uncordon)
        if [[ $1 == node && $2 == drain ]]; then
            _berthctl_options drain
            return
        fi
        opts='--fingerprint' argopts='--fingerprint' ;;
    drain)
        opts='--ignore-daemonsets --force --timeout --delete-emptydir-data'
        argopts='--timeout' ;;
    join-token)
        case $2 in
        ls | list | rm | delete) ;;
        *)
            opts='--uses --ttl --description --print-join-command'
            argopts='--uses --ttl --description' ;;
        esac ;;
    keygen)
        opts='--out --pub --operator --force' argopts='--out --pub --operator' ;;
    image)
        opts='--image-store --state-dir --registries --platform --name -f --force'
        argopts='--image-store --state-dir --registries --platform --name' ;;
    agent)
        opts='--socket --state-dir -o --output -f --follow --tail --timestamps --grace
            --key --operator'
        argopts='--socket --state-dir -o --output --tail --grace --key --operator' ;;
    run)
        opts='--rootfs --image --pull --registries --image-store --name --memory --cpus
            --cpu-weight --pids --cpuset --net -p --publish -e --env -w --workdir -u --user
            --group-add --hostname --read-only -v --volume --tmpfs --cap-add --cap-drop
            --seccomp --ulimit --allow-privilege-escalation --init --userns --device
            --cdi-spec-dir --cgroup-parent --state-dir'
        argopts='--rootfs --image --pull --registries --image-store --name --memory --cpus
            --cpu-weight --pids --cpuset --net -p --publish -e --env -w --workdir -u --user
            --group-add --hostname -v --volume --tmpfs --cap-add --cap-drop --seccomp
            --ulimit --userns --device --cdi-spec-dir --cgroup-parent --state-dir' ;;
    version)
        opts='--client' ;;
    esac
    case $1 in
    run | image | keygen | agent) ;;
    *)
        opts+=" $_berthctl_global_opts"
        argopts+=" $_berthctl_global_argopts" ;;
    esac
    opts+=' -h --help'
}

# Whether word $1 is in the list $2.
_berthctl_in()
{
    [[ " ${2//[$'\n\t']/ } " == *" $1 "* ]]
}

_berthctl_add()
{
    local IFS=$' \t\n' w seen=' '
    for w in $(compgen -W "$1" -- "$cur"); do
        [[ $seen == *" $w "* ]] && continue
        seen+="$w "
        COMPREPLY+=("$w")
    done
}

# Files (of the extensions $1, as 'yaml|yml', and directories), or with
# -d directories only.
_berthctl_files()
{
    if declare -F _filedir >/dev/null; then
        _filedir "$@"
        return
    fi
    local IFS=$'\n' f ext
    compopt -o filenames 2>/dev/null
    if [[ $1 == -d ]]; then
        COMPREPLY+=($(compgen -d -- "$cur"))
        return
    fi
    for f in $(compgen -f -- "$cur"); do
        if [[ -d $f || -z $1 ]]; then
            COMPREPLY+=("$f")
            continue
        fi
        IFS='|'
        for ext in $1; do
            [[ $f == *."$ext" ]] && COMPREPLY+=("$f") && break
        done
        IFS=$'\n'
    done
}

# Print the names berthctl lists, quietly and within a few seconds: the
# NAME (REFERENCE, ID) column of `berthctl ARG...' (get KIND, join-token
# ls), with the command line's connection options; or with --local, of a
# command on this machine (agent ps, image ls).
_berthctl_list()
{
    local -a run
    if [[ $1 == --local ]]; then
        shift
        run=("$_berthctl_bin" "${_berthctl_local[@]}" --request-timeout 2s "$@")
    else
        run=("$_berthctl_bin" "${_berthctl_conn[@]}" --request-timeout 2s "$@")
    fi
    if type -P timeout >/dev/null; then
        run=(timeout -k 1 3 "${run[@]}")
    fi
    "${run[@]}" 2>/dev/null </dev/null | awk '
        NR == 1 {
            for (i = NF; i >= 1; i--)
                if ($i == "NAME" || $i == "REFERENCE" || $i == "ID")
                    col = i
            next
        }
        col && $col != "" { print $col }'
}

# Offer the names of KIND ($1), each after the prefix $2.
_berthctl_names()
{
    local prefix=${2-} names
    names=$(_berthctl_list get "$1")
    [[ -n $names ]] || return 0
    local IFS=$'\n' n
    for n in $names; do
        [[ $prefix$n == "$cur"* ]] && COMPREPLY+=("$prefix$n")
    done
}

_berthctl()
{
    # shellcheck disable=SC2034 # comp_args: _comp_initialize's
    local cur prev words cword comp_args split=false was_split=''
    if declare -F _init_completion >/dev/null; then
        _init_completion -s -n : || return
    elif declare -F _comp_initialize >/dev/null; then
        _comp_initialize -s -n : -- "$@" || return
        [[ $was_split ]] && split=true
    else
        # Without bash-completion: the words of the line up to the cursor,
        # split at blanks only (readline also breaks them at = and :).
        local line=${COMP_LINE:0:COMP_POINT}
        read -ra words <<<"$line"
        [[ -z $line || $line == *[[:blank:]] ]] && words+=("")
        cword=$((${#words[@]} - 1))
        cur=${words[cword]}
        prev=${words[cword - 1]-}
        if [[ $cur == --?*=* ]]; then
            prev=${cur%%=*} cur=${cur#*=} split=true
        fi
    fi
    COMPREPLY=()

    # The berthctl being completed, to ask it for names, and the options
    # to pass it (the helpers below see these locals).
    local _berthctl_bin=${words[0]}
    local -a _berthctl_conn=() _berthctl_local=()
    # shellcheck disable=SC2088 # a literal ~/ the shell left unexpanded
    [[ $_berthctl_bin == "~/"* ]] && _berthctl_bin=$HOME/${_berthctl_bin#"~/"}
    type -P "$_berthctl_bin" >/dev/null || _berthctl_bin=berthctl

    # The command, its words, and the connection options to pass on.
    local i w v cmd='' sub='' dashdash=false opts argopts
    local -a args=()
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if [[ $w == -- ]]; then
            dashdash=true
            break
        fi
        if [[ $w == -* ]]; then
            v=
            if [[ $w == --*=* ]]; then
                v=${w#*=} w=${w%%=*}
            elif [[ ${words[i + 1]-} == = ]]; then
                v=${words[i + 2]-}
                ((i += 2))
            else
                _berthctl_options "$cmd" "${args[0]-}"
                if _berthctl_in "$w" "$argopts"; then
                    v=${words[i + 1]-}
                    ((i++))
                fi
            fi
            case $w in
            --controller | --controller-key | --controller-name | --key | --operator | --config)
                [[ -n $v && $cmd != run ]] && _berthctl_conn+=("$w" "$v")
                case $w in --key | --operator) [[ -n $v ]] && _berthctl_local+=("$w" "$v") ;; esac ;;
            -n | --namespace)
                [[ -n $v && $cmd != run ]] && _berthctl_conn+=("$w" "$v") ;;
            -n?*)
                [[ $cmd != run ]] && _berthctl_conn+=("$w") ;;
            --socket | --state-dir)
                [[ $cmd == agent && -n $v ]] && _berthctl_local+=("$w" "$v") ;;
            esac
            continue
        fi
        if [[ -z $cmd ]]; then
            cmd=$w
        else
            args+=("$w")
        fi
    done

    # After run's --: the container's command, then files.
    if $dashdash; then
        if [[ $cmd == run ]]; then
            if ((i + 1 == cword)); then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                _berthctl_files
            fi
        fi
        return
    fi

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            _berthctl_add "$_berthctl_global_opts -h --help --version"
        elif _berthctl_in "$prev" "$_berthctl_global_argopts"; then
            _berthctl_value "" "$prev"
        else
            _berthctl_add "$_berthctl_commands"
        fi
        return
    fi
    sub=${args[0]-}

    # An option's value.
    _berthctl_options "$cmd" "$sub"
    if [[ $prev == -* ]] && _berthctl_in "$prev" "$argopts"; then
        _berthctl_value "$cmd" "$prev"
        _berthctl_colons
        return 0
    fi
    if $split; then # --flag=VALUE of a flag that takes no separate value
        [[ $prev == --watch ]] && _berthctl_add 'false true'
        return 0
    fi

    if [[ $cur == -* ]]; then
        _berthctl_add "$opts"
        return 0
    fi

    # The command's own words.
    local n=${#args[@]}
    case $cmd in
    apply) ;;
    create)
        if ((n == 0)); then
            _berthctl_add 'namespace job secret configmap'
        elif ((n == 1)) && [[ $sub == secret ]]; then
            _berthctl_add 'generic docker-registry tls'
        fi ;;
    delete)
        if ((n == 0)); then
            _berthctl_add "$_berthctl_delete_kinds"
        elif _berthctl_in "$sub" "$_berthctl_delete_kinds workloads deployments daemonsets
            jobs cronjobs namespaces poddisruptionbudgets secrets configmaps nodes"; then
            _berthctl_names "$sub"
        fi ;;
    get)
        if ((n == 0)); then
            _berthctl_add "$_berthctl_get_kinds"
        elif _berthctl_in "$sub" "$_berthctl_get_kinds $_berthctl_describe_kinds"; then
            _berthctl_names "$sub"
        fi ;;
    describe)
        if ((n == 0)); then
            _berthctl_add "$_berthctl_describe_kinds"
        elif ((n == 1)); then
            _berthctl_names "$sub"
        fi ;;
    logs | exec | attach | port-forward) ((n == 0)) && _berthctl_names pods ;;
    stop) ((n == 0)) && _berthctl_names containers ;;
    rollout)
        if ((n == 0)); then
            _berthctl_add 'status history undo restart pause resume'
        elif ((n == 1)); then
            case $cur in
            deployment/* | deploy/*) _berthctl_names deployments "${cur%%/*}/" ;;
            daemonset/* | ds/*) _berthctl_names daemonsets "${cur%%/*}/" ;;
            *)
                # NAME alone is a Deployment
                _berthctl_add 'deployment/ daemonset/'
                _berthctl_names deployments
                [[ ${#COMPREPLY[@]} -gt 0 && ${COMPREPLY[*]} == */ ]] &&
                    compopt -o nospace 2>/dev/null ;;
            esac
        elif ((n == 2)); then
            case ${args[1]} in
            deployment | deployments | deploy) _berthctl_names deployments ;;
            daemonset | daemonsets | ds) _berthctl_names daemonsets ;;
            esac
        fi ;;
    top) ((n == 0)) && _berthctl_add 'containers nodes' ;;
    node)
        if ((n == 0)); then
            _berthctl_add 'approve cordon uncordon drain taint'
        elif ((n == 1)); then
            _berthctl_names nodes
        elif [[ $sub == taint && $cur == *:* ]]; then
            local k=${cur%:*}
            _berthctl_add "$k:NoSchedule $k:PreferNoSchedule $k:NoExecute"
        fi ;;
    cordon | uncordon | drain) ((n == 0)) && _berthctl_names nodes ;;
    image)
        if ((n == 0)); then
            _berthctl_add 'pull import ls inspect rm prune'
        elif [[ $sub == import ]]; then
            _berthctl_files
        elif ((n == 1)) && [[ $sub == inspect || $sub == rm ]]; then
            local names
            names=$(_berthctl_list --local image ls)
            _berthctl_add "$names"
        fi ;;
    agent)
        if ((n == 0)); then
            _berthctl_add 'ps logs stop health exec'
        elif ((n == 1)) && [[ $sub == logs || $sub == stop || $sub == exec ]]; then
            local names
            names=$(_berthctl_list --local agent ps)
            _berthctl_add "$names"
        fi ;;
    join-token)
        if ((n == 0)); then
            _berthctl_add 'create ls rm'
        elif [[ $sub == rm || $sub == delete ]]; then
            local names
            names=$(_berthctl_list join-token ls)
            _berthctl_add "$names"
        fi ;;
    controller)
        ((n == 0)) && _berthctl_add 'ls' ;;
    run | version | health | keygen | events) ;;
    esac
    _berthctl_colons
    return 0
}

# readline replaces only what follows the last ':' of the word (a taint's
# effect, an image's tag): so must the completions.
_berthctl_colons()
{
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local k=${cur%"${cur##*:}"} i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$k"}
        done
    fi
}

# _berthctl_value CMD OPTION: complete the value of OPTION.
_berthctl_value()
{
    local cmd=$1 opt=$2
    case $opt in
    -o | --output)
        case $cmd in
        top) _berthctl_add 'wide' ;;
        events) _berthctl_add 'json yaml' ;;
        agent)
            case $sub in
            health) _berthctl_add 'json yaml' ;;
            *) _berthctl_add 'wide json yaml' ;;
            esac ;;
        *) _berthctl_add 'wide json yaml' ;;
        esac ;;
    -f | --filename) _berthctl_files 'yaml|yml|json' ;;
    --controller-key | --key | --config | --cert | --from-file | --registries | --out | --pub | \
        --socket)
        _berthctl_files ;;
    -v | --volume)
        compopt -o nospace 2>/dev/null
        _berthctl_files ;;
    --image-store | --state-dir | --rootfs) _berthctl_files -d ;;
    -n | --namespace) _berthctl_names namespaces ;;
    --node) _berthctl_names nodes ;;
    --workload) _berthctl_names workloads ;;
    --from)
        if [[ $cur == cronjob/* ]]; then
            _berthctl_names cronjobs cronjob/
        else
            _berthctl_add 'cronjob/'
            compopt -o nospace 2>/dev/null
        fi ;;
    --type)
        _berthctl_add 'Opaque kubernetes.io/basic-auth kubernetes.io/ssh-auth
            kubernetes.io/tls kubernetes.io/dockerconfigjson' ;;
    --pull) _berthctl_add 'missing always never' ;;
    --types) _berthctl_add 'Normal Warning Normal,Warning' ;;
    --for)
        _berthctl_add 'node/ deployment/ daemonset/ job/ cronjob/ pod/ namespace/ secret/
            configmap/ pdb/ jointoken/'
        compopt -o nospace 2>/dev/null ;;
    --net) _berthctl_add 'none host' ;;
    --seccomp) _berthctl_add 'default unconfined' ;;
    --cap-add | --cap-drop) _berthctl_add "$_berthctl_caps" ;;
    --platform)
        _berthctl_add 'linux/amd64 linux/arm64 linux/arm/v7 linux/386 linux/ppc64le
            linux/s390x linux/riscv64' ;;
    esac
}

complete -F _berthctl berthctl
