#!/usr/bin/env bash
# Load on judge-server over loopback (not a test; not in CI): 64 concurrent clients for
# DURATION seconds (default 60) submitting a C hello world with 5 tests and `?wait=true`, then
# the same in Python. Prints throughput, p50/p99 latency, non-2xx responses, the server's
# peak RSS, and throughput as a fraction of capacity (cores ÷ CPU seconds of one submission
# judged alone, measured first by judging 20 one at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "load: needs wrk (apt-get install wrk)"; exit 1; }
DURATION=${DURATION:-60}
CONNECTIONS=${CONNECTIONS:-64}
cargo build --release -q -p judge-server
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
./target/release/judge-server --listen "127.0.0.1:$port" --db "$work/judge.db" --max-queue 100000 > "$work/out" 2>/dev/null &
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
cpu_of() { awk '{print $14 + $15 + $16 + $17}' "/proc/$server/stat"; }
for lang in c python3; do
  body "$lang" > "$work/$lang.json"
  # Capacity: CPU seconds of one submission judged alone.
  before=$(cpu_of)
  for i in $(seq 20); do curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data @"$work/$lang.json" "http://127.0.0.1:$port/v1/submissions?wait=true"; done
  after=$(cpu_of)
  ticks=$(getconf CLK_TCK)
  per=$(python3 -c "print(($after - $before) / $ticks / 20)")
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
  python3 - "$lang" "$rps" "$p50" "$p99" "$non2xx" "$per" "$cores" "$rss" "$errors" <<'PY'
import sys
lang, rps, p50, p99, non2xx, per, cores, rss, errors = sys.argv[1:10]
cap = float(cores) / float(per)
print(f"{lang}: {float(rps):.1f} submissions/s, p50 {p50}, p99 {p99}, non-2xx {non2xx}, server peak RSS {rss}")
print(f"  one submission alone: {float(per)*1000:.1f} ms CPU; capacity {cap:.1f}/s on {cores} cores; load reached {float(rps)/cap*100:.0f}% of it")
if errors: print("  " + errors)
PY
done
