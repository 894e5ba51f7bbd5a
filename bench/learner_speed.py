"""Learner speed: updates/s per wiring at batch 256 on 84x84 RGB-D, where the time goes, and how
that compares with what the simulator produces (env steps/s) at the update-to-data ratio used.

    .venv/bin/python bench/learner_speed.py            # writes bench/results/learner_speed.json

Everything is measured in this one run on this machine (2 torch threads, CPU).
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aac_policy.agent import Agent
from aac_policy.config import TrainConfig
from aac_policy.perf import keep_freed_memory_for_reuse
from aac_policy.replay import HerReplay
from aac_policy.spec import build_spec
from aac_sim.env import AacPandaEnv

OUT = Path(__file__).parent / "results" / "learner_speed.json"
BATCH = 256
EPISODES = 8


def timed(fn, n):
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def filled_replay(env, spec, rng, episodes: int = EPISODES, extra_keys: tuple[str, ...] = ()):
    """A replay of `episodes` random-action episodes of `env` (also stored: `extra_keys`)."""
    rb = HerReplay(spec, env.observation_space, 10_000, 50, 4, env.compute_reward, seed=0, extra_keys=extra_keys)
    for e in range(episodes):
        o, _ = env.reset(seed=e)
        frames, acts = {k: [o[k]] for k in rb.keys}, []
        for _ in range(50):
            a = rng.uniform(-1, 1, 4).astype(np.float32)
            o, *_ = env.step(a)
            acts.append(a)
            for k in rb.keys:
                frames[k].append(o[k])
        rb.add_episode({k: np.stack(v) for k, v in frames.items()}, np.stack(acts))
    return rb


def agent_with_replay(env, cfg: TrainConfig, rng):
    """The agent for `cfg` on `env`, a replay of EPISODES random episodes, normalizers fitted to it."""
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    agent = Agent(spec, cfg)
    rb = filled_replay(env, spec, rng)
    agent.update_norms(rb.sample(2000)["obs"])
    return spec, agent, rb


def env_rate(env, steps=300):
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for i in range(steps):
        _, _, _, trunc, _ = env.step(rng.uniform(-1, 1, 4))
        if trunc:
            env.reset()
    return steps / (time.perf_counter() - t)


def main():
    torch.set_num_threads(2)
    malloc_tuned = keep_freed_memory_for_reuse()   # as the trainer does
    rng = np.random.default_rng(0)
    cfg = TrainConfig()
    env = AacPandaEnv(task="push")
    results = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "batch": BATCH, "image_size": env.cfg.image_size,
               "updates_per_step": cfg.updates_per_step, "actor_update_every": cfg.actor_update_every,
               "command": "python bench/learner_speed.py", "malloc_tuned": malloc_tuned, "wirings": {}}
    results["env_steps_per_s_in_process_rgbd"] = round(env_rate(env), 1)
    env_state = AacPandaEnv(task="push", render_images=False)
    results["env_steps_per_s_in_process_state_only"] = round(env_rate(env_state), 1)
    env_state.close()
    for wiring in ("asymmetric", "symmetric", "state"):
        wcfg = cfg.replace(wiring=wiring)
        spec, agent, rb = agent_with_replay(env, wcfg, rng)
        batch = rb.sample(BATCH)
        parts = {"sample_ms": timed(lambda: rb.sample(BATCH), 10) * 1e3}
        if wcfg.pixels:
            o = batch["obs"]
            parts["images_to_float_with_shift_ms"] = timed(lambda: agent.images(o, 4), 10) * 1e3
            img = agent.images(o, 4)
            vec = agent.vec(o, spec.actor_vec_keys)
            with torch.no_grad():
                parts["target_actor_forward_ms"] = timed(lambda: agent.actor_target(img, vec), 10) * 1e3

            def actor_fb():
                agent.actor_opt.zero_grad()
                a, feat = agent.actor.act(img, vec)
                (a.sum() + agent.actor.aux(feat).sum()).backward()
                agent.actor_opt.step()
            parts["actor_forward_backward_step_ms"] = timed(actor_fb, 6) * 1e3
        # full update cycle: actor_update_every critic updates (+ one actor update), averaged per critic update
        n = 4 * wcfg.actor_update_every
        per_update = timed(lambda: agent.update(rb.sample(BATCH)), n)
        ups = 1.0 / per_update
        learn_s_per_env_step = wcfg.updates_per_step * per_update
        results["wirings"][wiring] = {
            "update_ms": round(per_update * 1e3, 1), "updates_per_s": round(ups, 2),
            "breakdown_ms": {k: round(v, 1) for k, v in parts.items()},
            # at the UTD ratio used, learning one env step costs this much; the env must produce it faster
            "learner_env_steps_per_s_at_utd": round(1.0 / learn_s_per_env_step, 1),
        }
        print(wiring, json.dumps(results["wirings"][wiring]), flush=True)
    # asymmetric with the privileged state teacher: critic + teacher updates read vectors only; the
    # pixel actor's cost moves to distill() at its own rate (distill_updates_per_step)
    tcfg = cfg.replace(state_teacher=True, updates_per_step=0.5)
    _, agent, rb = agent_with_replay(env, tcfg, rng)
    uk, dk = agent.update_sample_keys(), agent.distill_sample_keys()
    per_update = timed(lambda: agent.update(rb.sample(BATCH, *uk)), 8 * tcfg.actor_update_every)
    per_distill = timed(lambda: agent.distill(rb.sample(BATCH, *dk)), 6)
    learn_s = tcfg.updates_per_step * per_update + tcfg.distill_updates_per_step * per_distill
    results["asymmetric_state_teacher"] = {
        "updates_per_step": tcfg.updates_per_step, "distill_updates_per_step": tcfg.distill_updates_per_step,
        "critic_and_teacher_update_ms": round(per_update * 1e3, 1), "distill_update_ms": round(per_distill * 1e3, 1),
        "learner_env_steps_per_s_at_utd": round(1.0 / learn_s, 1)}
    print("asymmetric + state teacher", json.dumps(results["asymmetric_state_teacher"]), flush=True)
    env.close()
    # the same asymmetric learner on 64x64 images (the encoder's cost scales with pixels)
    env64 = AacPandaEnv(task="push", image_size=64)
    _, agent, rb = agent_with_replay(env64, cfg, rng)
    per_update = timed(lambda: agent.update(rb.sample(BATCH)), 4 * cfg.actor_update_every)
    results["asymmetric_64x64"] = {"update_ms": round(per_update * 1e3, 1), "updates_per_s": round(1 / per_update, 2),
                                   "learner_env_steps_per_s_at_utd": round(1 / (cfg.updates_per_step * per_update), 1),
                                   "env_steps_per_s_in_process_rgbd": round(env_rate(env64), 1)}
    print("asymmetric 64x64", json.dumps(results["asymmetric_64x64"]), flush=True)
    env64.close()
    a = results["wirings"]["asymmetric"]
    results["asymmetric_learner_vs_env_ratio"] = round(a["learner_env_steps_per_s_at_utd"]
                                                       / results["env_steps_per_s_in_process_rgbd"], 2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
