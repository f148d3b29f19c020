#!/usr/bin/env bash
# Makes the real SMTP server available for tests/email-smtp.test.ts and tests/email-daemon.test.ts:
# Debian's python3-aiosmtpd (the aiosmtpd server, which the tests run on a free loopback port
# from a temp dir, delivering into a Maildir). Idempotent: installs only when missing. Debian's
# package installs for Debian's /usr/bin/python3, not for another python3 earlier on PATH
# (pyenv), so that is the interpreter checked here and used by the tests. Needs root (or sudo)
# and apt. Starts no server.
set -euo pipefail

here="$(dirname "$0")"
python=/usr/bin/python3
"$python" -c 'import aiosmtpd' >/dev/null 2>&1 || "$here/apt-install.sh" python3-aiosmtpd "aiosmtpd (python3-aiosmtpd)"
"$python" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__)'
