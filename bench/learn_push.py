"""`push` with domain randomization: asymmetric vs symmetric (vs state oracle) under a wall-time budget.

    .venv/bin/python bench/learn_push.py --wirings asymmetric symmetric --minutes 120 --seeds 1
Target (issue 3): asymmetric >= 90 % eval success within 2 h wall time on this 2-core machine, and
symmetric at the same env steps <= half of that. Each run goes to bench/runs/push_<wiring>_seed<k>/
(resumable: re-running continues it); the comparison plot and a JSON summary with every curve
(env steps AND wall time) go to bench/results/learn_push_<wirings>.{json,png}.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aac_policy.compare import summarize_runs
from aac_policy.plots import plot_comparison, read_metrics
from aac_policy.train import Trainer, load_config

HERE = Path(__file__).parent


def success_at(rows, steps):
    """Eval success at the last eval at or before `steps` env steps."""
    before = [r for r in rows if r["env_steps"] <= steps]
    return before[-1]["success_rate"] if before else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wirings", nargs="+", default=["asymmetric", "symmetric"])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=120.0, help="wall-time budget per run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--variant", default="", help="label for runs with --set changes: runs go to "
                    "push_<wiring>-<variant>_seed<k>, results to learn_push_<wiring>-<variant>.*")
    args = ap.parse_args()
    suffix = f"-{args.variant}" if args.variant else ""
    runs: dict[str, list[Path]] = {}
    configs = {}
    for wiring in args.wirings:
        for seed in range(args.seeds):
            cfg = load_config(None, ["sim.task=push", f"wiring={wiring}", f"seed={seed}",
                                     "total_env_steps=5000000", f"max_wall_minutes={args.minutes}",
                                     "eval_every_steps=10000", "eval_episodes=30", "checkpoint_every_steps=10000",
                                     "final_eval_episodes=50", *args.set])
            run = HERE / "runs" / f"push_{wiring}{suffix}_seed{seed}"
            runs.setdefault(wiring + suffix, []).append(run)
            configs[wiring + suffix] = cfg.to_dict()
            Trainer(cfg, run, progress=False).run()
    summary = summarize_runs(runs)
    curves = {w: [read_metrics(d / "metrics.jsonl") for d in dirs] for w, dirs in runs.items()}
    if "asymmetric" in curves and "symmetric" in curves:
        for a_rows, s_rows in zip(curves["asymmetric"], curves["symmetric"]):
            common = min(a_rows[-1]["env_steps"], s_rows[-1]["env_steps"])
            summary.setdefault("asymmetric_vs_symmetric_at_same_steps", []).append(
                {"env_steps": common, "asymmetric": success_at(a_rows, common),
                 "symmetric": success_at(s_rows, common)})
    tag = "_".join(w + suffix for w in args.wirings)
    png = plot_comparison(runs, HERE / "results" / f"learn_push_{tag}.png",
                          title=f"push, {args.minutes:.0f} min per run")
    result = {"command": "python bench/learn_push.py " + " ".join(sys.argv[1:]), "minutes_per_run": args.minutes,
              "summary": summary, "curves": curves, "configs": configs, "plot": str(png.name)}
    (HERE / "results" / f"learn_push_{tag}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
