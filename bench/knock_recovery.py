"""Recovery after the block is knocked, in-process: a privileged teacher or an exported pixel actor.

    .venv/bin/python bench/knock_recovery.py --teacher bench/teachers/pick_seed0 --episodes 40 --at 5 15
    .venv/bin/python bench/knock_recovery.py --actor bench/runs/staged-pick_seed0/actor.pt \\
        --config bench/runs/staged-pick_seed0/student/config.yaml --episodes 40 --at 5

Per condition the same evaluation episodes (seeds EVAL_SEED_BASE + i) with the block knocked `--m` metres
(default 5 cm, as `twin_parity.py --perturb-at`) in a random direction at step K (env reset options
`knock_prob/knock_at/knock_m`; a block in the hand is not knocked), plus the unknocked episodes.
Says whether a student's poor recovery is its teacher's (who labels the states the student visits) or its
own. The actor runs in the training distribution of `--config` (the run's TrainConfig; the final report's
`train` condition); the teacher in its own run's (no images). Writes bench/results/knock_recovery_<label>.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from aac_policy.config import load_config
from aac_policy.evaluate import actor_policy, check_actor_matches
from aac_policy.export import load_actor
from aac_policy.perf import machine_info
from aac_robot.metrics import summarize
from aac_sim.env import AacPandaEnv
from aac_sim.rollout import EVAL_SEED_BASE, run_episodes
from repo_paths import rel

HERE = Path(__file__).parent


def teacher_policy(run: Path, checkpoint: str = "best"):
    """The teacher's actor as the student's DAgger labels come from it: its best eval's weights where
    kept, else the latest; `checkpoint="last"`: the latest in any case (the run folder is copied: resuming
    must not write into it)."""
    from aac_policy.train import Trainer
    tmp = Path(tempfile.mkdtemp(prefix="knock_teacher_"))
    shutil.copytree(run, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("replay", "tb"))
    trainer = Trainer(load_config(tmp / "config.yaml", []), tmp, progress=False)
    best = None
    if checkpoint == "best" and (tmp / "checkpoints" / "best.pt").exists():
        best = trainer.restore_best()
    about = {"env_steps": trainer.env_steps, "checkpoint": checkpoint, "best_eval": best}
    return trainer.agent.act, trainer.eval_env, about, tmp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--teacher", type=Path, help="a wiring: state run folder (a staged run's teacher/)")
    who.add_argument("--actor", type=Path, help="an exported actor (actor.pt / actor.onnx's .pt)")
    ap.add_argument("--checkpoint", choices=("best", "last"), default="best",
                    help="with --teacher: its best eval's weights (what a student learns from) or its latest")
    ap.add_argument("--config", type=Path, help="with --actor: the TrainConfig YAML it was trained with")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--at", type=int, nargs="+", default=[5], help="knock steps (one condition each)")
    ap.add_argument("--m", type=float, default=0.05, help="knock distance, m")
    ap.add_argument("--label", default=None)
    args = ap.parse_args()
    cleanup = None
    if args.teacher:
        policy, env, about, cleanup = teacher_policy(args.teacher, args.checkpoint)
        label = args.label or f"teacher-{args.teacher.name}" + ("-last" if args.checkpoint == "last" else "")
    else:
        if args.config is None:
            ap.error("--actor needs --config (the run's TrainConfig: which env it is evaluated in)")
        cfg = load_config(args.config, [])
        sim = cfg.sim.replace(render_images=True)
        module, spec = load_actor(args.actor)
        check_actor_matches(spec, sim)
        policy, env, about = actor_policy(module, spec), AacPandaEnv(config=sim), {}
        label = args.label or f"actor-{args.actor.parent.name}"
    conditions = {}
    try:
        for at in [None, *args.at]:
            opts = None if at is None else {"knock_prob": 1.0, "knock_at": at, "knock_m": args.m}
            results, _ = run_episodes(env, policy, args.episodes, seed=EVAL_SEED_BASE, reset_options=opts)
            name = "unknocked" if at is None else f"knocked_at_{at}"
            conditions[name] = summarize(results)
            print(name, json.dumps(conditions[name]), flush=True)
    finally:
        env.close()
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)
    out = {"command": "python bench/knock_recovery.py " + " ".join(sys.argv[1:]), "machine": machine_info(),
           "policy": rel(args.teacher or args.actor), "kind": "teacher" if args.teacher else "actor", **about,
           "episodes": args.episodes, "knock_m": args.m, "conditions": conditions}
    path = HERE / "results" / f"knock_recovery_{label}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {rel(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
