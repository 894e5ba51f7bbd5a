"""aac_sim: PyBullet Panda goal-conditioned tasks for asymmetric actor-critic learning.

The simulation core never imports rclpy; ROS nodes (later) are thin adapters over it.
"""
from gymnasium.envs.registration import register, registry

from .config import ConfigError, RandomizationConfig, SimConfig, TASKS

ENV_IDS = {"reach": "AAC/Reach-v0", "push": "AAC/Push-v0", "pick": "AAC/Pick-v0", "pick_place": "AAC/PickPlace-v0"}

for _task, _id in ENV_IDS.items():
    if _id not in registry:
        register(id=_id, entry_point="aac_sim.env:AacPandaEnv", kwargs={"task": _task})

__all__ = ["ConfigError", "RandomizationConfig", "SimConfig", "TASKS", "ENV_IDS"]
