#!/usr/bin/env bash
# The main job. Until the learner lands (issue 3) this is the simulator demo: every task run
# by the privileged scripted controller through the full RGB-D pipeline, plus the actor-image grid.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh requirements.txt
exec .venv/bin/aac_sim_demo --out "${RUN_DIR:-runs/demo}" "$@"
