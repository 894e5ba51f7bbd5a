#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh requirements-test.txt
# the ROS tests must run, not skip (tests/ros_helpers.py)
AAC_REQUIRE_ROS=1 exec .venv/bin/python -m pytest tests -q "$@"
