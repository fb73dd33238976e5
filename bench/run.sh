#!/usr/bin/env bash
# Per-run overhead, side by side in one run: the bare program, `runner run` with every
# namespace, cgroup limits, seccomp and landlock, and `bwrap --unshare-all`. Prints hyperfine's
# medians and the ratios to the bare program. Not a test: the machine is shared and noisy.
# BASELINE=/path/to/an/older/runner adds that binary to the same sitting ("baseline"), to
# check that a change did not make runs slower.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-300}
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)"; exit 1; }
command -v bwrap >/dev/null || { echo "bench: needs bwrap (apt-get install bubblewrap)"; exit 1; }
cargo build --release -q -p runner-cli
RUNNER=$PWD/target/x86_64-unknown-linux-gnu/release/runner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n' > "$work/hello.c"
gcc -O2 -o "$work/hello" "$work/hello.c"
chmod 755 "$work" "$work/hello"
# The floor every process start pays here: an empty static glibc program against one with no
# libc at all (its own _start, one exit syscall). The difference is glibc's start-up, which
# the runner, bwrap and /bin/true each pay once; on a VM where CPUID traps it is most of it.
printf 'int main(void){return 0;}\n' > "$work/empty.c"
gcc -O2 -static -o "$work/static-glibc" "$work/empty.c"
printf 'void _start(void){__asm__ volatile("mov $60, %%eax\\n xor %%edi, %%edi\\n syscall");}\n' > "$work/nolibc.c"
gcc -O2 -static -nostdlib -o "$work/no-libc" "$work/nolibc.c"

# isolate and nsjail join the /bin/true sitting where they are installed and work here
# (not required; each is tried once first). isolate without its cgroups (--cg needs its
# own cgroup setup), nsjail with its default namespaces and the host's root read-only.
peers=()
ISOLATE_BOX=97
if command -v isolate >/dev/null && isolate --box-id=$ISOLATE_BOX --init >/dev/null 2>&1; then
  trap 'isolate --box-id=$ISOLATE_BOX --cleanup >/dev/null 2>&1; rm -rf "$work"' EXIT
  if isolate --box-id=$ISOLATE_BOX --run -- /bin/true >/dev/null 2>&1; then
    peers+=(-n isolate "isolate --box-id=$ISOLATE_BOX --run -- /bin/true")
  fi
fi
if command -v nsjail >/dev/null && nsjail --really_quiet -Mo --chroot / -- /bin/true >/dev/null 2>&1; then
  peers+=(-n nsjail "nsjail --really_quiet -Mo --chroot / -- /bin/true")
fi

BWRAP="bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /tmp"
for prog in /bin/true hello; do
  if [ "$prog" = hello ]; then bare="$work/hello"; inside="/box/hello"; bw_bind="--ro-bind $work /box"; dir="--dir $work";
  else bare=/bin/true; inside=/bin/true; bw_bind=""; dir=""; fi
  extra=()
  if [ "$prog" = /bin/true ]; then
    extra+=(-n no-libc "$work/no-libc" -n static-glibc "$work/static-glibc")
    if [ ${#peers[@]} -gt 0 ]; then extra+=("${peers[@]}"); fi
  fi
  if [ -n "${BASELINE:-}" ]; then
    extra+=(-n baseline "$BASELINE run $dir --time 1 --mem 64M --pids 16 --stdout /dev/null -- $inside")
  fi
  hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$work/$(basename $prog).json" \
    -n bare "$bare" \
    -n runner "$RUNNER run $dir --time 1 --mem 64M --pids 16 --stdout /dev/null -- $inside" \
    -n bwrap "$BWRAP $bw_bind $inside" "${extra[@]}" >/dev/null 2>&1
  python3 - "$work/$(basename $prog).json" "$prog" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
bare = res["bare"]["median"]
print(f"{sys.argv[2]}:")
for name in ("bare", "runner", "bwrap", "isolate", "nsjail", "baseline", "no-libc", "static-glibc"):
    if name not in res:
        continue
    m = res[name]["median"]
    print(f"  {name:<8} median {m*1000:6.2f} ms   {m/bare:5.2f}x bare")
print(f"  runner/bwrap {res['runner']['median']/res['bwrap']['median']:.2f}")
if "baseline" in res:
    print(f"  runner/baseline {res['runner']['median']/res['baseline']['median']:.2f}")
if "no-libc" in res:
    start = res["static-glibc"]["median"] - res["no-libc"]["median"]
    print(f"  glibc's start-up (static-glibc - no-libc): {start*1000:.2f} ms, paid once by the runner, bwrap and the program")
PY
done

# Warm environments (sandbox::Environment) cannot be timed from outside a process: the same
# /bin/true timed in one process, interleaved: a bare fork+exec, a cold sandbox run (the
# library's Command::run) and a run in one warm environment reset between runs.
cargo build --release -q --example warm_loop -p sandbox
./target/x86_64-unknown-linux-gnu/release/examples/warm_loop "$RUNS" /bin/true | python3 -c '
import sys
rows = {l.split()[0]: (float(l.split()[1]), float(l.split()[2])) for l in sys.stdin}
bare = rows["bare"][0]
print("/bin/true in one process (median, p90):")
for name in ("bare", "cold", "warm"):
    med, p90 = rows[name]
    print(f"  {name:<8} median {med/1000:6.2f} ms   p90 {p90/1000:6.2f} ms   {med/bare:5.2f}x bare")
warm, cold = rows["warm"][0], rows["cold"][0]
print(f"  warm/cold {warm / cold:.2f}")
'
