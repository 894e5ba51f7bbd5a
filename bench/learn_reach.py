"""Smoke benchmark: `reach` from pixels (asymmetric, default hyperparameters) within 20k env steps.

    .venv/bin/python bench/learn_reach.py [--seed 0] [--steps 20000]
Target: >= 95 % eval success within 20k env steps. Writes bench/results/learn_reach_seed<k>.json
(the eval curve with env steps and wall time, the final report, the config) and the run folder
bench/runs/learn_reach_seed<k>/ (ignored by git).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aac_policy.plots import read_metrics
from aac_policy.config import load_config
from aac_policy.finish import finish_run
from aac_policy.train import Trainer

HERE = Path(__file__).parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20_000)
    args = ap.parse_args()
    run = HERE / "runs" / f"learn_reach_seed{args.seed}"
    cfg = load_config(None, ["sim.task=reach", "wiring=asymmetric", f"seed={args.seed}",
                             f"total_env_steps={args.steps}", "random_steps=1000", "eval_every_steps=1000",
                             "eval_episodes=20", "checkpoint_every_steps=5000", "final_eval_episodes=50"])
    trainer = Trainer(cfg, run, progress=False)
    trainer.run()
    out = finish_run(trainer)
    rows = read_metrics(run / "metrics.jsonl")
    first95 = next((r["env_steps"] for r in rows if r["success_rate"] >= 0.95), None)
    final = out["report"]["conditions"]
    result = {"command": f"python bench/learn_reach.py --seed {args.seed} --steps {args.steps}",
              "target": ">= 0.95 eval success within 20000 env steps",
              "first_eval_at_or_above_95pct_env_steps": first95,
              "final_report_success": {k: v["success_rate"] for k, v in final.items()},
              "met": bool(first95 is not None and first95 <= 20_000 and final["train"]["success_rate"] >= 0.95),
              "curve": rows, "config": cfg.to_dict()}
    path = HERE / "results" / f"learn_reach_seed{args.seed}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("curve", "config")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
