"""Running a policy in one env: episode results (success, time-to-success, return) and video frames.

Shared by the scripted controllers (aac_sim) and the learner's evaluation (aac_policy)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from aac_robot.metrics import GRASP_TASKS, EpisodeResult, add_grasp_fields

EVAL_SEED_BASE = 10_000_000    # evaluation episodes never share seeds with training episodes


def run_episodes(env, policy: Callable[[dict], np.ndarray], episodes: int, seed: int = EVAL_SEED_BASE,
                 record: int = 0, reset_options: dict | None = None
                 ) -> tuple[list[EpisodeResult], list[list[np.ndarray]]]:
    """`policy(obs) -> action` for one observation. Records `env.render()` frames of the first
    `record` episodes (the env needs render_mode="rgb_array"). `reset_options` go to every reset (e.g. a
    knocked block: `{"knock_prob": 1.0, "knock_at": 5, "knock_m": 0.05}`)."""
    base = getattr(env, "unwrapped", env)
    task = getattr(getattr(base, "task", None), "name", None)
    grasp = task in GRASP_TASKS and hasattr(base, "state_layout")
    results, videos = [], []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep, options=reset_options)
        frames = [env.render()] if ep < record else None
        states = [(obs["state"], obs["desired_goal"])] if grasp else None
        ret, first, t, done = 0.0, None, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            t += 1
            ret += float(reward)
            if info.get("is_success") and first is None:
                first = t
            if frames is not None:
                frames.append(env.render())
            if states is not None:
                states.append((obs["state"], obs["desired_goal"]))
            done = terminated or truncated
        result = EpisodeResult(bool(info.get("is_success", False)), first, ret, t)
        if states is not None:
            add_grasp_fields(result, task, np.array([s for s, _ in states]), np.array([g for _, g in states]),
                             base.state_layout, base.cfg.distance_threshold_m)
        results.append(result)
        if frames is not None:
            videos.append(frames)
    return results, videos
