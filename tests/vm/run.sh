#!/usr/bin/env bash
# Runs the sandbox's kernel-dependent integration tests inside a QEMU guest booted with a
# pure cgroup v2 hierarchy (default) or with the controllers on cgroup v1 (--v1), so both
# backends are exercised against a real kernel on a host whose own layout is hybrid.
#
# The guest is the Debian kernel from /boot with a busybox initramfs; it mounts the host's
# whole filesystem read-only over virtio-9p, switch_roots into it, mounts fresh proc, sysfs,
# devtmpfs, tmpfs and cgroups, runs the test binaries built here, and prints a result line
# that this script turns into its exit status. A guest that hangs, panics or never prints
# the line fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
layout=v2
[ "${1:-}" = "--v1" ] && layout=v1
timeout_s=${VM_TIMEOUT:-540}

for tool in qemu-system-x86_64 busybox; do
  command -v "$tool" >/dev/null || { echo "vm: $tool missing (apt-get install qemu-system-x86 busybox-static linux-image-amd64)"; exit 2; }
done
bb_ldd=$(ldd "$(command -v busybox)" 2>&1 || true)
case "$bb_ldd" in *"not a dynamic"*|*"statically linked"*) ;; *)
  echo "vm: busybox must be statically linked (apt-get install busybox-static)"; exit 2 ;;
esac
kver=$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -n 1 || true)
kernel=/boot/vmlinuz-$kver
[ -n "$kver" ] && [ -r "$kernel" ] || { echo "vm: no Debian kernel in /boot (apt-get install linux-image-amd64)"; exit 2; }

# The test binaries, built on the host. Accuracy bounds stay on the host: TCG is 10-50x slower.
tests=(statuses isolation lifecycle layout hardening warm)
# Not under /tmp: the guest mounts its own tmpfs there.
work=$PWD/target/vm-$$
rm -rf "$work"; mkdir -p "$work"
# A run that is interrupted stops its guest too (qemu writes to a file: nothing else ends it).
qemu=
trap 'if [ -n "$qemu" ]; then kill "$qemu" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
cargo test -p sandbox --no-run --message-format=json "${tests[@]/#/--test=}" 2>/dev/null \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["executable"])' > "$work/tests.txt"
[ -s "$work/tests.txt" ] || { echo "vm: no test binaries were built"; exit 2; }
# The tests' CARGO_TARGET_TMPDIR: `tmp` beside the build profile's directory (the binaries
# are in <target>/debug/deps), writable in the guest.
target_tmp=$(cd "$(dirname "$(head -n 1 "$work/tests.txt")")/../.." && pwd)/tmp
# VM_COMMAND replaces the test list with one shell command (for debugging in the guest).
[ -n "${VM_COMMAND:-}" ] && printf '%s\n' "$VM_COMMAND" > "$work/tests.txt"

# initramfs: busybox, the virtio/9p modules of this kernel, and an init that mounts the host.
root=$work/initramfs
mkdir -p "$root/bin" "$root/modules" "$root/proc" "$root/sys" "$root/dev" "$root/newroot"
cp "$(command -v busybox)" "$root/bin/busybox"
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay"
for m in $modules; do
  f=$(find "/lib/modules/$kver" -name "$m.ko*" | head -n 1)
  if [ -z "$f" ]; then continue; fi   # built into this kernel
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$root/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$root/modules/$m.ko" ;;
    *) cp "$f" "$root/modules/$m.ko" ;;
  esac
done
cp tests/vm/guest-init.sh "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

stage2=$PWD/tests/vm/guest-run.sh
mkdir -p "$target_tmp"

# One boot of the guest; its console goes to $work/console.log. The kernel prints warnings
# (loglevel=5) so that a backtrace reaches the console; on stdout only the tests' own lines
# and the kernel's alarms are shown. A kernel that locks up (a CPU stuck in the kernel for
# 20 s: softlockup_panic) panics and the guest ends there, instead of at the timeout.
boot() {
  : > "$work/console.log"
  timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m 1536 -smp 2 -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 loglevel=5 softlockup_panic=1 softlockup_all_cpu_backtrace=1 sandbox.stage2=$stage2 sandbox.work=$work sandbox.layout=$layout sandbox.tmp=$target_tmp sandbox.repo=$PWD" \
    -fsdev local,id=h,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=h,mount_tag=host < /dev/null > "$work/console.log" &
  qemu=$!
  tail -n +1 --pid=$qemu -f "$work/console.log" \
    | awk '!/^\[ *[0-9]+\.[0-9]+\] / || /BUG|lockup|panic|Oops|stall|hung/ { print; fflush() }'
  wait "$qemu"
}

echo "vm: booting $kernel with cgroup $layout (TCG), tests: ${tests[*]}"
for attempt in 1 2; do
  set +e
  boot
  qemu_status=$?
  set -e
  result=$(grep -a -o 'SANDBOX-VM-RESULT [0-9]*' "$work/console.log" | tail -n 1 | awk '{print $2}' || true)
  [ -n "$result" ] && break
  echo "vm: the guest ended without a result line (qemu status $qemu_status; 124 is the ${timeout_s} s timeout); the end of its console:"
  tail -n 150 "$work/console.log"
  # A guest kernel that locked up is an emulator or guest-kernel event, not a test's
  # verdict: the guest is booted once more (and fails the run if it locks up again).
  if [ "$attempt" = 1 ] && grep -a -q 'soft lockup' "$work/console.log"; then
    echo "vm: the guest kernel locked up (soft lockup; backtrace above): booting it once more"
    continue
  fi
  exit 1
done
echo "vm: cgroup $layout guest tests exited $result"
exit "$result"
