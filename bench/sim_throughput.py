"""Simulator throughput: env steps/s with 84x84 RGB-D for 1 and 2 worker processes, against
the raw PyBullet limit on the same scene, measured in the same run.

Raw limit = per step only one setJointMotorControlArray, `physics_substeps` x stepSimulation
and one getCameraImage of the same scene, render model, camera and light settings. It replays
8 recorded env episodes (their randomized cameras and lights, and the joint trajectories the
env's controller produced for random actions), so the arm moves and touches the table and
the block as in the env, and the renderer sees the same views. No IK, no observation assembly, no depth conversion, no domain randomization, no
IPC; one independent process per "worker".

    .venv/bin/python bench/sim_throughput.py [--seconds 8] [--task push] [--image-size 84]

Writes bench/results/sim_throughput.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

RECORDED_EPISODES = 8
ROOT = Path(__file__).resolve().parents[1]
for _pkg in ("aac_robot", "aac_sim"):   # runs from a checkout without installing
    sys.path.insert(0, str(ROOT / "src" / _pkg))


def _raw_worker(cfg_dict, seconds, start_evt, out_q):
    import pybullet as p
    from aac_sim.config import SimConfig
    from aac_sim.env import AacPandaEnv
    from aac_sim.scene import ARM_FORCES, FINGER_FORCE

    cfg = SimConfig.from_dict(cfg_dict)
    # Build the identical scene and camera through the env once, then never call env code again.
    env = AacPandaEnv(config=cfg)
    robot, joints = env.scene.robot, list(env.scene.arm_joints + env.scene.finger_joints)
    c = env.client
    # Record RECORDED_EPISODES episodes of the env (randomized camera, light, block) and the
    # joint trajectory the env's own controller produced for random actions ...
    rng, episodes = np.random.default_rng(0), []
    for ep in range(RECORDED_EPISODES):
        env.reset(seed=ep)
        cam = (env.episode.intrinsics, env._view, env._proj, env._light)
        targets = []
        for _ in range(cfg.max_episode_steps):
            env.step(rng.uniform(-1, 1, 4))
            targets.append([s[0] for s in p.getJointStates(robot, joints, physicsClientId=c)])
        episodes.append((cam, targets))
    forces = list(ARM_FORCES) + [FINGER_FORCE] * 2
    start_evt.wait()
    # ... then replay them with bare PyBullet calls.
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        (intr, view, proj, light), targets = episodes[(n // cfg.max_episode_steps) % RECORDED_EPISODES]
        p.setJointMotorControlArray(robot, joints, p.POSITION_CONTROL,
                                    targetPositions=targets[n % cfg.max_episode_steps],
                                    forces=forces, physicsClientId=c)
        for _ in range(cfg.physics_substeps):
            p.stepSimulation(physicsClientId=c)
        p.getCameraImage(intr.width, intr.height, view, proj, renderer=p.ER_TINY_RENDERER,
                         flags=p.ER_NO_SEGMENTATION_MASK, physicsClientId=c, **light)
        n += 1
    out_q.put((n, time.perf_counter() - t0))


def raw_limit(cfg, workers, seconds, ctx):
    start_evt, out_q = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_raw_worker, args=(cfg, seconds, start_evt, out_q)) for _ in range(workers)]
    for pr in procs:
        pr.start()
    time.sleep(8.0)  # let every worker build its scene and record its episodes before the clock starts
    start_evt.set()
    results = [out_q.get() for _ in procs]
    for pr in procs:
        pr.join()
    return sum(n / dt for n, dt in results)


def env_rate(cfg, workers, seconds):
    from aac_sim.config import SimConfig
    from aac_sim.vector import make_vector_env

    venv = make_vector_env(SimConfig.from_dict(cfg), workers)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):  # warm-up
        venv.step(rng.uniform(-1, 1, (workers, 4)).astype(np.float32))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        venv.step(rng.uniform(-1, 1, (workers, 4)).astype(np.float32))
        n += 1
    dt = time.perf_counter() - t0
    venv.close()
    return n * workers / dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0, help="measuring time per configuration")
    ap.add_argument("--task", default="push")
    ap.add_argument("--image-size", type=int, default=84)
    ap.add_argument("--rounds", type=int, default=2, help="alternate raw/env this many times, keep the median")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sim_throughput.json"))
    args = ap.parse_args(argv)
    cfg = {"task": args.task, "image_size": args.image_size}  # default randomization: all switches on
    ctx = mp.get_context("forkserver")
    rows = {}
    for workers in (1, 2):
        raw, env = [], []
        for _ in range(args.rounds):
            raw.append(raw_limit(cfg, workers, args.seconds, ctx))
            env.append(env_rate(cfg, workers, args.seconds))
        r, e = float(np.median(raw)), float(np.median(env))
        rows[workers] = {"env_steps_per_s": round(e, 1), "raw_limit_steps_per_s": round(r, 1),
                         "ratio": round(e / r, 3), "env_runs": [round(x, 1) for x in env],
                         "raw_runs": [round(x, 1) for x in raw]}
        print(f"{workers} worker(s): env {e:7.1f} steps/s | raw PyBullet limit {r:7.1f} steps/s | ratio {e / r:.3f}",
              flush=True)
    report = {"benchmark": "sim_throughput", "command": "python bench/sim_throughput.py " + " ".join(argv or sys.argv[1:]),
              "task": args.task, "image": f"{args.image_size}x{args.image_size} RGB-D", "randomization": "default (all on)",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "results": rows,
              "targets": {"env_2_workers_min_steps_per_s": 380, "min_ratio_to_raw": 0.9},
              "met": rows[2]["env_steps_per_s"] >= 380 and all(v["ratio"] >= 0.9 for v in rows.values())}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"targets met: {report['met']}  (written to {args.out})")


if __name__ == "__main__":
    main()
