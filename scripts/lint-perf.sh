#!/usr/bin/env bash
# Measures `faultline lint` against `faultline report` on the same synthetic capture, in the same
# run, interleaved (report, lint, report, lint, ...), and prints the medians and their ratio.
#
#   bash scripts/lint-perf.sh [SPANS (default 1000000)] [RUNS (default 3)]
#
# The capture comes from examples/gen_capture.rs (deterministic) and is written to a temp dir.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SPANS="${1:-1000000}"
RUNS="${2:-3}"
cargo build --release --quiet --bin faultline --example gen_capture
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cap="$dir/capture.jsonl"
target/release/examples/gen_capture "$cap" "$SPANS"
ls -l "$cap" >&2
# Wall seconds of a command (lint exits 1 when it has findings: that is not a failure here).
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || [[ $? == 1 ]]; e=$(date +%s%N); awk -v d=$((e - s)) 'BEGIN { printf "%.3f", d / 1e9 }'; }
rep=(); lin=()
for ((i = 0; i < RUNS; i++)); do
  rep+=("$(secs target/release/faultline report "$cap" --format json)")
  lin+=("$(secs target/release/faultline lint "$cap" --format json)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=$(median "${rep[@]}"); l=$(median "${lin[@]}")
echo "report runs: ${rep[*]}"
echo "lint runs:   ${lin[*]}"
echo "median report ${r}s, lint ${l}s, ratio $(awk -v l="$l" -v r="$r" 'BEGIN { printf "%.2f", l / r }')"
