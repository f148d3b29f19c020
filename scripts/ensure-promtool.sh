#!/usr/bin/env bash
# Makes promtool available for tests/prometheus-rules.test.ts and
# tests/grafana-dashboard.test.ts. Idempotent: does nothing when promtool is on PATH;
# otherwise installs Debian's `prometheus` package (which ships promtool). Needs root
# (or sudo) and apt.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi

"$(dirname "$0")/apt-install.sh" prometheus promtool
command -v promtool >/dev/null 2>&1 || { echo "prometheus installed but promtool is not on PATH" >&2; exit 1; }
promtool --version | head -n 1
