#!/bin/sh
# The guest's second stage, pid 1 on the host's read-only root: fresh kernel filesystems,
# the cgroup layout under test, then the test binaries. Prints SANDBOX-VM-RESULT <status>.
set -u
mount -t proc proc /proc
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^sandbox\.$1=//p"; }
work=$(arg work)
layout=$(arg layout)
target_tmp=$(arg tmp)
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
repo=$(arg repo)
mount -t tmpfs run /run
# A fresh /tmp hides the host's; a checkout living under /tmp is put back in place.
mkdir -p /run/repo
mount --bind "$repo" /run/repo
mount -t tmpfs tmp /tmp
case "$repo" in
  /tmp/*) mkdir -p "$repo" && mount --bind /run/repo "$repo" ;;
esac
# The tests write their probe binaries under target/tmp.
mount -t tmpfs target-tmp "$target_tmp"
if [ "$layout" = v2 ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
  mount -t tmpfs cgroup /sys/fs/cgroup
  for c in memory cpu cpuacct pids; do
    mkdir -p /sys/fs/cgroup/$c
    mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
  done
fi
echo "guest: kernel $(uname -r), cgroup layout $layout:"
cat /proc/self/mountinfo | grep cgroup
export HOME=/tmp TMPDIR=/tmp PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin SANDBOX_EXPECT_CGROUP=$layout
status=0
[ -s "$work/tests.txt" ] || { echo "guest: no test list at $work/tests.txt"; status=1; }
while read -r t; do
  echo "guest: running $t"
  case "$t" in
    *" "*) sh -c "$t" || status=1 ;;
    *) "$t" --test-threads=2 || status=1 ;;
  esac
  # The statuses once more through warm environments (tests/warm covers the resets).
  case "$t" in
    */statuses-*) echo "guest: running $t warm"; SANDBOX_TEST_WARM=1 "$t" --test-threads=2 || status=1 ;;
  esac
done < "$work/tests.txt"
echo "SANDBOX-VM-RESULT $status"
sync
echo o > /proc/sysrq-trigger
sleep 10
