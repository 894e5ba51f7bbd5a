"""Scripted controllers that read the privileged state: proof that every task is solvable.

They act only through the normal action interface ([dx, dy, dz, gripper] in [-1, 1]) and
read `obs["state"]` by name through the env's `state_layout`, so they also exercise the
observation layout. They are not used for learning.
"""
from __future__ import annotations

import numpy as np

from . import rollout

GAIN = 0.7             # < 1: stays stable with one step of action latency
OPEN, CLOSE = 1.0, -1.0
HOVER_DZ = 0.07        # approach height above the block centre
PUSH_HEIGHT = 0.02     # grasp-point height while pushing
PUSH_SPEED = 0.8       # fraction of the speed limit while pushing (0.2 m/s at the default 0.25 m/s)


class ScriptedPolicy:
    def __init__(self, env):
        base = env.unwrapped
        self.task = base.task.name
        self.layout = base.state_layout
        self.max_step = base.cfg.max_ee_step_m
        self.threshold = base.cfg.distance_threshold_m

    def _move(self, ee, target, grip):
        delta = GAIN * (np.asarray(target) - ee) / self.max_step
        return np.concatenate([np.clip(delta, -1.0, 1.0), [grip]]).astype(np.float32)

    def __call__(self, obs) -> np.ndarray:
        s, goal = obs["state"].astype(np.float64), obs["desired_goal"].astype(np.float64)
        ee = s[self.layout["ee_pos"]]
        if self.task == "reach":
            return self._move(ee, goal, OPEN)
        obj = s[self.layout["object_pos"]]
        if self.task == "push":
            return self._push(ee, obj, goal)
        return self._pick(s, ee, obj, goal)

    def _push(self, ee, obj, goal):
        to_goal = goal[:2] - obj[:2]
        dist = np.linalg.norm(to_goal)
        if dist < 0.3 * self.threshold:
            return self._move(ee, [*ee[:2], ee[2] + 0.01], CLOSE)   # done: back off upwards slightly
        d = to_goal / dist
        perp = np.array([-d[1], d[0]])
        rel = ee[:2] - obj[:2]
        along, lateral = rel @ d, rel @ perp
        behind = obj[:2] - d * 0.05
        if along < -0.025 and abs(lateral) < 0.012 and ee[2] < PUSH_HEIGHT + 0.015:
            # on the push line behind the block: push towards the goal, slowly enough that the
            # block does not slide past it, correcting lateral drift
            target_xy = ee[:2] + d * min(dist, PUSH_SPEED * self.max_step) / GAIN - perp * lateral
            return self._move(ee, [*target_xy, PUSH_HEIGHT], CLOSE)
        if np.linalg.norm(ee[:2] - behind) > 0.012:
            if ee[2] < HOVER_DZ - 0.02 and np.linalg.norm(rel) < 0.08:
                return self._move(ee, [*ee[:2], HOVER_DZ], CLOSE)   # rise clear of the block first
            return self._move(ee, [*behind, HOVER_DZ], CLOSE)     # then go round above it
        return self._move(ee, [*behind, PUSH_HEIGHT], CLOSE)

    def _pick(self, s, ee, obj, goal):
        contacts = s[self.layout["contacts"]]
        width = s[self.layout["finger_q"]].sum()
        held = contacts[0] > 0 and contacts[1] > 0 and np.linalg.norm(obj - ee) < 0.03
        if held:
            return self._move(ee, goal, CLOSE)
        xy_err = np.linalg.norm(obj[:2] - ee[:2])
        if xy_err > 0.01:
            if width < 0.06:   # closed on nothing (missed or dropped): open and rise
                return self._move(ee, [*ee[:2], obj[2] + HOVER_DZ], OPEN)
            return self._move(ee, [*obj[:2], obj[2] + HOVER_DZ], OPEN)
        if ee[2] - obj[2] > 0.008:
            return self._move(ee, obj, OPEN if width > 0.06 else CLOSE)
        return self._move(ee, obj, CLOSE)


def run_episodes(env, n_episodes: int, seed: int = 0) -> list[dict]:
    """Roll out the scripted controller; returns per-episode success and steps to success."""
    results, _ = rollout.run_episodes(env, ScriptedPolicy(env), n_episodes, seed=seed)
    return [{"success": r.success, "first_success_step": r.first_success_step} for r in results]


SOLVABLE_FIELDS = ("task", "max_episode_steps", "motion", "physics_substeps", "distance_threshold_m")
SOLVABLE_CHECK_EPISODES = 10
SOLVABLE_MIN_SUCCESS = 0.5


def check_solvable(cfg) -> None:
    """Refuse (ConfigError) a SimConfig whose motion limits or episode length make its task unsolvable:
    the scripted controller runs `SOLVABLE_CHECK_EPISODES` state-only episodes with it (~1 s) and must
    succeed in at least half. The defaults are covered by tests/test_sim_scripted.py (>= 90 %), so a
    config that matches them on these fields is not re-checked."""
    from .config import ConfigError, SimConfig
    from .env import AacPandaEnv
    default = SimConfig(task=cfg.task)
    changed = [f for f in SOLVABLE_FIELDS if getattr(cfg, f) != getattr(default, f)]
    if not changed:
        return
    env = AacPandaEnv(config=cfg.replace(render_images=False))
    try:
        results = run_episodes(env, SOLVABLE_CHECK_EPISODES, seed=4242)
    finally:
        env.close()
    rate = sum(r["success"] for r in results) / len(results)
    if rate < SOLVABLE_MIN_SUCCESS:
        raise ConfigError(f"task {cfg.task!r} looks unsolvable with this config: the scripted controller succeeds in "
                          f"{rate:.0%} of {len(results)} episodes (needs {SOLVABLE_MIN_SUCCESS:.0%}); fields that differ "
                          f"from the defaults: {', '.join(changed)} (motion: {cfg.motion.to_spec()}, "
                          f"max_episode_steps {cfg.max_episode_steps})")
