"""Collection speed: the trainer's collector (2 env worker processes, push, 84x84 RGB-D) with 1 vs
2 torch threads in the collecting process, and what that does to whole training rounds.

The collector runs policy inference on a batch of 2 observations per vector step. With 2 torch
threads the second OpenMP thread busy-waits between those tiny parallel regions, on the cores the
env workers need; `Trainer.collect` therefore runs with 1 thread (`aac_policy.perf.torch_threads`)
and the updates with `torch_threads` of the config. This bench measures both settings in one run,
interleaved (machines are noisy):

- collect: env steps/s of `Trainer.collect` and the collecting process's own CPU ms per vector step;
- train: env steps/s of `Trainer.run` for --train-steps env steps (collection + updates at the
  config's update-to-data ratio, no evals), "2 threads" meaning the collector is left at the
  learner's thread count as before.

    .venv/bin/python bench/collect_speed.py [--rounds 3] [--train-steps 3000]

Writes bench/results/collect_speed.json.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import aac_policy.train as train_mod
from aac_policy.perf import torch_threads
from aac_policy.config import load_config
from aac_policy.train import Trainer

OUT = Path(__file__).parent / "results" / "collect_speed.json"
VARIANTS = {"asymmetric": [], "asymmetric + state teacher": ["state_teacher=true", "updates_per_step=0.5"]}


@contextlib.contextmanager
def collector_threads(n: int):
    """Make Trainer.collect use `n` torch threads (n=2: the behaviour before the 1-thread collector)."""
    original = train_mod.torch_threads
    train_mod.torch_threads = lambda _: torch_threads(n)
    try:
        yield
    finally:
        train_mod.torch_threads = original


def collect_rate(trainer: Trainer, envs, episodes: int) -> tuple[float, float]:
    """(env steps/s, collecting process CPU ms per vector step) over `episodes` rounds."""
    steps, cpu0, t0 = 0, time.process_time(), time.perf_counter()
    for _ in range(episodes):
        steps += trainer.collect(envs, None)["steps"]
    wall = time.perf_counter() - t0
    return steps / wall, (time.process_time() - cpu0) / (steps / envs.num_envs) * 1e3


def train_rate(overrides: list[str], steps: int, threads: int) -> float:
    cfg = load_config(None, ["sim.task=push", "save_replay=false", "random_steps=1000", f"total_env_steps={steps}",
                             "eval_every_steps=100000000", "eval_episodes=1", "final_eval_episodes=0",
                             "checkpoint_every_steps=100000000"] + overrides)
    with tempfile.TemporaryDirectory() as run_dir, collector_threads(threads):
        trainer = Trainer(cfg, run_dir, progress=False)
        trainer.run()
        return trainer.env_steps / trainer.wall_time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--episodes", type=int, default=4, help="collect rounds (2 episodes each) per measurement")
    ap.add_argument("--train-steps", type=int, default=3000, help="0 skips the training comparison")
    args = ap.parse_args()
    results = {"command": "python bench/collect_speed.py " + " ".join(sys.argv[1:]),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "collect": {}, "train": {}}
    for name, overrides in VARIANTS.items():
        cfg = load_config(None, ["sim.task=push", "save_replay=false", "random_steps=0"] + overrides)
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(cfg, run_dir, progress=False)
            envs = train_mod.make_train_env(cfg)
            try:
                trainer.collect(envs, 0)   # warm-up: worker start, first renders
                runs = {1: [], 2: []}
                for _ in range(args.rounds):
                    for threads in (2, 1):
                        with collector_threads(threads):
                            runs[threads].append(collect_rate(trainer, envs, args.episodes))
            finally:
                envs.close()
        row = {f"{t}_thread{'s' if t > 1 else ''}": {
            "env_steps_per_s": round(float(np.median([r[0] for r in v])), 1),
            "collector_cpu_ms_per_vector_step": round(float(np.median([r[1] for r in v])), 2),
            "rounds_env_steps_per_s": [round(r[0], 1) for r in v]} for t, v in runs.items()}
        row["speedup_1_vs_2_threads"] = round(row["1_thread"]["env_steps_per_s"] / row["2_threads"]["env_steps_per_s"], 2)
        results["collect"][name] = row
        print("collect", name, json.dumps(row), flush=True)
        if args.train_steps > 0:
            rates = {1: [], 2: []}
            for _ in range(max(1, args.rounds - 1)):
                for threads in (2, 1):
                    rates[threads].append(train_rate(overrides, args.train_steps, threads))
            trow = {"env_steps": args.train_steps,
                    "env_steps_per_s_collector_2_threads": [round(r, 1) for r in rates[2]],
                    "env_steps_per_s_collector_1_thread": [round(r, 1) for r in rates[1]],
                    "speedup": round(float(np.median(rates[1]) / np.median(rates[2])), 2)}
            results["train"][name] = trow
            print("train", name, json.dumps(trow), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
