"""Render cost of domain-randomization textures: env steps/s of AacPandaEnv(task="push") (84x84 RGB-D,
default randomization) with `textures` off vs on (train bank), in one process, rounds interleaved
(the machine may be shared with training runs: the per-round ratios are what counts, not the absolute
rates). Random actions, seeded; an episode is reset when it ends (resets are timed too). Also reports
the one-off cost of the first textured reset (generating the bank's PNGs if the cache is cold, and
loading them into the PyBullet client).

    .venv/bin/python bench/texture_cost.py [--rounds 3] [--steps 300]

Writes bench/results/texture_cost.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _pkg in ("aac_robot", "aac_sim"):   # runs from a checkout without installing
    sys.path.insert(0, str(ROOT / "src" / _pkg))
OUT = ROOT / "bench" / "results" / "texture_cost.json"


def run_steps(env, rng, steps: int, seed: int) -> float:
    """Env steps/s over `steps` steps (reset on truncation), starting from a reset with `seed`."""
    t0 = time.perf_counter()
    env.reset(seed=seed)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 4))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args(argv)
    from aac_sim.config import RandomizationConfig
    from aac_sim.env import AacPandaEnv

    variants = {"textures_off": RandomizationConfig(),
                "textures_on_train": dataclasses.replace(RandomizationConfig(), textures=True, texture_bank="train")}
    envs, first_reset_s = {}, {}
    for name, dr in variants.items():
        envs[name] = AacPandaEnv(task="push", image_size=84, randomization=dataclasses.asdict(dr))
        t0 = time.perf_counter()
        envs[name].reset(seed=0)   # the textured env loads its bank here
        first_reset_s[name] = round(time.perf_counter() - t0, 3)
    rates = {name: [] for name in variants}
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))   # alternate who goes first
        for name in order:
            rates[name].append(round(run_steps(envs[name], np.random.default_rng(r), args.steps, seed=100 + r), 1))
        print(f"round {r}: " + ", ".join(f"{n} {rates[n][-1]} steps/s" for n in variants), flush=True)
    for env in envs.values():
        env.close()
    ratios = [round(on / off, 3) for off, on in zip(rates["textures_off"], rates["textures_on_train"])]
    result = {
        "command": "python bench/texture_cost.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "note": "shared with background training runs: compare the interleaved rounds' ratios"},
        "setup": {"task": "push", "image": "84x84 RGB-D", "randomization": "default (+ textures, train bank)",
                  "rounds": args.rounds, "steps_per_round": args.steps},
        "env_steps_per_s": {name: {"rounds": v, "median": float(np.median(v))} for name, v in rates.items()},
        "ratio_on_over_off": {"rounds": ratios, "median": float(np.median(ratios))},
        "first_reset_s": first_reset_s,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ratio_on_over_off"]), f"-> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
