#!/usr/bin/env bash
# The tests open the results page in a real browser: Debian's chromium, driven by Playwright
# (installed with the test extra; it never downloads browsers of its own). Installed when missing.
set -euo pipefail
command -v chromium >/dev/null && exit 0
echo "installing chromium from Debian (for the results-page tests)" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
