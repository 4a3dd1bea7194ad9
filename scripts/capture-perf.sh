#!/usr/bin/env bash
# Times `faultline report` on the synthetic capture of examples/gen_capture.rs against a
# one-thread serde_json decode of the same file into opentelemetry-proto types
# (examples/serde_baseline.rs), and `faultline lint` against `report`, in the same run,
# interleaved (baseline, report, lint, baseline, report, lint, ...), and prints the medians and
# their ratios, with the load average before and after.
#
#   bash scripts/capture-perf.sh [SPANS (default 1000000)] [RUNS (default 3)]
#
# BEFORE=/path/to/an/older/faultline adds that binary's `report` to each round (for before/after
# figures from the same run). The capture is written to a temp dir.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SPANS="${1:-1000000}"
RUNS="${2:-3}"
BEFORE="${BEFORE:-}"
cargo build --release --quiet --bin faultline --example gen_capture --example serde_baseline
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cap="$dir/capture.jsonl"
target/release/examples/gen_capture "$cap" "$SPANS"
ls -l "$cap" >&2
echo "load before: $(uptime)"
# Wall seconds of a command (lint exits 1 when it has findings: that is not a failure here).
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || [[ $? == 1 ]]; e=$(date +%s%N); awk -v d=$((e - s)) 'BEGIN { printf "%.3f", d / 1e9 }'; }
base=(); rep=(); lin=(); old=()
# Warm the page cache (and check the baseline reads the file).
target/release/examples/serde_baseline "$cap" >&2
for ((i = 0; i < RUNS; i++)); do
  base+=("$(secs target/release/examples/serde_baseline "$cap")")
  rep+=("$(secs target/release/faultline report "$cap" --format json)")
  lin+=("$(secs target/release/faultline lint "$cap" --format json)")
  if [[ -n "$BEFORE" ]]; then old+=("$(secs "$BEFORE" report "$cap" --format json)"); fi
done
echo "load after:  $(uptime)"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
b=$(median "${base[@]}"); r=$(median "${rep[@]}"); l=$(median "${lin[@]}")
echo "serde baseline runs: ${base[*]}"
echo "report runs:         ${rep[*]}"
echo "lint runs:           ${lin[*]}"
if [[ -n "$BEFORE" ]]; then
  o=$(median "${old[@]}")
  echo "report (before) runs: ${old[*]}"
  echo "median report (before) ${o}s: $(ratio "$o" "$b")x baseline"
fi
echo "median baseline ${b}s, report ${r}s, lint ${l}s"
echo "report ÷ baseline $(ratio "$r" "$b")x, lint ÷ report $(ratio "$l" "$r")x"
