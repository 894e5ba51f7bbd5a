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
    # grasp tasks (pick, pick_place), from the privileged state of every step (`grasp_events`); None otherwise
    grasped: bool | None = None     # the block was held (both fingers on it, off the table) at some step
    dropped: bool | None = None     # after being lifted while held, it was let go away from the goal

    def to_dict(self) -> dict:
        return asdict(self)


GRASP_TASKS = ("pick", "pick_place")
LIFT_M = 0.02   # "lifted": the block's centre this far above where it started


def grasp_events(states: np.ndarray, goals: np.ndarray, layout: dict, threshold_m: float) -> tuple[bool, bool]:
    """(grasped, dropped) of one episode from its privileged states (T+1, state_dim, reset included) and
    desired goals. Held = both finger contacts and no table contact. Dropped = after a step where it was
    held and lifted, a later step where it is no longer held and is back on the table while farther than
    `threshold_m` from the goal (a place at the goal, pick_place's release, is not a drop)."""
    contacts = states[:, layout["contacts"]] > 0.5
    held = contacts[:, 0] & contacts[:, 1] & ~contacts[:, 2]
    obj = states[:, layout["object_pos"]]
    lifted = held & (obj[:, 2] > obj[0, 2] + LIFT_M)
    if not lifted.any():
        return bool(held.any()), False
    after = np.arange(len(states)) > int(np.argmax(lifted))
    away = np.linalg.norm(obj - goals, axis=1) > threshold_m
    return True, bool((after & ~held & contacts[:, 2] & away).any())


def run_episodes(env, policy: Callable[[dict], np.ndarray], episodes: int, seed: int = EVAL_SEED_BASE,
                 record: int = 0) -> tuple[list[EpisodeResult], list[list[np.ndarray]]]:
    """`policy(obs) -> action` for one observation. Records `env.render()` frames of the first
    `record` episodes (the env needs render_mode="rgb_array")."""
    base = getattr(env, "unwrapped", env)
    task = getattr(getattr(base, "task", None), "name", None)
    grasp = task in GRASP_TASKS and hasattr(base, "state_layout")
    results, videos = [], []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
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
            result.grasped, result.dropped = grasp_events(np.array([s for s, _ in states]),
                                                          np.array([g for _, g in states]), base.state_layout,
                                                          base.cfg.distance_threshold_m)
        results.append(result)
        if frames is not None:
            videos.append(frames)
    return results, videos


def summarize(results: list[EpisodeResult]) -> dict:
    succ = [r.success for r in results]
    tts = [r.first_success_step for r in results if r.success and r.first_success_step is not None]
    out = {"episodes": len(results),
           "success_rate": float(np.mean(succ)) if results else float("nan"),
           "mean_time_to_success_steps": float(np.mean(tts)) if tts else None,
           "mean_return": float(np.mean([r.episode_return for r in results])) if results else float("nan")}
    grasp = [r for r in results if r.grasped is not None]
    if grasp:   # grasp tasks: how often the block was held, and how often a lifted block was dropped
        lifted = [r for r in grasp if r.grasped]
        out["grasp_success_rate"] = float(np.mean([r.grasped for r in grasp]))
        out["drop_rate_after_grasp"] = float(np.mean([r.dropped for r in lifted])) if lifted else None
    return out
