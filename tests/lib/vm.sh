# The cgroup v2 VM (../shared/tools/vm/vm-run.sh) for the test scripts, sh
# and bash alike:
#
#   vm_find [CANDIDATE]   VM_RUN := the first vm-run.sh found: CANDIDATE,
#                         BERTH_VM_RUN, the tool beside the repository;
#                         returns 1 when there is none
#   vm_run ARGS...        vm-run.sh ARGS..., under TCG with /dev/kvm hidden
#                         when KVM cannot boot the guest here
vm_find() {
	for candidate in "${1:-}" "${BERTH_VM_RUN:-}" /work/shared/tools/vm/vm-run.sh; do
		if [ -n "$candidate" ] && [ -x "$candidate" ]; then
			VM_RUN=$candidate
			return 0
		fi
	done
	return 1
}

# With /dev/kvm present vm-run.sh uses KVM. Some hosts offer a /dev/kvm
# that cannot run this guest (nested virtualisation refusing an MSR: QEMU
# aborts at once); a quick boot tells. When it fails, the VM runs under TCG
# with /dev/kvm hidden in a private mount namespace (a copy of /dev
# without it), which is how the tool runs where there is no KVM at all.
vm_hide_kvm() {
	unshare -m sh -c '
set -e
mount --make-rprivate /
d=$(mktemp -d)
mount -t tmpfs -o mode=755 berth-dev "$d"
for n in /dev/*; do
    b=${n#/dev/}
    [ "$b" = kvm ] && continue
    if [ -d "$n" ] && [ ! -L "$n" ]; then
        mkdir "$d/$b" && mount --rbind "$n" "$d/$b"
    else
        cp -a "$n" "$d/$b"
    fi
done
mount --move "$d" /dev
exec "$@"' sh "$@"
}
VM_TCG=""
vm_run() {
	if [ -z "$VM_TCG" ]; then
		VM_TCG=no
		if [ -e /dev/kvm ] && ! "$VM_RUN" --timeout 60 -- true >/dev/null 2>&1; then
			echo "vm: KVM cannot boot the guest here; running it under TCG"
			VM_TCG=yes
		fi
	fi
	if [ "$VM_TCG" = yes ]; then
		vm_hide_kvm "$VM_RUN" "$@"
	else
		"$VM_RUN" "$@"
	fi
}
