"""The always-on safety filter between the policy and the arm (no rclpy, no PyBullet calls).

Every command the arm node sends goes through `SafetyFilter`; its methods take plain numbers and
return the command to send plus the list of interventions (event kinds) that changed or refused
it. Each event is counted in `SafetyFilter.counts` (kinds in `EVENTS`), which the node publishes
and which end up in deployment reports.

Cartesian command (`filter_twist`, grasp-point velocity in m/s, base frame), checks in order:
  non_finite     NaN/inf velocity or state: zero velocity, and (by default) a latched stop
  stopped        stop latched (`stop()`, cleared only by `reset()`): zero velocity
  camera_stale   no colour frame for more than camera_timeout_s (or none yet): zero velocity
  command_stale  the policy command is older than command_timeout_s: zero velocity
  state_stale    no (fresh) end-effector position, so the workspace cannot be checked: zero
  speed_clipped  |v| > max_ee_speed_m_s: scaled down to the limit (direction kept)
  workspace      on each axis, motion that would leave the workspace box within one control
                 period is zeroed (motion back into the box is always allowed)
Joint targets (`filter_joint_targets`, e.g. IK output for a joint_trajectory_controller):
  non_finite, stopped (hold q_now), joint_limit (clipped into the URDF limits minus a margin),
  joint_velocity (step scaled so that no joint exceeds scale x its velocity limit).
Gripper (`filter_gripper`): non_finite / stopped / camera_stale / state_stale refuse (None = send nothing),
  gripper_clipped clips the opening to [0, gripper_max_width_m].

Dry run: the filter runs and counts exactly as usual; `dry_run` only tells the node not to send.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from aac_robot.config_base import ConfigError, StrictConfig
from aac_robot.motion import MotionLimits

TRAINED = MotionLimits()   # the limits policies are trained with by default (aac_robot.motion)

# Franka Emika Panda / FR3 (datasheet, franka_description URDF): joint position and velocity limits.
# pybullet_data's Panda URDF (the sim's) has slightly wider position limits; these are inside them.
PANDA_JOINT_LOWER = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973)
PANDA_JOINT_UPPER = (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)
PANDA_JOINT_VELOCITY = (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)

EVENTS = ("non_finite", "stopped", "camera_stale", "command_stale", "state_stale", "speed_clipped",
          "workspace", "joint_limit", "joint_velocity", "gripper_clipped",
          # recorded by the node (not decided here): refused messages, IK failures, policy commands while
          # the episode runner holds the arm
          "refused_message", "ik_failed", "held")

F3 = tuple[float, float, float]
F7 = tuple[float, float, float, float, float, float, float]


@dataclass(frozen=True)
class SafetyConfig(StrictConfig):
    """Limits of the safety filter. Strict: unknown keys / wrong types raise ConfigError
    (`SafetyConfig.from_dict`, `.from_yaml`)."""

    workspace_low: F3 = TRAINED.workspace_low                        # grasp-point box, m, panda_link0
    workspace_high: F3 = TRAINED.workspace_high
    max_ee_speed_m_s: float = TRAINED.max_ee_speed_m_s
    joint_velocity_limits: F7 = PANDA_JOINT_VELOCITY                 # rad/s
    joint_velocity_scale: float = 0.5                                # fraction of the limits allowed
    joint_lower: F7 = PANDA_JOINT_LOWER                              # rad
    joint_upper: F7 = PANDA_JOINT_UPPER
    joint_limit_margin_rad: float = 0.05                             # targets stay this far inside
    gripper_max_width_m: float = TRAINED.gripper_max_width_m
    camera_timeout_s: float = 0.2                                    # watchdog: colour frame age
    command_timeout_s: float = 0.2                                   # policy command age
    state_timeout_s: float = 0.2                                     # joint_states age
    control_dt: float = TRAINED.control_dt                           # one control period (workspace look-ahead)
    latch_on_non_finite: bool = True                                 # a NaN/inf command latches a stop

    def __post_init__(self):
        lo, hi = np.asarray(self.workspace_low), np.asarray(self.workspace_high)
        if not (lo < hi).all():
            raise ConfigError(f"SafetyConfig: workspace_low {self.workspace_low} must be below "
                              f"workspace_high {self.workspace_high} on every axis")
        positive = ("max_ee_speed_m_s", "gripper_max_width_m", "camera_timeout_s", "command_timeout_s",
                    "state_timeout_s", "control_dt")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"SafetyConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.joint_velocity_scale <= 1:
            raise ConfigError(f"SafetyConfig.joint_velocity_scale must be in (0, 1], got {self.joint_velocity_scale}")
        if not min(self.joint_velocity_limits) > 0:
            raise ConfigError(f"SafetyConfig.joint_velocity_limits must be > 0, got {self.joint_velocity_limits}")
        if not self.joint_limit_margin_rad >= 0:
            raise ConfigError(f"SafetyConfig.joint_limit_margin_rad must be >= 0, got {self.joint_limit_margin_rad}")
        low, high = self.joint_band()
        if not (low < high).all():
            raise ConfigError(f"SafetyConfig: joint_lower + margin must be below joint_upper - margin, "
                              f"got {low.tolist()} / {high.tolist()}")

    def joint_band(self) -> tuple[np.ndarray, np.ndarray]:
        """Allowed joint targets: the position limits shrunk by the margin."""
        m = self.joint_limit_margin_rad
        return np.asarray(self.joint_lower) + m, np.asarray(self.joint_upper) - m

    def max_joint_step(self, dt: float) -> np.ndarray:
        return np.asarray(self.joint_velocity_limits) * self.joint_velocity_scale * dt


def _finite(x) -> bool:
    return x is not None and bool(np.isfinite(np.asarray(x, dtype=np.float64)).all())


class SafetyFilter:
    """Stateful filter: latched stop + intervention counts. Not thread-safe (one node, one executor)."""

    def __init__(self, config: SafetyConfig | None = None, dry_run: bool = False):
        self.config = config or SafetyConfig()
        self.dry_run = bool(dry_run)
        self.counts: dict[str, int] = {k: 0 for k in EVENTS}
        self.commands = 0               # commands filtered (twist, joint targets, gripper)
        self.stopped = False
        self.stop_reason = ""

    # ------------------------------------------------------------------ latch
    def stop(self, reason: str = "stop requested") -> None:
        """Latch a stop: every later command is zero / hold until `reset()`."""
        if not self.stopped:
            self.stopped, self.stop_reason = True, reason

    def reset(self) -> None:
        self.stopped, self.stop_reason = False, ""

    # ------------------------------------------------------------------ bookkeeping
    def record(self, *events: str) -> list[str]:
        for e in events:
            if e not in self.counts:
                raise KeyError(f"unknown safety event {e!r}; known: {list(EVENTS)}")
            self.counts[e] += 1
        return list(events)

    def report(self) -> dict:
        return {"counts": dict(self.counts), "commands": self.commands, "stopped": self.stopped,
                "stop_reason": self.stop_reason, "dry_run": self.dry_run}

    def _refuse_non_finite(self, what: str) -> list[str]:
        if self.config.latch_on_non_finite:
            self.stop(f"non-finite {what}")
        return self.record("non_finite")

    # ------------------------------------------------------------------ Cartesian
    def filter_twist(self, now: float, v_xyz, ee_pos, last_camera_time: float | None,
                     command_time: float | None = None, state_time: float | None = None
                     ) -> tuple[np.ndarray, list[str]]:
        """Grasp-point velocity (m/s, base frame) -> (velocity to send, events).

        `now`, `last_camera_time` (arrival of the newest colour frame; None = none yet),
        `command_time` (arrival of the policy command; None = not checked) and `state_time`
        (arrival of the joint state `ee_pos` comes from; None = not checked) are seconds on one
        monotonic clock. `ee_pos` None = unknown.
        """
        self.commands += 1
        cfg, zero = self.config, np.zeros(3)
        v = np.array(v_xyz, dtype=np.float64).reshape(-1)
        if v.shape != (3,) or not np.isfinite(v).all():
            return zero, self._refuse_non_finite(f"velocity command {v.tolist()}")
        if ee_pos is not None and not _finite(ee_pos):
            return zero, self._refuse_non_finite(f"end-effector position {np.asarray(ee_pos).tolist()}")
        if self.stopped:
            return zero, self.record("stopped")
        if last_camera_time is None or now - last_camera_time > cfg.camera_timeout_s:
            return zero, self.record("camera_stale")
        if command_time is not None and now - command_time > cfg.command_timeout_s:
            return zero, self.record("command_stale")
        if ee_pos is None or (state_time is not None and now - state_time > cfg.state_timeout_s):
            return zero, self.record("state_stale")
        events = []
        speed = float(np.linalg.norm(v))
        if speed > cfg.max_ee_speed_m_s * (1.0 + 1e-9):   # a policy at exactly the limit is not clipped
            v = v * (cfg.max_ee_speed_m_s / speed)
            events.append("speed_clipped")
        nxt = np.asarray(ee_pos, dtype=np.float64) + v * cfg.control_dt
        leaving = ((nxt < np.asarray(cfg.workspace_low)) & (v < 0)) | ((nxt > np.asarray(cfg.workspace_high)) & (v > 0))
        if leaving.any():
            v = np.where(leaving, 0.0, v)
            events.append("workspace")
        return v, self.record(*events)

    # ------------------------------------------------------------------ joints
    def filter_joint_targets(self, q_now, q_target, dt: float) -> tuple[np.ndarray | None, list[str]]:
        """Arm joint targets reached `dt` seconds from now -> (targets to send, events).
        Returns None (send nothing) when `q_now` itself is not usable."""
        self.commands += 1
        cfg = self.config
        q_now = np.array(q_now, dtype=np.float64).reshape(-1)
        q_t = np.array(q_target, dtype=np.float64).reshape(-1)
        n = len(cfg.joint_lower)
        if q_now.shape != (n,) or not np.isfinite(q_now).all():
            return None, self._refuse_non_finite(f"joint state {q_now.tolist()}")
        if q_t.shape != (n,) or not np.isfinite(q_t).all() or not (math.isfinite(dt) and dt > 0):
            return q_now, self._refuse_non_finite(f"joint targets {q_t.tolist()} (dt {dt})")
        if self.stopped:
            return q_now, self.record("stopped")
        events = []
        low, high = cfg.joint_band()
        clipped = np.clip(q_t, low, high)
        if (clipped != q_t).any():
            events.append("joint_limit")
        step = clipped - q_now
        max_step = cfg.max_joint_step(dt)
        ratio = float(np.max(np.abs(step) / max_step))
        if ratio > 1.0:   # one factor for all joints: the motion keeps its direction
            step = step / ratio
            events.append("joint_velocity")
        return q_now + step, self.record(*events)

    # ------------------------------------------------------------------ gripper
    def filter_gripper(self, width: float, now: float | None = None, last_camera_time: float | None = None,
                       check_state: bool = False, state_time: float | None = None) -> tuple[float | None, list[str]]:
        """Gripper opening (m) -> (opening to send, or None = send nothing; events). The camera
        watchdog applies when `now` is given; the joint-state watchdog too with `check_state`
        (`state_time` None = no joint state yet). A gripper command is forwarded only when it arrives,
        never re-sent, so a stale one cannot reach the gripper: no command watchdog is needed here."""
        self.commands += 1
        w = float(width)
        if not math.isfinite(w):
            return None, self._refuse_non_finite(f"gripper width {width}")
        if self.stopped:
            return None, self.record("stopped")
        if now is not None and (last_camera_time is None or now - last_camera_time > self.config.camera_timeout_s):
            return None, self.record("camera_stale")
        if now is not None and check_state and (state_time is None or now - state_time > self.config.state_timeout_s):
            return None, self.record("state_stale")   # the arm's state is unknown: when in doubt, do nothing
        clipped = min(max(w, 0.0), self.config.gripper_max_width_m)
        return clipped, self.record("gripper_clipped") if clipped != w else []


def config_fields() -> dict[str, object]:
    """Field name -> default of SafetyConfig (the node declares one parameter per field)."""
    return {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(SafetyConfig)}
