"""The ROS-free core of the sim node: robot-style commands in, stamped observations out.

The sim node (`sim_node.py`) is a thin rclpy adapter over this class. Commands are what a real
arm stack takes: an end-effector velocity (MoveIt Servo twist, m/s), a gripper opening (finger
joint position, m) or arm joint targets (joint_trajectory_controller). They are converted here into
the env's action, or refused with a `CommandError` that says why (the robot then does not move).

Time: the simulator keeps its own clock, advanced by `control_dt` per step and per reset, so every
observation has a unique stamp; the node publishes it on /clock. Twist/gripper commands are
quantised to float32 actions, as the policy emits them: a command computed from a float32 action
maps back to exactly that action, so training over ROS sees the same transitions as in-process.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from aac_robot.motion import action_to_command, command_to_action  # noqa: F401 (action_to_command: re-exported)
from aac_robot.ros_interface import ARM_JOINTS, FINGER_JOINTS

from .env import AacPandaEnv
from .scene import GRIPPER_MAX_WIDTH


class CommandError(ValueError):
    """A command that must not move the robot (NaN, out of range, wrong joints...)."""


@dataclass
class SimStep:
    stamp_ns: int
    obs: dict
    joint_positions: np.ndarray     # ARM_JOINTS + FINGER_JOINTS, float64
    joint_velocities: np.ndarray
    object_pose: tuple | None       # (position (3,), quaternion xyzw (4,)) or None for reach
    reward: float
    truncated: bool
    is_success: float
    episode: int
    step: int                       # control steps since the episode's reset


class SimServer:
    def __init__(self, env: AacPandaEnv):
        self.env = env
        self.dt_ns = int(round(env.cfg.control_dt * 1e9))
        self.clock_ns = 0
        self.episode = -1
        self.last: SimStep | None = None

    # ------------------------------------------------------------------ stepping
    def reset(self, seed: int | None = None) -> SimStep:
        obs, info = self.env.reset(seed=seed)
        self.episode += 1
        return self._record(obs, 0.0, False, info["is_success"], 0)

    def step(self, action) -> SimStep:
        self._require_reset()
        obs, reward, _, truncated, info = self.env.step(action)
        return self._record(obs, reward, truncated, info["is_success"], self.last.step + 1)

    def step_joints(self, arm_q, gripper_width: float) -> SimStep:
        self._require_reset()
        try:
            obs, reward, _, truncated, info = self.env.step_joints(arm_q, gripper_width)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return self._record(obs, reward, truncated, info["is_success"], self.last.step + 1)

    # ------------------------------------------------------------------ command conversion
    @property
    def max_speed(self) -> float:
        """Grasp-point speed limit (m/s): the norm of a full-scale action's velocity."""
        return self.env.cfg.motion.max_ee_speed_m_s

    def twist_action(self, linear_xyz, gripper_width: float) -> np.ndarray:
        """End-effector velocity (m/s, base frame) + gripper opening (m) -> env action (float32).
        A speed above the motion limit is refused (CommandError), as is anything non-finite."""
        try:
            return command_to_action(linear_xyz, gripper_width, self.env.cfg.motion)
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    @staticmethod
    def gripper_width(target: dict[str, float]) -> float:
        """Gripper opening from finger joint targets (each finger moves half the width)."""
        if not set(target) <= set(FINGER_JOINTS):
            raise CommandError(f"gripper command joints {sorted(target)} are not {list(FINGER_JOINTS)}")
        width = 2.0 * float(np.mean(list(target.values())))
        if not 0.0 <= width <= GRIPPER_MAX_WIDTH + 1e-9:
            raise CommandError(f"finger position {width / 2:.4f} m outside [0, {GRIPPER_MAX_WIDTH / 2}]")
        return min(width, GRIPPER_MAX_WIDTH)

    @staticmethod
    def arm_targets(target: dict[str, float], joint_names=ARM_JOINTS) -> np.ndarray:
        """Arm joint targets in URDF order from a by-name mapping; `joint_names` maps a real arm's
        names (e.g. fr3_joint1..7) onto panda_joint1..7 by position."""
        missing = [n for n in joint_names if n not in target]
        if missing or len(target) != len(joint_names):
            raise CommandError(f"arm command must name exactly {list(joint_names)}; missing {missing}, "
                               f"got {sorted(target)}")
        return np.array([target[n] for n in joint_names])

    # ------------------------------------------------------------------ description
    def info(self) -> dict:
        """What a trainer needs to check it is talking to a compatible sim (sent as JSON)."""
        env, cfg = self.env, self.env.cfg
        intr = env.policy_intrinsics
        return {"task": cfg.task, "image_size": cfg.image_size, "render_images": cfg.render_images,
                "max_episode_steps": cfg.max_episode_steps, "control_dt": cfg.control_dt,
                "distance_threshold_m": cfg.distance_threshold_m, "motion": cfg.motion.to_spec(),
                "intrinsics": dataclasses.asdict(intr),
                "state_layout": {k: [s.start, s.stop] for k, s in env.state_layout.items()},
                "proprio_layout": {k: [s.start, s.stop] for k, s in env.proprio_layout.items()}}

    # ------------------------------------------------------------------ internals
    def _require_reset(self) -> None:
        if self.last is None:
            raise CommandError("the sim has not been reset yet (call the reset service)")

    def _record(self, obs, reward, truncated, success, step) -> SimStep:
        self.clock_ns += self.dt_ns
        q, qd = self.env.joint_state()
        pose = None
        if "object_pos" in self.env.state_layout:
            lay, s = self.env.state_layout, obs["state"]
            pose = (s[lay["object_pos"]].astype(np.float64), s[lay["object_quat"]].astype(np.float64))
        self.last = SimStep(self.clock_ns, obs, q, qd, pose, float(reward), bool(truncated), float(success),
                            self.episode, step)
        return self.last
