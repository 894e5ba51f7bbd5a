"""Small goal-conditioned envs for learner tests: pure numpy, no PyBullet (fast, and they prove the
learner is not tied to the AAC envs)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class PointGoalEnv(gym.Env):
    """A point in the unit square moves by 0.1 * action; reach a goal within 0.1.

    gymnasium-robotics style observation: `observation` / `achieved_goal` / `desired_goal`;
    with `pixels=True` it also renders a 16x16 `rgb` (uint8) and `depth` (uint16 mm) image."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, pixels: bool = False, max_steps: int = 10, render_mode=None):
        self.pixels, self.T, self.render_mode = pixels, max_steps, render_mode
        vec = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
        sp = {"observation": vec(4), "achieved_goal": vec(2), "desired_goal": vec(2)}
        if pixels:
            sp["rgb"] = spaces.Box(0, 255, (16, 16, 3), np.uint8)
            sp["depth"] = spaces.Box(0, 65535, (16, 16), np.uint16)
        self.observation_space = spaces.Dict(sp)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def compute_reward(self, achieved_goal, desired_goal, info=None):
        d = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(d > 0.1).astype(np.float32)

    def _obs(self):
        o = {"observation": np.concatenate([self.pos, self.vel]).astype(np.float32),
             "achieved_goal": self.pos.astype(np.float32), "desired_goal": self.goal.astype(np.float32)}
        if self.pixels:
            img = np.zeros((16, 16, 3), np.uint8)
            i, j = np.clip((self.pos * 15).round().astype(int), 0, 15)
            img[i, j] = 255
            o["rgb"] = img
            o["depth"] = np.full((16, 16), 1000, np.uint16)
        return o

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(0, 1, 2)
        self.goal = self.np_random.uniform(0, 1, 2)
        self.vel = np.zeros(2)
        self.t = 0
        return self._obs(), {"is_success": float(np.linalg.norm(self.pos - self.goal) <= 0.1)}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64), -1, 1)
        self.vel = 0.1 * a
        self.pos = np.clip(self.pos + self.vel, 0, 1)
        self.t += 1
        success = float(np.linalg.norm(self.pos - self.goal) <= 0.1)
        return self._obs(), success - 1.0, False, self.t >= self.T, {"is_success": success}

    def render(self):
        return np.repeat(np.repeat(self._obs()["rgb"] if self.pixels else np.zeros((16, 16, 3), np.uint8), 4, 0), 4, 1)


def register_point_envs() -> None:
    from gymnasium.envs.registration import registry
    if "AACTest/PointGoal-v0" not in registry:
        gym.register("AACTest/PointGoal-v0", entry_point=PointGoalEnv, max_episode_steps=10)
        gym.register("AACTest/PointGoalPixels-v0", entry_point=PointGoalEnv, kwargs={"pixels": True},
                     max_episode_steps=10)
