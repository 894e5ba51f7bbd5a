"""Stage 2 (the pixel student) on CUDA vs CPU: distillation updates/s, then a short CUDA training run.

    .venv/bin/python bench/student_device_speed.py                 # CPU only here: measures the CPU rows
    .venv/bin/python bench/student_device_speed.py --minutes 5     # on a CUDA machine: <= 8 min in all

1. Collects `--frames` real push frames (84x84 RGB-D, all randomization, training textures) with a
   random policy, in-process, into a HerReplay (host memory, as in training).
2. Times `Agent.distill` (batch 256: the student's forward + backward + Adam with the aux loss and
   DrQ shift; labels from a teacher net) for `--seconds` per device and precision: CPU fp32, CPU
   bf16 autocast, and where torch sees CUDA: CUDA fp32 and CUDA bf16. Batches are sampled on the
   host and moved to the device, exactly as in training (`device: cuda`).
3. With CUDA and `--minutes` > 0: trains a pixel student for that long with `device=cuda` (with the
   concurrent state teacher, so critic, teacher and student updates all run on the device; a fresh
   machine has no stage-1 teacher to load), reporting env steps/s: the pipeline's speed on the
   device, not a learning result.
Writes bench/results/student_device_speed.json (the command, torch/CUDA versions, every row).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aac_policy.agent import Agent
from aac_policy.replay import HerReplay
from aac_policy.spec import build_spec
from aac_policy.config import load_config
from aac_policy.envs import sim_config_for
from aac_sim.env import AacPandaEnv

HERE = Path(__file__).parent


def fill_replay(cfg, frames: int, seed: int = 0):
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    T = env.cfg.max_episode_steps
    replay = HerReplay(spec, env.observation_space, max(frames, T), T, cfg.her_k,
                       lambda ag, g: env.compute_reward(ag, g, None), seed=seed)
    rng = np.random.default_rng(seed)
    ep = 0
    while replay.transitions < frames:
        obs, _ = env.reset(seed=seed * 1000 + ep)
        keys = replay.keys
        frames_ep = {k: [obs[k]] for k in keys}
        acts = []
        for _ in range(T):
            a = rng.uniform(-1, 1, 4).astype(np.float32)
            obs, *_ = env.step(a)
            acts.append(a)
            for k in keys:
                frames_ep[k].append(obs[k])
        replay.add_episode({k: np.stack(v) for k, v in frames_ep.items()}, np.stack(acts))
        ep += 1
    env.close()
    return spec, replay


def time_distill(spec, replay, cfg, device: str, bf16: bool, seconds: float) -> dict:
    agent = Agent(spec, cfg.replace(bf16=bf16, device=device), device=device)
    sample = {k: replay.obs[k][:replay.size].reshape(-1, *replay.obs[k].shape[2:])[:2048]
              for k in spec.stored_vec_keys}
    agent.update_norms(sample)
    keys, keys_next = agent.distill_sample_keys()
    for _ in range(3):   # warm-up (cuDNN autotune, allocator)
        agent.distill(replay.sample(cfg.batch_size, keys, keys_next))
    if device == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        agent.distill(replay.sample(cfg.batch_size, keys, keys_next))
        n += 1
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"device": device, "bf16": bf16, "updates": n, "seconds": round(dt, 2),
            "updates_per_s": round(n / dt, 2), "ms_per_update": round(1000 * dt / n, 2),
            "env_steps_per_s_at_passes_4": round(n / dt * cfg.batch_size / 4, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=20.0, help="timing per device/precision row")
    ap.add_argument("--minutes", type=float, default=0.0, help="CUDA only: a short stage-2 run afterwards")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(None, ["sim.task=push", "wiring=asymmetric", "state_teacher=true",
                             "sim.randomization.textures=true"])
    t0 = time.perf_counter()
    spec, replay = fill_replay(cfg, args.frames)
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for bf16 in (False, True):
            rows.append(time_distill(spec, replay, cfg, device, bf16, args.seconds))
            print(json.dumps(rows[-1]), flush=True)
    cpu = next(r for r in rows if r["device"] == "cpu" and not r["bf16"])
    for r in rows:
        r["x_cpu_fp32"] = round(r["updates_per_s"] / cpu["updates_per_s"], 2)
    run = None
    if "cuda" in devices and args.minutes > 0:
        from aac_policy.train import Trainer
        d = HERE / "runs" / "student_device_speed_cuda"
        scfg = load_config(None, ["sim.task=push", "wiring=asymmetric", "state_teacher=true", "device=cuda",
                                  "bf16=true", "sim.randomization.textures=true", "random_steps=0",
                                  f"max_wall_minutes={args.minutes}", "total_env_steps=10000000",
                                  f"distill_updates_per_step={4 / 256}", "updates_per_step=0.5",
                                  "eval_every_steps=1000000", "eval_episodes=1", "final_eval_episodes=0",
                                  "save_replay=false"])
        trainer = Trainer(scfg, d, resume=False, progress=False)
        out = trainer.run()
        run = {"env_steps": out["env_steps"], "wall_time_s": round(trainer.wall_time, 1),
               "env_steps_per_s": round(out["env_steps"] / max(trainer.wall_time, 1e-9), 1)}
    result = {"command": "python bench/student_device_speed.py " + " ".join(sys.argv[1:]),
              "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "torch": torch.__version__,
              "cuda": torch.version.cuda if torch.cuda.is_available() else None,
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "cpu": platform.processor() or platform.machine(), "threads": args.threads,
              "frames": args.frames, "batch_size": cfg.batch_size, "rows": rows, "cuda_training_run": run,
              "total_seconds": round(time.perf_counter() - t0, 1)}
    name = "student_device_speed" + ("_cuda" if "cuda" in devices else "_cpu")
    (HERE / "results" / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
