#!/usr/bin/env bash
# Load on judge-server over loopback (not a test; not in CI): 64 concurrent clients for
# DURATION seconds (default 60) submitting a C hello world with 5 tests and `?wait=true`, then
# the same in Python. Prints throughput, p50/p99 latency, non-2xx responses, the server's
# peak RSS, and throughput as a fraction of capacity: cores ÷ CPU seconds of one submission
# judged alone, measured before any load by judging 20 one at a time. That CPU is counted
# two ways: the server's process tree (its own time and its reaped children's), and the
# whole machine's busy time from /proc/stat, which also holds the kernel's work done for
# the runs in its own threads (namespace teardown, cgroup removal) but also whatever else
# the machine is doing. Both capacities are printed; on a shared machine the machine-wide
# one is noisy. Between phases the script waits for the queue to empty.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "load: needs wrk (apt-get install wrk)"; exit 1; }
DURATION=${DURATION:-60}
CONNECTIONS=${CONNECTIONS:-64}
cargo build --release -q -p judge-server
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
./target/x86_64-unknown-linux-gnu/release/judge-server --listen "127.0.0.1:$port" --db "$work/judge.db" --max-queue 100000 --workers "${WORKERS:-$(nproc)}" > "$work/out" 2>/dev/null &
server=$!
sleep 1
cores=$(nproc)
body() {
  python3 - "$1" <<'PY'
import json, sys
src = {"c": '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n', "python3": 'print("hello")\n'}[sys.argv[1]]
print(json.dumps({"language": sys.argv[1], "source": src, "tests": [{"stdin": "", "expected_output": "hello"}] * 5}))
PY
}
ticks=$(getconf CLK_TCK)
# The server's process tree: utime + stime + cutime + cstime (the comm field has no spaces).
tree_cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$server/stat"; }
# The machine: every CPU's busy time (all but idle and iowait).
machine_cpu() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
idle_queue() {
  while curl -s "http://127.0.0.1:$port/metrics" | grep -q '^judge_queue_depth [1-9]'; do sleep 0.2; done
}
submit() { curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data @"$work/$1.json" "http://127.0.0.1:$port/v1/submissions?wait=true"; }
declare -A per_tree per_machine
for lang in c python3; do
  body "$lang" > "$work/$lang.json"
  submit "$lang"  # warm the page cache and the toolchain
  t0=$(tree_cpu); m0=$(machine_cpu)
  for i in $(seq 20); do submit "$lang"; done
  t1=$(tree_cpu); m1=$(machine_cpu)
  per_tree[$lang]=$(python3 -c "print(($t1 - $t0) / $ticks / 20)")
  per_machine[$lang]=$(python3 -c "print(($m1 - $m0) / $ticks / 20)")
done
for lang in c python3; do
  idle_queue
  per=${per_machine[$lang]}
  cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("$work/$lang.json"):read("a")
LUA
  wrk -t 2 -c "$CONNECTIONS" -d "${DURATION}s" --timeout 60s --latency -s "$work/post.lua" "http://127.0.0.1:$port/v1/submissions?wait=true" > "$work/wrk-$lang.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-$lang.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk-$lang.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk-$lang.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk-$lang.txt"); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors/ {print $0}' "$work/wrk-$lang.txt")
  rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$server/status")
  requests=$(awk '/requests in/ {print $1}' "$work/wrk-$lang.txt")
  python3 - "$lang" "$rps" "$p50" "$p99" "$non2xx" "$per" "$cores" "$rss" "$errors" "${per_tree[$lang]}" "$requests" <<'PY'
import sys
lang, rps, p50, p99, non2xx, per, cores, rss, errors, tree, requests = sys.argv[1:12]
cap, cap_tree = float(cores) / float(per), float(cores) / float(tree)
print(f"{lang}: {requests} judged, {float(rps):.1f} submissions/s, p50 {p50}, p99 {p99}, non-2xx {non2xx}, server peak RSS {rss}")
print(f"  one submission alone: {float(tree)*1000:.1f} ms CPU in the server's process tree, {float(per)*1000:.1f} ms machine-wide")
print(f"  capacity on {cores} cores: {cap_tree:.1f}/s by the process tree (load reached {float(rps)/cap_tree*100:.0f}%),"
      f" {cap:.1f}/s machine-wide ({float(rps)/cap*100:.0f}%)")
if errors: print("  " + errors)
PY
done
