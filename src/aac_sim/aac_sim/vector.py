"""Vectorised envs across processes (gymnasium's AsyncVectorEnv with shared-memory observations)."""
from __future__ import annotations

import gymnasium as gym

from .config import SimConfig
from .env import AacPandaEnv


def _env_factory(config: SimConfig):
    def make():
        return AacPandaEnv(config=config)
    return make


def make_vector_env(config: SimConfig, num_envs: int, asynchronous: bool = True,
                    context: str | None = "forkserver",
                    autoreset_mode: gym.vector.AutoresetMode = gym.vector.AutoresetMode.NEXT_STEP
                    ) -> gym.vector.VectorEnv:
    """`num_envs` copies of the env, one worker process each when `asynchronous`.

    Workers build their PyBullet client after start-up (nothing PyBullet crosses a process
    boundary). `forkserver` keeps workers clean of the parent's torch threads.
    Seed with `reset(seed=s)`: env i gets seed s + i. The learner uses
    `autoreset_mode=DISABLED` and resets all envs together (its episodes have a fixed length).
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    fns = [_env_factory(config) for _ in range(num_envs)]
    if not asynchronous:
        return gym.vector.SyncVectorEnv(fns, autoreset_mode=autoreset_mode)
    return gym.vector.AsyncVectorEnv(fns, shared_memory=True, context=context, autoreset_mode=autoreset_mode)
