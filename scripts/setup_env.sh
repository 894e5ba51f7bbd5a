#!/usr/bin/env bash
# Create or refresh .venv with everything the project needs. Re-installs only when the
# requirements or package metadata changed (hash stamp), so repeated runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=${1:-requirements.txt}
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=$(cat "$REQ" requirements.txt src/*/setup.py src/*/package.xml | sha256sum | cut -c1-16)
if [ "$(cat .venv/.aac-stamp-"$(basename "$REQ")" 2>/dev/null)" != "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$REQ"
  .venv/bin/python -m pip install --quiet --no-deps -e src/aac_sim -e src/aac_policy -e src/aac_driver -e src/aac_bringup
  echo "$stamp" > .venv/.aac-stamp-"$(basename "$REQ")"
fi
