"""Running a policy in one env: episode results (success, time-to-success, return) and video frames.

Shared by the scripted controllers (aac_sim) and the learner's evaluation (aac_policy)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

EVAL_SEED_BASE = 10_000_000    # evaluation episodes never share seeds with training episodes


@dataclass
class EpisodeResult:
    success: bool               # success at the last step (the task's criterion, as in HER)
    first_success_step: int | None
    episode_return: float
    length: int

    def to_dict(self) -> dict:
        return asdict(self)


def run_episodes(env, policy: Callable[[dict], np.ndarray], episodes: int, seed: int = EVAL_SEED_BASE,
                 record: int = 0) -> tuple[list[EpisodeResult], list[list[np.ndarray]]]:
    """`policy(obs) -> action` for one observation. Records `env.render()` frames of the first
    `record` episodes (the env needs render_mode="rgb_array")."""
    results, videos = [], []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        frames = [env.render()] if ep < record else None
        ret, first, t, done = 0.0, None, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            t += 1
            ret += float(reward)
            if info.get("is_success") and first is None:
                first = t
            if frames is not None:
                frames.append(env.render())
            done = terminated or truncated
        results.append(EpisodeResult(bool(info.get("is_success", False)), first, ret, t))
        if frames is not None:
            videos.append(frames)
    return results, videos


def summarize(results: list[EpisodeResult]) -> dict:
    succ = [r.success for r in results]
    tts = [r.first_success_step for r in results if r.success and r.first_success_step is not None]
    return {"episodes": len(results),
            "success_rate": float(np.mean(succ)) if results else float("nan"),
            "mean_time_to_success_steps": float(np.mean(tts)) if tts else None,
            "mean_return": float(np.mean([r.episode_return for r in results])) if results else float("nan")}
