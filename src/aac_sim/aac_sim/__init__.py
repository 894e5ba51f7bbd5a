"""aac_sim: PyBullet Panda goal-conditioned tasks for asymmetric actor-critic learning, and the robot
contract the deployment shares (topic names, camera model, motion limits, message conversions).

The simulation core never imports rclpy; ROS nodes are thin adapters over it. The gymnasium env ids are
registered when gymnasium is installed: a robot PC runs the deployment side without it (README, "Robot PC").
"""
from .config import ConfigError, RandomizationConfig, SimConfig, TASKS

ENV_IDS = {"reach": "AAC/Reach-v0", "push": "AAC/Push-v0", "pick": "AAC/Pick-v0", "pick_place": "AAC/PickPlace-v0"}

try:
    from gymnasium.envs.registration import register, registry
except ImportError:   # the robot side: no simulator envs to register
    register = registry = None
if register is not None:
    for _task, _id in ENV_IDS.items():
        if _id not in registry:
            register(id=_id, entry_point="aac_sim.env:AacPandaEnv", kwargs={"task": _task})

__all__ = ["ConfigError", "RandomizationConfig", "SimConfig", "TASKS", "ENV_IDS"]
