#!/usr/bin/env bash
# Installs one Debian package without prompts and without recommended extras, as root or
# through sudo. Used by ensure-promtool.sh and ensure-chromium.sh, which first check
# whether the tool is already there. Usage: scripts/apt-install.sh PACKAGE WHAT
set -euo pipefail

package="$1"
what="$2"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$what is missing and apt-get is not available: install it yourself" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "$what is missing and installing it needs root" >&2
    exit 1
  fi
fi

echo "$what is missing: installing Debian's $package package"
# `env` because sudo does not pass the caller's environment on.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$package"
