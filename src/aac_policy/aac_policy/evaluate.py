"""Evaluate an EXPORTED actor (the deployable file, not the training checkpoint).

    aac_evaluate --actor runs/push/actor.pt --episodes 50 --out runs/push/eval

Writes report.json + report.md (success rate, mean time-to-success, return) for the training
distribution and a robustness sweep of held-out conditions the policy never saw in training:
lighting outside the training ranges, held-out table/floor/block textures (training has flat colours or
the disjoint training texture bank),
and camera poses shifted 2.5x further than the training jitter; plus a GIF of a few episodes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from aac_sim.config import ConfigError, SimConfig
from aac_sim.env import AacPandaEnv
from aac_robot.metrics import summarize
from aac_sim.rollout import EVAL_SEED_BASE, run_episodes

from .export import load_actor

# Held-out conditions: each starts from the training randomization and moves one factor outside it.
SWEEP = {
    "lighting_heldout": ("dim, coloured light outside the training ranges",
                         dict(lighting=True, light_ambient=(0.1, 0.25), light_diffuse=(0.75, 0.95),
                              light_color_min=0.5)),
    "textures_heldout": ("held-out procedural textures on table, floor and block (training: the train bank, "
                         "or flat colours)", dict(textures=True, texture_bank="heldout", texture_mix_prob=0.0)),
    "camera_shift": ("camera pose jitter 5 cm / 5 deg (training: 2 cm / 2 deg)",
                     dict(camera=True, camera_pos_jitter_m=0.05, camera_rot_jitter_deg=5.0)),
}
# Conditions that change how the sim renders rather than what it randomizes (SimConfig fields).
RENDER_SWEEP = {
    "deploy_camera_path": ("the training distribution seen through the deploy path: 640x480 camera frames, "
                           "centre-cropped and resized as aac_policy_node does (training renders at the "
                           "policy size directly)", dict(camera_render="native")),
}


def check_actor_matches(spec: dict, sim: SimConfig) -> None:
    """Refuse to run an actor on an env it was not trained for, naming the field that differs."""
    diffs = []
    if spec.get("task") and spec["task"] != sim.task:
        diffs.append(f"task: actor was trained on {spec['task']!r}, env is {sim.task!r}")
    if spec.get("image_keys") and spec.get("image_size") != sim.image_size:
        diffs.append(f"image_size: actor expects {spec.get('image_size')}, env renders {sim.image_size}")
    act = spec.get("action", {})
    if "max_ee_step_m" in act and abs(act["max_ee_step_m"] - sim.max_ee_step_m) > 1e-9:
        diffs.append(f"max_ee_step_m: actor {act['max_ee_step_m']}, env {sim.max_ee_step_m}")
    for key, want in (spec.get("motion") or {}).items():
        have = sim.motion.to_spec().get(key)
        if have is not None and list(np.atleast_1d(want)) != list(np.atleast_1d(have)):
            diffs.append(f"motion.{key}: actor trained with {want}, env has {have}")
    if diffs:
        raise ConfigError("exported actor does not match the env:\n  " + "\n  ".join(diffs))


def actor_policy(module, spec: dict):
    keys = spec["inputs"]

    def policy(obs: dict) -> np.ndarray:
        with torch.inference_mode():
            batch = {k: torch.from_numpy(np.ascontiguousarray(obs[k])[None]) for k in keys}
            return module(batch)[0].numpy().astype(np.float32)
    return policy


def save_gif(videos: list[list[np.ndarray]], path: Path, fps: int = 12) -> Path | None:
    from PIL import Image
    frames = [Image.fromarray(f) for v in videos for f in v[::2]]   # every other frame keeps it small
    if not frames:
        return None
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 * 2 / fps), loop=0)
    return path


def evaluate_actor(actor_path: str | Path, out_dir: str | Path, episodes: int, train_config=None,
                   sim: SimConfig | None = None, video_episodes: int = 3, sweep: bool = True,
                   eval_env=None) -> dict:
    """Run the exported actor in the training distribution and the held-out sweep; write the report.

    `train_config` (TrainConfig) or `sim` says which env to use; `eval_env` may be passed to reuse one
    for the training-distribution condition (any gymnasium goal-conditioned env, e.g. a non-AAC one)."""
    module, spec = load_actor(actor_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if sim is None and train_config is not None and not train_config.env_id:
        sim = train_config.sim.replace(render_images=train_config.pixels)
    if sim is not None:
        check_actor_matches(spec, sim)
    policy = actor_policy(module, spec)

    conditions, descriptions = {}, {"train": "training distribution (same randomization as training)"}
    own_env = eval_env is None
    env = eval_env if eval_env is not None else AacPandaEnv(config=sim, render_mode="rgb_array")
    try:
        results, videos = run_episodes(env, policy, episodes, seed=EVAL_SEED_BASE, record=video_episodes)
    finally:
        if own_env:
            env.close()
    conditions["train"] = summarize(results)
    gif = save_gif(videos, out_dir / "episodes.gif") if videos and videos[0][0] is not None else None

    if sweep and sim is not None and spec.get("image_keys"):
        conditions_to_run = [(name, desc, sim.replace(randomization=dataclasses.replace(sim.randomization, **changes)))
                             for name, (desc, changes) in SWEEP.items()]
        conditions_to_run += [(name, desc, sim.replace(**changes)) for name, (desc, changes) in RENDER_SWEEP.items()]
        for name, desc, cfg in conditions_to_run:
            env = AacPandaEnv(config=cfg)
            try:
                results, _ = run_episodes(env, policy, episodes, seed=EVAL_SEED_BASE)
            finally:
                env.close()
            conditions[name] = summarize(results)
            descriptions[name] = desc
    report = {"actor": str(actor_path), "task": spec.get("task"), "wiring": spec.get("wiring"),
              "episodes_per_condition": episodes, "seeds": [EVAL_SEED_BASE, EVAL_SEED_BASE + episodes - 1],
              "success_criterion": "goal reached (within distance_threshold_m) at the last step of the episode",
              "conditions": conditions, "descriptions": descriptions,
              "paths": {"json": str(out_dir / "report.json"), "markdown": str(out_dir / "report.md"),
                        "gif": str(gif) if gif else None}}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(markdown_report(report))
    return report


def markdown_report(report: dict) -> str:
    lines = [f"# Evaluation: {report['task']} ({report['wiring']} actor)", "",
             f"Actor: `{report['actor']}`; {report['episodes_per_condition']} episodes per condition, "
             f"seeds {report['seeds'][0]}..{report['seeds'][1]}. Success = {report['success_criterion']}.", "",
             "| condition | success rate | mean time-to-success (steps) | mean return | what changes |",
             "|---|---|---|---|---|"]
    for name, r in report["conditions"].items():
        tts = f"{r['mean_time_to_success_steps']:.1f}" if r["mean_time_to_success_steps"] is not None else "-"
        lines.append(f"| {name} | {r['success_rate']:.2f} | {tts} | {r['mean_return']:.1f} | "
                     f"{report['descriptions'].get(name, '')} |")
    grasp = {n: r for n, r in report["conditions"].items() if "grasp_success_rate" in r}
    if grasp:   # pick / pick_place: how often the block was held, and how often a lifted block was dropped
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        lines += ["", "| condition | grasp success | drops after a lift (share of grasped episodes) |", "|---|---|---|"]
        lines += [f"| {n} | {fmt(r['grasp_success_rate'])} | {fmt(r['drop_rate_after_grasp'])} |" for n, r in grasp.items()]
    split = {n: r for n, r in report["conditions"].items() if "success_rate_goal_in_air" in r}
    if split:   # pick_place: goals in the air need a grasp, goals on the table do not
        lines += ["", "| condition | success, goal in the air (episodes) | success, goal on the table (episodes) |",
                  "|---|---|---|"]
        lines += [f"| {n} | {fmt(r['success_rate_goal_in_air'])} ({r['episodes_goal_in_air']}) | "
                  f"{fmt(r['success_rate_goal_on_table'])} ({r['episodes_goal_on_table']}) |" for n, r in split.items()]
    if report["paths"].get("gif"):
        lines += ["", f"![episodes]({Path(report['paths']['gif']).name})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actor", required=True, help="exported actor file (actor.pt)")
    ap.add_argument("--out", help="report folder (default: eval/ next to the actor)")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--sim-config", help="SimConfig YAML; default: the run's config.yaml next to the actor")
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--no-sweep", action="store_true")
    args = ap.parse_args(argv)
    actor = Path(args.actor)
    try:
        if args.sim_config:
            sim, eval_env = SimConfig.from_yaml(args.sim_config), None
        elif (actor.parent / "config.yaml").exists():
            from .config import TrainConfig
            from .envs import make_eval_env
            tc = TrainConfig.from_yaml(actor.parent / "config.yaml")
            sim = None if tc.env_id else tc.sim.replace(render_images=tc.pixels)
            eval_env = make_eval_env(tc) if tc.env_id else None   # a non-AAC env: no sweep
        else:
            eval_env = None
            _, spec = load_actor(actor)
            sim = SimConfig(task=spec["task"], image_size=spec["image_size"] or 84,
                            render_images=bool(spec.get("image_keys")))
        report = evaluate_actor(actor, args.out or actor.parent / "eval", args.episodes, sim=sim,
                                video_episodes=args.videos, sweep=not args.no_sweep, eval_env=eval_env)
    except (ConfigError, ValueError) as exc:
        print(f"aac_evaluate: error: {exc}", file=sys.stderr)
        return 2
    print(yaml.safe_dump({k: v["success_rate"] for k, v in report["conditions"].items()}, sort_keys=False))
    print(f"report: {report['paths']['markdown']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
