"""Run the comparison: asymmetric vs symmetric vs state, N seeds each, one plot and one table.

    aac_compare --out runs/compare_push --seeds 3 --set sim.task=push --set total_env_steps=200000

Each (wiring, seed) is an ordinary training run in <out>/<wiring>_seed<k> (so an interrupted
comparison resumes where it stopped); runs go one after another (a 2-core machine gains nothing
from running them side by side). Writes comparison.png, comparison.json and comparison.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from aac_sim.config import ConfigError

from .checkpoint import CheckpointError
from .config import WIRINGS
from .plots import plot_comparison, read_metrics
from .config import load_config
from .finish import finish_run
from .train import Trainer


def steps_to_reach(rows: list[dict], level: float) -> int | None:
    for r in rows:
        if r["success_rate"] >= level:
            return r["env_steps"]
    return None


def success_at(rows: list[dict], steps: int) -> float | None:
    """Eval success at the last eval at or before `steps` env steps."""
    before = [r for r in rows if r["env_steps"] <= steps]
    return before[-1]["success_rate"] if before else None


def at_same_steps(agent: list[dict], baseline: list[dict], window: int = 5, min_agent: float = 0.1) -> dict:
    """Two runs' eval success at the env steps where both were evaluated (up to the shorter run),
    and the means over the last `window` of them: one 30-episode eval is noisy (+-9 % at 50 %), so
    "the baseline reaches at most half of the agent" is judged on the window, and only once the
    agent's mean there is >= `min_agent` (at 2 % vs 0 % the verdict would be noise); else None."""
    steps = sorted({r["env_steps"] for r in agent} & {r["env_steps"] for r in baseline})
    points = [{"env_steps": s, "agent": success_at(agent, s), "baseline": success_at(baseline, s)} for s in steps]
    last = points[-window:]
    mean_agent = float(np.mean([p["agent"] for p in last])) if last else None
    mean_base = float(np.mean([p["baseline"] for p in last])) if last else None
    return {"points": points, "window": [last[0]["env_steps"], last[-1]["env_steps"]] if last else None,
            "agent_mean": mean_agent, "baseline_mean": mean_base,
            "baseline_at_most_half": None if mean_agent is None or mean_agent < min_agent
            else bool(mean_base <= mean_agent / 2)}


def summarize_runs(runs: dict[str, list[Path]], level: float = 0.9) -> dict:
    out = {}
    for label, dirs in runs.items():
        rows = [read_metrics(Path(d) / "metrics.jsonl") for d in dirs]
        rows = [r for r in rows if r]
        if not rows:
            continue
        finals = [r[-1]["success_rate"] for r in rows]
        reach = [steps_to_reach(r, level) for r in rows]
        out[label] = {"seeds": len(rows), "final_success_mean": float(np.mean(finals)),
                      "final_success_per_seed": finals, "env_steps": [r[-1]["env_steps"] for r in rows],
                      "wall_time_min": [round(r[-1]["wall_time_s"] / 60, 1) for r in rows],
                      f"env_steps_to_{int(level * 100)}pct": reach}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="comparison folder")
    ap.add_argument("--config", help="base training config YAML")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--wirings", nargs="+", default=list(WIRINGS), choices=WIRINGS)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    runs: dict[str, list[Path]] = {}
    try:
        for wiring in args.wirings:
            for seed in range(args.seeds):
                cfg = load_config(args.config, args.set + [f"wiring={wiring}", f"seed={seed}"])
                run_dir = out / f"{wiring}_seed{seed}"
                runs.setdefault(wiring, []).append(run_dir)
                if (run_dir / "actor.pt").exists() and read_metrics(run_dir / "metrics.jsonl") and \
                        read_metrics(run_dir / "metrics.jsonl")[-1]["env_steps"] >= cfg.total_env_steps:
                    continue   # finished earlier
                trainer = Trainer(cfg, run_dir, progress=not args.no_progress)
                trainer.run()
                finish_run(trainer)
    except (ConfigError, CheckpointError) as exc:
        print(f"aac_compare: error: {exc}", file=sys.stderr)
        return 2
    task = cfg.env_id or cfg.sim.task
    png = plot_comparison(runs, out / "comparison.png", title=f"{task}: actor/critic observation wirings")
    summary = summarize_runs(runs)
    (out / "comparison.json").write_text(json.dumps(summary, indent=2))
    lines = [f"# {task}: asymmetric vs symmetric vs state", "", f"![comparison]({png.name})", "",
             "| wiring | seeds | final success (mean) | per seed | env steps to 90 % |", "|---|---|---|---|---|"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['seeds']} | {s['final_success_mean']:.2f} | "
                     f"{', '.join(f'{x:.2f}' for x in s['final_success_per_seed'])} | {s['env_steps_to_90pct']} |")
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
