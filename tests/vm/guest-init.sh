#!/bin/busybox sh
# The guest's first stage (initramfs): load virtio/9p, mount the host's root read-only,
# and switch_root into it (chroot would not do: unshare(CLONE_NEWUSER) refuses chrooted
# callers), running tests/vm/guest-run.sh there as pid 1.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay; do
  [ -f "/modules/$m.ko" ] && insmod "/modules/$m.ko" 2>/dev/null
done
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^sandbox\.$1=//p"; }
stage2=$(arg stage2)
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 host /newroot; then
  echo "SANDBOX-VM-RESULT 3"
  echo o > /proc/sysrq-trigger
fi
umount /proc /sys /dev 2>/dev/null
exec switch_root /newroot /bin/sh "$stage2" "$(cat /proc/cmdline 2>/dev/null)"
