#!/usr/bin/env bash
# The main job: train the default policy (push from pixels: RGB-D + proprio + goal -> actions) in the
# embedded in-process PyBullet simulator. Leaves in the run folder (default runs/main): teacher/ and
# student/ (each with checkpoints/, replay/, metrics.jsonl, tb/), actor.pt + actor.onnx (the exported
# pixel actor with its obs spec), learning_curve.png, stages.json and eval/report.{md,json}. Re-running
# resumes the run where it stopped.
# Extra arguments go to aac_train, e.g.  scripts/run_main.sh --set sim.task=reach --set student.total_env_steps=20000
# Its configuration is the named config `main` (src/aac_policy/aac_policy/configs/main.yaml, which the ROS
# trainer of train_sim.launch.py uses too): the staged pipeline (aac_policy/staged.py), stage 1 a privileged
# state teacher (TD3 + HER, no images), stage 2 the deployable pixel actor by DAgger from that frozen
# teacher, all randomization on (training textures included), within a 2 h wall-time budget for both stages.
# --set options win, e.g. --set pipeline=single for one run of `wiring` (the paper's asymmetric actor-critic).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh requirements.txt
exec .venv/bin/aac_train --config main --run-dir "${RUN_DIR:-runs/main}" "$@"
