#!/usr/bin/env bash
# Makes Debian's chromium available for tests/console-browser.test.ts (driven by
# playwright-core). Idempotent: does nothing when /usr/bin/chromium (or $CHROMIUM_PATH)
# is there. Needs root (or sudo) and apt.
set -euo pipefail

browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi

"$(dirname "$0")/apt-install.sh" chromium "chromium ($browser)"
[ -x "$browser" ] || { echo "chromium installed but $browser is missing: set CHROMIUM_PATH" >&2; exit 1; }
"$browser" --version | head -n 1
