"""End-effector velocity -> joint targets for a joint_trajectory_controller (no rclpy).

The sim's kinematic model (`aac_robot.kinematics.PandaKinematics`: a private PyBullet client with
the same URDF and loader, never stepped) and the sim's IK (`aac_robot.panda.PandaIK`: position IK of the grasp
point `panda_grasptarget` with
the gripper pointing down, null space pulled to the neutral pose). Each call first puts the model
in the measured joint state (resetJointState), so IK and FK always start from the real robot.

Joint names are mapped BY POSITION onto panda_joint1..7: franka_ros2 (FR3) calls them
fr3_joint1..7, older stacks panda_joint1..7; `joint_names` says which the robot uses.
"""
from __future__ import annotations

import numpy as np

from aac_robot.kinematics import PandaKinematics
from aac_robot.ros_interface import ARM_JOINTS
from aac_robot.motion import GRIPPER_MAX_WIDTH
from aac_robot.panda import PandaIK

IK_TOLERANCE_M = 0.02   # the arm node does not use a solution whose grasp point misses the target by more


class ArmIK:
    def __init__(self, joint_names=ARM_JOINTS):
        names = tuple(joint_names)
        if len(names) != 7 or len(set(names)) != 7:
            raise ValueError(f"joint_names must be 7 distinct names (panda_joint1..7 order), got {list(names)}")
        self.joint_names = names
        self.kin = PandaKinematics()
        self.ik = PandaIK(self.kin.scene)
        self.last_residual_m = 0.0

    def close(self) -> None:
        self.kin.close()

    # ------------------------------------------------------------------ joint states
    def arm_q(self, names, positions) -> np.ndarray | None:
        """Arm positions in panda_joint1..7 order from a JointState's names/positions; None if a
        joint is missing."""
        index = {n: i for i, n in enumerate(names)}
        if not all(n in index for n in self.joint_names) or len(positions) < len(names):
            return None
        return np.array([positions[index[n]] for n in self.joint_names], dtype=np.float64)

    # ------------------------------------------------------------------ kinematics
    def fk(self, q) -> np.ndarray:
        """Grasp-point position (m, panda_link0) for arm joint positions q (panda_joint1..7 order), fingers
        half open. Leaves the model in that state: IK then starts from it."""
        half = GRIPPER_MAX_WIDTH / 2
        return self.kin.grasp_point(np.concatenate([np.asarray(q, dtype=np.float64), [half, half]]))[0]

    def targets(self, q_now, v_xyz, dt: float) -> np.ndarray:
        """Joint targets that move the grasp point by v*dt (gripper pointing down). The IK residual
        (metres between FK of the targets and the wanted point) is left in `last_residual_m`."""
        q_now = np.asarray(q_now, dtype=np.float64)
        want = self.fk(q_now) + np.asarray(v_xyz, dtype=np.float64) * float(dt)
        q = np.asarray(self.ik.solve(want), dtype=np.float64)   # starts from the state just set: q_now
        self.last_residual_m = float(np.linalg.norm(self.fk(q) - want))
        return q
