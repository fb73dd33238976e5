#!/usr/bin/env bash
# Per-test overhead of `runner judge`: a C a+b solution judged over 1 and over 100 tests,
# against the same compiled binary run 100 times bare, side by side in one sitting.
# per-test = (judge over 100 - judge over 1) / 99; overhead = per-test - bare per run. The
# 100 tests are judged both ways: in one warm environment (the default) and --cold.
# Not a test: the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)"; exit 1; }
cargo build --release -q -p runner-cli
RUNNER=$PWD/target/x86_64-unknown-linux-gnu/release/runner
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/t100" "$work/t1"
for i in $(seq 1 100); do
  echo "$i $((i * 7))" > "$work/t100/$i.in"
  echo "$((i + i * 7))" > "$work/t100/$i.out"
done
cp "$work/t100/1.in" "$work/t100/1.out" "$work/t1/"
cat > "$work/sol.c" <<'C'
#include <stdio.h>
int main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 1; printf("%ld\n", a + b); return 0; }
C
gcc -std=c17 -O2 -o "$work/sol" "$work/sol.c"
chmod 755 "$work" "$work/sol"
cat > "$work/bare.sh" <<SH
#!/bin/sh
for f in $work/t100/*.in; do $work/sol < "\$f" > /dev/null; done
SH
chmod 755 "$work/bare.sh"
hyperfine -N --warmup 2 --runs "${RUNS:-10}" --export-json "$work/judge.json" \
  -n bare100 "$work/bare.sh" \
  -n judge1 "$RUNNER judge --lang c $work/sol.c --tests $work/t1" \
  -n judge100 "$RUNNER judge --lang c $work/sol.c --tests $work/t100" \
  -n judge100cold "$RUNNER judge --cold --lang c $work/sol.c --tests $work/t100" >/dev/null 2>&1
python3 - "$work/judge.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
bare = r["bare100"] / 100
per_test = (r["judge100"] - r["judge1"]) / 99
print("judge, C a+b:")
print(f"  compile + 1 test    median {r['judge1']*1000:7.1f} ms")
print(f"  compile + 100 tests median {r['judge100']*1000:7.1f} ms")
print(f"  per test            {per_test*1000:7.2f} ms   (bare run of the binary {bare*1000:.2f} ms)")
print(f"  overhead per test   {(per_test - bare)*1000:7.2f} ms   (warm environment)")
cold = (r["judge100cold"] - r["judge1"]) / 99
print(f"  with --cold         {(cold - bare)*1000:7.2f} ms   (a one-off sandbox per test)")
PY
