"""ROS overhead: env steps/s of the lockstep ROS path vs the in-process path, same number of envs,
measured in one run (interleaved rounds; machines are noisy).

In-process = gymnasium AsyncVectorEnv (one worker process per env, shared memory), as the trainer
uses it. ROS = one `aac_sim_node` process per env in lockstep, driven by `RosVectorEnv` over Fast
DDS (localhost discovery, a private ROS_DOMAIN_ID): twist + gripper command out, colour, depth,
proprio, goal and privileged state back, matched by stamp. Both run full episodes (reset + 50 steps)
with random actions; the observations include 84x84 RGB-D.

    .venv/bin/python bench/ros_overhead.py [--envs 1 2] [--episodes 6] [--rounds 5]

Goal (issue 4): ROS >= 75 % of in-process. Writes bench/results/ros_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("aac_robot", "aac_sim", "aac_policy"):
    sys.path.insert(0, str(ROOT / "src" / pkg))
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


def run_episodes(envs, episodes: int, seed: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    steps, t0 = 0, time.perf_counter()
    for ep in range(episodes):
        envs.reset(seed=seed if ep == 0 else None)
        for _ in range(50):
            envs.step(rng.uniform(-1, 1, (envs.num_envs, 4)).astype(np.float32))
            steps += envs.num_envs
    return steps, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--episodes", type=int, default=6, help="episodes per env per round")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the ratio is of the medians")
    ap.add_argument("--image-size", type=int, default=84)
    args = ap.parse_args()

    import gymnasium as gym
    from aac_policy.ros_env import RosVectorEnv
    from aac_robot.node_main import BackgroundSpin
    from aac_sim.config import SimConfig
    from aac_sim.vector import make_vector_env

    cfg = SimConfig(task="push", image_size=args.image_size)
    results = {}
    with BackgroundSpin("aac_ros_overhead") as node:
        for n in args.envs:
            names = [f"bench{i}" for i in range(n)]
            procs = [subprocess.Popen([sys.executable, "-m", "aac_sim.sim_node", "--ros-args", "-r",
                                       f"__ns:=/{ns}", "-p", f"image_size:={args.image_size}"],
                                      env=dict(os.environ, PYTHONPATH=str(ROOT / "src" / "aac_sim")),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for ns in names]
            inproc = make_vector_env(cfg, n, asynchronous=True, autoreset_mode=gym.vector.AutoresetMode.DISABLED)
            ros = RosVectorEnv(node, names, cfg.to_dict(), 50, image_keys=True, step_timeout_s=5.0)
            try:
                run_episodes(inproc, 1, 0)   # warm-up (both paths): process start, first renders
                run_episodes(ros, 1, 0)
                rates = {"in_process": [], "ros": []}
                for r in range(args.rounds):
                    for name, envs in (("in_process", inproc), ("ros", ros)):
                        steps, secs = run_episodes(envs, args.episodes, 100 + r)
                        rates[name].append(steps / secs)
                med = {k: float(np.median(v)) for k, v in rates.items()}
                results[str(n)] = {"steps_per_s": med, "rounds": rates, "ratio_ros_to_in_process":
                                   med["ros"] / med["in_process"], "dropped": ros.drops}
                print(f"{n} env(s): in-process {med['in_process']:.1f} steps/s, ROS {med['ros']:.1f} steps/s, "
                      f"ratio {med['ros'] / med['in_process']:.2f}", flush=True)
            finally:
                inproc.close()
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(10)
    out = {"command": "python bench/ros_overhead.py " + " ".join(sys.argv[1:]), "goal_ratio": 0.75,
           "image_size": args.image_size, "episodes_per_round": args.episodes, "rounds": args.rounds,
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "results": results}
    path = ROOT / "bench" / "results" / "ros_overhead.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
