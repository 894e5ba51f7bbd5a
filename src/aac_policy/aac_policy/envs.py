"""The environments a run trains and evaluates in, from its TrainConfig: the training vector env
(in-process sims, or any gymnasium goal env by id) and the in-process evaluation env. Shared by the
trainer (aac_policy.train) and the evaluation (aac_policy.evaluate)."""
from __future__ import annotations

import gymnasium as gym

from aac_sim.config import ConfigError
from aac_sim.env import AacPandaEnv
from aac_sim.vector import make_vector_env

from .config import TrainConfig


def sim_config_for(cfg: TrainConfig):
    # the state wiring never looks at pixels: do not render them (~5x faster env steps); the surface classes
    # only for the training augmentation that reads them
    return cfg.sim.replace(render_images=cfg.pixels, segmentation=cfg.pixels and cfg.retexture_prob > 0)


def make_train_env(cfg: TrainConfig) -> gym.vector.VectorEnv:
    disabled = gym.vector.AutoresetMode.DISABLED
    if cfg.env_id:
        fns = [lambda: gym.make(cfg.env_id) for _ in range(cfg.num_envs)]
        if cfg.num_envs == 1:
            return gym.vector.SyncVectorEnv(fns, autoreset_mode=disabled)
        return gym.vector.AsyncVectorEnv(fns, context="forkserver", autoreset_mode=disabled)
    return make_vector_env(sim_config_for(cfg), cfg.num_envs, asynchronous=cfg.num_envs > 1,
                           autoreset_mode=disabled)


def make_eval_env(cfg: TrainConfig, render: bool = True):
    if cfg.env_id:
        try:
            return gym.make(cfg.env_id, render_mode="rgb_array" if render else None)
        except TypeError:
            return gym.make(cfg.env_id)
    return AacPandaEnv(config=sim_config_for(cfg), render_mode="rgb_array" if render else None)


def episode_length(env) -> int:
    base = env.unwrapped
    if hasattr(base, "cfg") and hasattr(base.cfg, "max_episode_steps"):
        return base.cfg.max_episode_steps
    if env.spec is not None and env.spec.max_episode_steps:
        return env.spec.max_episode_steps
    raise ConfigError("the env has no fixed episode length (env.spec.max_episode_steps); HER replay needs one")
