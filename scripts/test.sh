#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, checks formatting and lints
# (cargo fmt --check, cargo clippy -D warnings), builds, runs every test target.
# Exits non-zero on any failure. Safe to run again: test-deps.sh skips what is installed.
#
#   bash scripts/test.sh [extra `cargo test` args, e.g. a test name filter]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(($(date +%s) - start))" >&2; }

if [[ "${CI:-}" == "true" ]]; then
  export CARGO_TERM_COLOR=never
fi
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

# A full debug build of every target takes about 4 GB under target/ (the last CI failure was a
# full disk while linking); say early when that will not fit rather than die in the linker.
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
if [[ -n "$free_kb" && "$free_kb" -lt 5000000 ]]; then
  echo "warning: only $((free_kb / 1024)) MiB free on $(df -P . | awk 'NR==2 {print $6}'); the build needs about 4 GB" >&2
fi

step "scripts/test-deps.sh"
bash scripts/test-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo build"
cargo build --locked --all-targets

step "cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test"
cargo test --locked --no-fail-fast --all-targets "$@"

step "all tests passed"
