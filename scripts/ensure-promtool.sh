#!/usr/bin/env bash
# Makes promtool available for tests/prometheus-rules.test.ts and
# tests/grafana-dashboard.test.ts. Idempotent: does nothing when promtool is on PATH;
# otherwise installs Debian's `prometheus` package (which ships promtool) without
# prompts and without recommended extras. Needs root (or sudo) and apt.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool is missing and apt-get is not available: install Prometheus' promtool yourself" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "promtool is missing and installing it needs root" >&2
    exit 1
  fi
fi

echo "promtool is missing: installing Debian's prometheus package"
# `env` because sudo does not pass the caller's environment on.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
command -v promtool >/dev/null 2>&1 || { echo "prometheus installed but promtool is not on PATH" >&2; exit 1; }
promtool --version | head -n 1
