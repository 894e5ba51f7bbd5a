"""Learning-curve plots (matplotlib, headless) from the runs' metrics.jsonl files."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_learning_curve(metrics_path: str | Path, out_png: str | Path, title: str = "") -> Path:
    rows = read_metrics(metrics_path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    if rows:
        steps = [r["env_steps"] for r in rows]
        wall = [r["wall_time_s"] / 60 for r in rows]
        succ = [r["success_rate"] for r in rows]
        axes[0].plot(steps, succ, marker="o", ms=3)
        axes[1].plot(wall, succ, marker="o", ms=3)
    return _finish(fig, axes, out_png, title, "wall time (min)", "eval success rate")


def _finish(fig, axes, out_png, title: str, wall_label: str, y_label: str) -> Path:
    axes[0].set_xlabel("env steps")
    axes[1].set_xlabel(wall_label)
    axes[0].set_ylabel(y_label)
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_comparison(runs: dict[str, list[Path]], out_png: str | Path, title: str = "") -> Path:
    """runs: label -> run folders (one per seed). Mean over seeds with min-max band, vs env steps and wall time."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, dirs in runs.items():
        curves = [read_metrics(Path(d) / "metrics.jsonl") for d in dirs]
        curves = [c for c in curves if c]
        if not curves:
            continue
        by_step = defaultdict(list)
        by_step_wall = defaultdict(list)
        for c in curves:
            for r in c:
                by_step[r["env_steps"]].append(r["success_rate"])
                by_step_wall[r["env_steps"]].append(r["wall_time_s"] / 60)
        steps = sorted(s for s in by_step if len(by_step[s]) == len(curves))
        mean = np.array([np.mean(by_step[s]) for s in steps])
        lo = np.array([np.min(by_step[s]) for s in steps])
        hi = np.array([np.max(by_step[s]) for s in steps])
        wall = np.array([np.mean(by_step_wall[s]) for s in steps])
        name = f"{label} ({len(curves)} seed{'s' if len(curves) > 1 else ''})"
        line, = axes[0].plot(steps, mean, label=name)
        axes[0].fill_between(steps, lo, hi, alpha=0.2, color=line.get_color())
        axes[1].plot(wall, mean, color=line.get_color(), label=name)
        axes[1].fill_between(wall, lo, hi, alpha=0.2, color=line.get_color())
    axes[0].legend(loc="upper left", fontsize=8)
    return _finish(fig, axes, out_png, title, "wall time (min, mean over seeds)",
                   "eval success rate (mean, min-max over seeds)")


STAGE_STYLE = {"teacher": ("--", "teacher (privileged state)"), "student": ("-", "pixel student"),
               "finetune": (":", "stage 3 (asymmetric actor-critic)")}


def staged_series(run: dict) -> list[tuple[str, list[int], list[float], list[float]]]:
    """One seed of a staged series (bench/learn_staged.py results: {"stages", "curves"}) on the pipeline's
    own axes: (stage, env steps, wall minutes, eval success) per stage, each stage starting where the
    previous one's env steps and wall time ended."""
    out, steps0, wall0 = [], 0, 0.0
    for stage in (s for s in STAGE_STYLE if s in run["curves"]):
        rows = run["curves"][stage]
        out.append((stage, [steps0 + r["env_steps"] for r in rows], [(wall0 + r["wall_time_s"]) / 60 for r in rows],
                    [r["success_rate"] for r in rows]))
        done = run["stages"].get(stage) or {}
        steps0 += done.get("env_steps", 0)
        wall0 += done.get("wall_time_s", 0.0)
    return out


def plot_staged_seeds(runs: dict[str, dict], out_png: str | Path, title: str = "") -> Path:
    """Every seed of a staged series, all stages one after the other (`staged_series`), so the curves
    show what the whole pipeline spent. The teacher acts on privileged state (dashed); the deployable
    pixel actor is the student (solid)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (seed, run) in enumerate(runs.items()):
        for stage, steps, wall, succ in staged_series(run):
            if not steps:
                continue
            style, name = STAGE_STYLE[stage]
            kw = dict(color=colors[i % len(colors)], marker="o", ms=2, label=f"{seed}: {name}")
            axes[0].plot(steps, succ, style, **kw)
            axes[1].plot(wall, succ, style, **kw)
    axes[0].legend(loc="lower right", fontsize=7)
    return _finish(fig, axes, out_png, title, "wall time (min, all stages)", "eval success rate")
