"""`push` with domain randomization: asymmetric vs symmetric (vs state oracle) under a wall-time budget.

    .venv/bin/python bench/learn_push.py --wirings asymmetric symmetric --minutes 120 --seeds 1
Target (issue 3): asymmetric >= 90 % eval success within 2 h wall time on this 2-core machine, and
symmetric at the same env steps <= half of that. Each run goes to bench/runs/push_<wiring>_seed<k>/
(resumable: re-running continues it); the comparison plot and a JSON summary with every curve
(env steps AND wall time) go to bench/results/learn_push_<wirings>.{json,png}.

Runs made by separate invocations (e.g. in different sessions) are compared without training:
    .venv/bin/python bench/learn_push.py --compare asymmetric-closecam --baseline symmetric-closecam
(labels are <wiring>[-<variant>]; writes bench/results/learn_push_vs_<baseline>.{json,png}).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aac_policy.compare import at_same_steps, summarize_runs
from aac_policy.plots import plot_comparison, read_metrics
from aac_policy.config import load_config
from aac_policy.finish import finish_run
from aac_policy.train import Trainer

HERE = Path(__file__).parent


def run_dirs(label: str, seeds: int) -> list[Path]:
    return [HERE / "runs" / f"push_{label}_seed{seed}" for seed in range(seeds)]


def write_results(runs: dict[str, list[Path]], tag: str, title: str, extra: dict, baseline: str) -> dict:
    """Summary, every other label vs `baseline` at the same env steps (per seed), plot, JSON."""
    summary = summarize_runs(runs)
    curves = {w: [read_metrics(d / "metrics.jsonl") for d in dirs] for w, dirs in runs.items()}
    if baseline in curves:
        for label in curves:
            if label != baseline:
                summary[f"{label}_vs_{baseline}_at_same_steps"] = [
                    at_same_steps(a, b) for a, b in zip(curves[label], curves[baseline]) if a and b]
    png = plot_comparison(runs, HERE / "results" / f"learn_push_{tag}.png", title=title)
    result = {"command": "python bench/learn_push.py " + " ".join(sys.argv[1:]), **extra,
              "summary": summary, "curves": curves, "plot": str(png.name)}
    (HERE / "results" / f"learn_push_{tag}.json").write_text(json.dumps(result, indent=2))
    return summary


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wirings", nargs="+", default=["asymmetric", "symmetric"])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=120.0, help="wall-time budget per run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--variant", default="", help="label for runs with --set changes: runs go to "
                    "push_<wiring>-<variant>_seed<k>, results to learn_push_<wiring>-<variant>.*")
    ap.add_argument("--compare", nargs="+", metavar="LABEL", help="no training: compare existing runs "
                    "(labels <wiring>[-<variant>]) with --baseline at the same env steps")
    ap.add_argument("--baseline", default="symmetric", help="the label --compare runs are compared with")
    args = ap.parse_args()
    if args.compare:
        runs = {label: run_dirs(label, args.seeds) for label in [*args.compare, args.baseline]}
        missing = [str(d) for dirs in runs.values() for d in dirs if not (d / "metrics.jsonl").exists()]
        if missing:
            ap.error(f"no metrics.jsonl in {', '.join(missing)}")
        summary = write_results(runs, f"vs_{args.baseline}", f"push: {', '.join(runs)}", {}, args.baseline)
        print(json.dumps(summary, indent=2))
        return 0
    suffix = f"-{args.variant}" if args.variant else ""
    runs: dict[str, list[Path]] = {}
    configs = {}
    for wiring in args.wirings:
        runs[wiring + suffix] = run_dirs(wiring + suffix, args.seeds)
        for seed, run in enumerate(runs[wiring + suffix]):
            cfg = load_config(None, ["sim.task=push", f"wiring={wiring}", f"seed={seed}",
                                     "total_env_steps=5000000", f"max_wall_minutes={args.minutes}",
                                     "eval_every_steps=10000", "eval_episodes=30", "checkpoint_every_steps=10000",
                                     "final_eval_episodes=50", *args.set])
            configs[wiring + suffix] = cfg.to_dict()
            trainer = Trainer(cfg, run, progress=False)
            trainer.run()
            finish_run(trainer)   # the exported actor's eval report (write_results reads it)
    tag = "_".join(runs)
    summary = write_results(runs, tag, f"push, {args.minutes:.0f} min per run",
                            {"minutes_per_run": args.minutes, "configs": configs}, "symmetric" + suffix)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
