# The checks the bash test scripts share: each prints "ok   NAME" or
# "FAIL NAME: why", and check_summary ends the script with the verdict.
# POSIX sh but for wait_until (bash's SECONDS): the cgroup v2 VM's busybox
# sh sources it too (tests/integration/runtime/devices-test.sh).

pass=0
failed=0

ok() {
	pass=$((pass + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
}
# expect NAME WANT GOT
expect() {
	if [ "$3" = "$2" ]; then ok "$1"; else bad "$1: want [$2] got [$3]"; fi
}
# contains NAME NEEDLE HAYSTACK
contains() {
	case "$3" in
	*"$2"*) ok "$1" ;;
	*) bad "$1: [$2] not in [$3]" ;;
	esac
}
# lacks NAME NEEDLE HAYSTACK
lacks() {
	case "$3" in
	*"$2"*) bad "$1: [$2] unexpectedly in [$3]" ;;
	*) ok "$1" ;;
	esac
}
# wait_until SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}
check_summary() {
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
}
