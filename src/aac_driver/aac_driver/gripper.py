"""Which gripper goals to send to franka_gripper's GripperCommand action (no rclpy, no control_msgs).

franka_gripper (franka_ros2 >= v2.0, node `franka_gripper`, action `~/gripper_action`, checked in
docs/upstream_interfaces.md section 2) takes `command.position` = finger position = width / 2, and:
- ABORTS (does not clamp) a goal wider than the `max_width` it measured when homing, which can be
  below the nominal 8 cm;
- runs every goal it accepts as a blocking libfranka move (opening) or grasp (closing, with
  max_effort as the force); a grasp "fails" unless it ends within +-5 mm of the target, which is
  the normal outcome of closing on a block.
So: send a goal only when the commanded width moved by more than a deadband; cancel the active goal
before the next one; after an aborted opening goal, shrink the width limit below what was refused
and send again (once per refusal); an aborted closing goal means the fingers stopped on something:
that is a grasp, not an error.
"""
from __future__ import annotations

from dataclasses import dataclass

ABORT_SHRINK_M = 0.002   # an aborted opening goal is re-sent this much narrower
MIN_LIMIT_M = 0.04       # never shrink the limit below this: a real refusal below it is a fault


@dataclass
class GripperGoals:
    max_width_m: float = 0.08
    deadband_m: float = 0.002
    last_sent_m: float | None = None   # width of the newest goal sent (None = none yet)

    def next_goal(self, width_m: float) -> float | None:
        """The width to send for a commanded opening, or None (within the deadband of the last goal)."""
        w = min(max(float(width_m), 0.0), self.max_width_m)
        if self.last_sent_m is not None and abs(w - self.last_sent_m) <= self.deadband_m:
            return None
        self.last_sent_m = w
        return w

    def on_aborted(self, sent_m: float, measured_m: float | None) -> tuple[float | None, str]:
        """A goal of `sent_m` was aborted; `measured_m` is the width the gripper reports now (None =
        unknown). Returns (width to send again or None, what it means, for the log)."""
        opening = measured_m is None or sent_m > measured_m + self.deadband_m
        if not opening:
            return None, f"closing to {sent_m:.4f} m stopped at {measured_m:.4f} m: grasped an object"
        limit = sent_m - ABORT_SHRINK_M
        if limit < MIN_LIMIT_M:
            return None, (f"opening to {sent_m:.4f} m refused and the limit is already {self.max_width_m:.4f} m: "
                          f"the gripper needs homing (franka_gripper/homing)")
        self.max_width_m = min(self.max_width_m, limit)
        self.last_sent_m = None
        return self.next_goal(sent_m), (f"opening to {sent_m:.4f} m refused (wider than the homed max_width?): "
                                        f"limit now {self.max_width_m:.4f} m, sent again")
