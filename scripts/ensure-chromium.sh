#!/usr/bin/env bash
# Makes Debian's chromium available for tests/console-browser.test.ts (driven by
# playwright-core). Idempotent: does nothing when /usr/bin/chromium (or $CHROMIUM_PATH)
# exists; otherwise installs the `chromium` package without prompts and without
# recommended extras. Needs root (or sudo) and apt.
set -euo pipefail

browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing at $browser and apt-get is not available: install Chromium and set CHROMIUM_PATH" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "chromium is missing and installing it needs root" >&2
    exit 1
  fi
fi

echo "chromium is missing: installing Debian's chromium package"
# `env` because sudo does not pass the caller's environment on.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
[ -x "$browser" ] || { echo "chromium installed but $browser is missing: set CHROMIUM_PATH" >&2; exit 1; }
"$browser" --version | head -n 1
