#!/usr/bin/env bash
# Installs what the metric tests (tests/metrics_real.rs) need, on a fresh Debian machine (run as
# root). Idempotent and quick when everything is there. Called by scripts/test-deps.sh; can be
# run alone.
#
#   Debian:  prometheus haproxy node/npm     (apt-get update at most once, only if needed)
#   Node:    tests/node-metrics/node_modules from its package-lock.json (npm ci):
#            opossum, opossum-prometheus (pinned in package.json)
#   Python:  prometheus_client (pinned below) in .venv at the repository root
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf 'test-deps-metrics: %s\n' "$*" >&2; }

PROMETHEUS_CLIENT="prometheus_client==0.26.0"

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "test-deps-metrics: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  created_policy=0
  # Package scripts must not start daemons: the tests start their own on free ports.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
fi

NODE_DIR="$ROOT/tests/node-metrics"
STAMP="$NODE_DIR/node_modules/.faultline-lock.sha256"
want="$(cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ "$want" != "$(cat "$STAMP" 2>/dev/null || true)" ]]; then
  log "npm ci (tests/node-metrics)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$STAMP"
fi
(cd "$NODE_DIR" && node -e 'require.resolve("opossum"); require.resolve("opossum-prometheus")')

VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import prometheus_client' 2>/dev/null; then
  log "pip install $PROMETHEUS_CLIENT"
  "$VENV/bin/pip" install -q "$PROMETHEUS_CLIENT"
fi
"$VENV/bin/python" -c 'import prometheus_client.exposition'
log "ok"
