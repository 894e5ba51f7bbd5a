#!/usr/bin/env bash
# Create or refresh .venv with everything the project needs. Re-installs only when the
# requirements or package metadata changed (hash stamp), so repeated runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=${1:-requirements.txt}   # requirements-robot.txt: the robot PC's set (no torch, gymnasium, simulator extras)
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}          # VENV=.venv-robot for the robot PC (README, "Robot PC")

# pyrealsense2's PyPI wheel links the system library libusb-1.0 (Debian/Ubuntu: libusb-1.0-0).
# Checked on every run (cheap); installed with apt-get only when missing.
have_libusb() {
  local ldc
  ldc=$(command -v ldconfig || echo /sbin/ldconfig)
  if [ -x "$ldc" ] && "$ldc" -p 2>/dev/null | grep -q 'libusb-1\.0\.so\.0'; then return 0; fi
  compgen -G '/usr/lib/*/libusb-1.0.so.0' >/dev/null || compgen -G '/lib/*/libusb-1.0.so.0' >/dev/null \
    || [ -e /usr/lib/libusb-1.0.so.0 ] || [ -e /usr/lib64/libusb-1.0.so.0 ]
}
ensure_libusb() {
  have_libusb && return 0
  local why="pyrealsense2 (requirements.txt) needs the system library libusb-1.0 (libusb-1.0.so.0), which is not installed"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_env.sh: $why, and there is no apt-get here: install libusb-1.0 with your package manager and re-run." >&2
    exit 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup_env.sh: $why; run 'apt-get install libusb-1.0-0' as root (no sudo here) and re-run." >&2
      exit 1
    fi
    sudo=sudo
  fi
  echo "setup_env.sh: $why; installing libusb-1.0-0 with apt-get"
  local install="$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libusb-1.0-0"
  if ! $install >/dev/null; then   # a fresh image has no package lists yet
    $sudo apt-get update -q >/dev/null && $install >/dev/null || {
      echo "setup_env.sh: apt-get could not install libusb-1.0-0 (see the messages above); install it and re-run." >&2
      exit 1
    }
  fi
  have_libusb || { echo "setup_env.sh: libusb-1.0-0 installed but libusb-1.0.so.0 is still not found." >&2; exit 1; }
}
ensure_libusb

if [ ! -x "$VENV"/bin/python ]; then
  "$PY" -m venv "$VENV"
fi
stamp=$(cat "$REQ" requirements.txt src/*/setup.py src/*/package.xml | sha256sum | cut -c1-16)
if [ "$(cat "$VENV"/.aac-stamp-"$(basename "$REQ")" 2>/dev/null)" != "$stamp" ]; then
  "$VENV"/bin/python -m pip install --quiet --upgrade pip
  "$VENV"/bin/python -m pip install --quiet -r "$REQ"
  # the robot PC gets no simulator package (aac_sim): its nodes need only the contract (aac_robot)
  pkgs=(-e src/aac_robot -e src/aac_sim -e src/aac_policy -e src/aac_driver -e src/aac_bringup)
  if [ "$(basename "$REQ")" = requirements-robot.txt ]; then
    pkgs=(-e src/aac_robot -e src/aac_policy -e src/aac_driver -e src/aac_bringup)
  fi
  "$VENV"/bin/python -m pip install --quiet --no-deps "${pkgs[@]}"
  echo "$stamp" > "$VENV"/.aac-stamp-"$(basename "$REQ")"
fi
