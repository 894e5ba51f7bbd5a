#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh requirements-test.txt
exec .venv/bin/python -m pytest tests -q "$@"
