"""The staged pipeline (the main job) on push from pixels, per seed, under the main job's 2 h budget.

    .venv/bin/python bench/learn_staged.py --seeds 3                      # the headline: 3 seeds, 2 h each
    .venv/bin/python bench/learn_staged.py --seeds 3 --task pick                  # issue 19: 4 h per seed
    .venv/bin/python bench/learn_staged.py --seeds 1 --variant p8 --set student.passes_per_frame=8
    .venv/bin/python bench/learn_staged.py --seeds 1 --variant trial --teacher-from bench/runs/push_state-t-base_seed0
    .venv/bin/python bench/learn_staged.py --seeds 1 --task pick --teacher-only --set teacher.max_wall_minutes=100

`--teacher-only` runs stage 1 alone into the same run folder (a later run without it continues with stage 2)
and writes bench/results/learn_staged[-<task>][-<variant>]-teacher.json: per seed the teacher's env steps,
wall time, eval curve and its final report (privileged state, no images).
Each results JSON gets its curves as a PNG beside it (every seed, all stages, over env steps and wall
time); `--replot` redraws them all from the committed JSONs.

Each seed is an ordinary resumable run of `aac_train --config <task's named config>` (`pick`, `pick_place`;
`main` for push and reach; `--minutes` overrides its budget) in
bench/runs/staged[-<task>][-<variant>]_seed<k>/ (re-running continues it; <task> only for tasks other
than push). `--teacher-from` starts stage 2 from an
existing `wiring: state` run instead of training stage 1 (a stage-2 experiment; its wall time then
excludes the teacher's). Results: bench/results/learn_staged[-<variant>].json with, per seed, the
stages' env steps, wall time, success and passes per frame, every eval row of both stages (env steps
and wall time), the final eval report with the held-out sweep, and mean / worst over seeds; for pick and pick_place also the grasp numbers per condition.
Targets (issue 16): >= 90 % eval success (50 episodes, mean of 3 seeds, worst >= 85 %) within 2 h of
wall time, all stages included; held-out conditions within 10 points of the training distribution;
teacher >= 90 % eval in <= 300k env steps.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from aac_policy.perf import machine_info
from aac_policy.plots import plot_staged_seeds, read_metrics
from aac_policy.staged import STAGE_FILE, run_staged, run_teacher
from aac_policy.config import CONFIG_DIR
from aac_policy.train import load_config
from repo_paths import rel

HERE = Path(__file__).parent
# per condition of the final report, for pick and pick_place (the goal split: pick_place only)
GRASP_KEYS = ("grasp_success_rate", "drop_rate_after_grasp", "success_rate_goal_in_air", "success_rate_goal_on_table",
              "episodes_goal_in_air", "episodes_goal_on_table")


def adopt_teacher(src: Path, run: Path) -> None:
    """Stage 1 taken from an existing state run: its checkpoints and metrics, marked done."""
    dst = run / "teacher"
    if (dst / STAGE_FILE).exists():
        return
    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("replay", "tb"))
    rows = read_metrics(dst / "metrics.jsonl")
    ckpts = sorted((dst / "checkpoints").glob("checkpoint_*.pt"))
    import torch
    ck = torch.load(ckpts[-1], map_location="cpu", weights_only=True)
    summary = {"stage": "teacher", "env_steps": int(ck["env_steps"]), "wall_time_s": round(float(ck["wall_time"]), 1),
               "last_eval_success": rows[-1]["success_rate"] if rows else None, "final_report_success": None,
               "reached_stop_success": None, "minutes_budget": None, "episodes": int(ck["episodes"]),
               "adopted_from": rel(src)}
    (dst / STAGE_FILE).write_text(json.dumps(summary, indent=2))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--variant", default="")
    ap.add_argument("--task", default="push", choices=("reach", "push", "pick", "pick_place"))
    ap.add_argument("--minutes", type=float, default=None,
                    help="wall-time budget per seed, all stages (default: the task's named config: 2 h, grasp tasks 4 h)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--teacher-from", type=Path, help="a `wiring: state` run to use as stage 1")
    ap.add_argument("--teacher-only", action="store_true", help="stage 1 alone (the run folder is the same)")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the curve PNG of every committed bench/results/learn_staged*.json")
    args = ap.parse_args()
    if args.replot:
        for path in sorted((HERE / "results").glob("learn_staged*.json")):
            print(rel(plot_results(path, json.loads(path.read_text()))))
        return 0
    label = "staged" + (f"-{args.task}" if args.task != "push" else "") + (f"-{args.variant}" if args.variant else "")
    out_path = HERE / "results" / f"learn_{label}{'-teacher' if args.teacher_only else ''}.json"
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    # A series continued seed by seed (`--first-seed 2 --seeds 1`) keeps the seeds it does not rerun;
    # each seed records the command that ran it, so a mixed series shows it.
    previous = json.loads(out_path.read_text()).get("runs", {}) if out_path.exists() else {}
    results = {k: v for k, v in previous.items() if k not in {f"seed{s}" for s in seeds}}
    for seed in seeds:
        run = HERE / "runs" / f"{label}_seed{seed}"
        named = args.task if (CONFIG_DIR / f"{args.task}.yaml").is_file() else "main"
        budget = [f"max_wall_minutes={args.minutes:g}"] if args.minutes is not None else []
        cfg = load_config(named, [f"sim.task={args.task}", f"seed={seed}", *budget, "final_eval_episodes=50", *args.set])
        if args.teacher_from:
            adopt_teacher(args.teacher_from, run)
        if args.teacher_only:
            stages = {"teacher": run_teacher(cfg, run, progress=False)}
            report_file = run / "teacher" / "eval" / "report.json"
            report = json.loads(report_file.read_text()) if report_file.exists() else {}
        else:
            out = run_staged(cfg, run, progress=False)
            stages, report = out["stages"], out["report"] or {}
        results[f"seed{seed}"] = {
            "run_dir": rel(run), "command": "python bench/learn_staged.py " + " ".join(sys.argv[1:]),
            "machine": machine_info(), "stages": stages,
            "final_report": {c: r.get("success_rate") for c, r in report.get("conditions", {}).items()},
            "time_to_success": {c: r.get("mean_time_to_success_steps")
                                for c, r in report.get("conditions", {}).items()},
            "curves": {s: read_metrics(run / s / "metrics.jsonl") for s in stages}}
        grasp = {c: {k: r[k] for k in GRASP_KEYS if k in r}
                 for c, r in report.get("conditions", {}).items() if "grasp_success_rate" in r}
        if grasp:
            results[f"seed{seed}"]["grasp"] = grasp
        results = dict(sorted(results.items(), key=lambda kv: int(kv[0][4:])))
        # written after every seed: a stopped series keeps what it measured
        summary = summarize_teachers(results) if args.teacher_only else summarize(results)
        payload = {"command": series_command(args, results), "summary": summary, "runs": results}
        out_path.write_text(json.dumps(payload, indent=2))
        plot_results(out_path, payload)
        print(json.dumps(summary, indent=2), flush=True)
    return 0


def plot_results(path: Path, payload: dict) -> Path:
    """The series' eval curves (every seed, all stages, over env steps and wall time) next to its JSON."""
    return plot_staged_seeds(payload["runs"], path.with_suffix(".png"),
                             f"bench/results/{path.name}: eval success per seed, all stages")


def without_seed_range(argv: list[str]) -> list[str]:
    argv = list(argv)
    for flag in ("--seeds", "--first-seed"):
        while flag in argv:
            i = argv.index(flag)
            del argv[i:i + 2]
    return argv


def series_command(args: argparse.Namespace, results: dict) -> str:
    """The one command that reproduces the whole series in the file (all its seeds, this invocation's options),
    or, where its seeds ran with other options, each seed's own command ("; "-separated)."""
    argv = without_seed_range(sys.argv[1:])
    own = [r["command"] for r in results.values() if "command" in r]
    if any(without_seed_range(c.split()[2:]) != argv for c in own):
        return "; ".join(own)
    first = min(int(k[4:]) for k in results)
    rng = (["--first-seed", str(first)] if first else []) + ["--seeds", str(len(results))]
    return "python bench/learn_staged.py " + " ".join(rng + argv)


def final_success(results: dict) -> dict:
    """Seeds, and mean / worst training-distribution success of their final reports."""
    final = [r["final_report"].get("train") for r in results.values() if r["final_report"].get("train") is not None]
    return {"seeds": len(results), "final_success_mean": float(np.mean(final)) if final else None,
            "final_success_worst": float(np.min(final)) if final else None}


def summarize_teachers(results: dict) -> dict:
    teachers = [r["stages"]["teacher"] for r in results.values()]
    return {**final_success(results),
            "teacher_env_steps": [t["env_steps"] for t in teachers],
            "teacher_wall_time_min": [round(t["wall_time_s"] / 60, 1) for t in teachers],
            "reached_stop_success": [t["reached_stop_success"] for t in teachers]}


def summarize(results: dict) -> dict:
    summary = {**final_success(results),
               "total_wall_time_min": [round(r["stages"]["total_wall_time_s"] / 60, 1) for r in results.values()],
               "teacher_env_steps": [r["stages"]["teacher"]["env_steps"] for r in results.values()],
               "student_env_steps": [r["stages"]["student"]["env_steps"] for r in results.values()]}
    for cond in ("lighting_heldout", "textures_heldout", "camera_shift", "deploy_camera_path"):
        vals = [r["final_report"].get(cond) for r in results.values() if r["final_report"].get(cond) is not None]
        summary[f"{cond}_mean"] = float(np.mean(vals)) if vals else None
    return summary


if __name__ == "__main__":
    sys.exit(main())
