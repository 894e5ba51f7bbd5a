"""The motion limits the robot runs with, shared by training and deployment ("train what you deploy").

One `MotionLimits` object says how fast the grasp point may move, at which rate the policy acts,
inside which box the grasp point stays and how wide the gripper opens. The simulator steps with it
(`SimConfig.motion`), the exported actor records it in its observation spec, the safety layer's
defaults come from it, and the arm node compares its configured limits with the trained ones at
start. So a policy never meets, on the robot, a speed or a rate it was not trained with; the safety
layer stays a backstop that does not fire in nominal operation.

Defaults (deploy-safe): 10 Hz control and 0.25 m/s of grasp-point speed (2.5 cm per step). Learning
labs running Franka arms from images act at 5-15 Hz with per-step translations of 1-3 cm (e.g. SERL:
10 Hz, 2 cm per step, i.e. 0.2 m/s); 0.25 m/s is 15 % of the FR3's 1.7 m/s Cartesian limit and the
speed our safety layer allowed by default. The earlier sim (25 Hz, 5 cm per step = 1.25 m/s) was 5x
faster than the safety layer let through, so every deployed step was clipped.

Action <-> command: the action's xyz part in [-1, 1]^3 maps to a grasp-point velocity; an action
whose xyz norm exceeds 1 is scaled onto the unit ball (direction kept), so the commanded speed never
exceeds `max_ee_speed_m_s` and the safety layer's speed clip (same rule) has nothing to clip.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config_base import ConfigError, StrictConfig

GRIPPER_MAX_WIDTH = 0.08          # Franka Hand: 8 cm maximum opening
NORM_TOLERANCE = 1e-6             # an xyz norm within this of 1 counts as on the ball (float32 round trips)


@dataclass(frozen=True)
class MotionLimits(StrictConfig):
    control_rate_hz: float = 10.0                                  # the policy acts at this rate
    max_ee_speed_m_s: float = 0.25                                 # grasp-point speed for |action_xyz| = 1
    workspace_low: tuple[float, float, float] = (0.20, -0.40, 0.005)   # grasp-point box, m, robot base frame
    workspace_high: tuple[float, float, float] = (0.85, 0.40, 0.45)
    gripper_max_width_m: float = GRIPPER_MAX_WIDTH

    def __post_init__(self):
        if not 1.0 <= self.control_rate_hz <= 200.0:
            raise ConfigError(f"motion.control_rate_hz must be in [1, 200], got {self.control_rate_hz}")
        if not 0.01 <= self.max_ee_speed_m_s <= 2.0:
            raise ConfigError(f"motion.max_ee_speed_m_s must be in [0.01, 2.0] m/s, got {self.max_ee_speed_m_s}")
        if not 0.0 < self.gripper_max_width_m <= GRIPPER_MAX_WIDTH:
            raise ConfigError(f"motion.gripper_max_width_m must be in (0, {GRIPPER_MAX_WIDTH}], "
                              f"got {self.gripper_max_width_m}")
        if not all(lo < hi for lo, hi in zip(self.workspace_low, self.workspace_high)):
            raise ConfigError(f"motion.workspace_low {self.workspace_low} must be below workspace_high "
                              f"{self.workspace_high} on every axis")

    @property
    def control_dt(self) -> float:
        return 1.0 / self.control_rate_hz

    @property
    def max_ee_step_m(self) -> float:
        """Grasp-point displacement per control step at full speed."""
        return self.max_ee_speed_m_s / self.control_rate_hz

    def to_spec(self) -> dict:
        """What the exported actor records (plain JSON types)."""
        return {"control_rate_hz": self.control_rate_hz, "max_ee_speed_m_s": self.max_ee_speed_m_s,
                "workspace_low": list(self.workspace_low), "workspace_high": list(self.workspace_high),
                "gripper_max_width_m": self.gripper_max_width_m}


def limit_xyz(a_xyz: np.ndarray) -> np.ndarray:
    """Scale an xyz action onto the unit ball when its norm exceeds 1 (direction kept)."""
    n = float(np.linalg.norm(a_xyz))
    return a_xyz / n if n > 1.0 + NORM_TOLERANCE else a_xyz


def action_to_command(action, limits: MotionLimits) -> tuple[np.ndarray, float]:
    """Action in [-1, 1]^4 -> (grasp-point velocity m/s in the base frame, gripper opening m).
    What a trainer over ROS or a deployed policy sends for that action."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    v = limit_xyz(a[:3]) * limits.max_ee_speed_m_s
    return v, (a[3] + 1.0) / 2.0 * limits.gripper_max_width_m


def command_to_action(v_xyz, gripper_width: float, limits: MotionLimits) -> np.ndarray:
    """The inverse of `action_to_command` (float32, as a policy emits actions). ValueError for a
    speed above the limit, a width outside [0, max] or non-finite values: such a command must not
    move the robot."""
    v = np.asarray(v_xyz, dtype=np.float64)
    if v.shape != (3,) or not np.isfinite(v).all():
        raise ValueError(f"linear velocity must be 3 finite values, got {np.asarray(v_xyz).tolist()}")
    w = float(gripper_width)
    if not 0.0 <= w <= limits.gripper_max_width_m + 1e-9:   # also catches NaN
        raise ValueError(f"gripper width {gripper_width} m outside [0, {limits.gripper_max_width_m}]")
    speed = float(np.linalg.norm(v))
    if speed > limits.max_ee_speed_m_s * (1.0 + 1e-5):
        raise ValueError(f"grasp-point speed {speed:.4f} m/s exceeds the limit {limits.max_ee_speed_m_s:.4f} m/s")
    a = np.empty(4)
    a[:3] = v / limits.max_ee_speed_m_s
    a[3] = w / limits.gripper_max_width_m * 2.0 - 1.0
    return np.clip(a.astype(np.float32), -1.0, 1.0)


def applied_action(action, limits: MotionLimits) -> np.ndarray:
    """The action the robot actually executes: through the command and back, exactly as over ROS
    (so in-process and ROS training apply bit-identical actions)."""
    return command_to_action(*action_to_command(action, limits), limits)


def path_steps(distance_m: float, limits: MotionLimits, speed_fraction: float = 1.0) -> int:
    """Control steps needed to move the grasp point `distance_m` at `speed_fraction` of the limit."""
    return int(math.ceil(distance_m / (limits.max_ee_step_m * speed_fraction)))
