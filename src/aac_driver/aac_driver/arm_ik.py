"""End-effector velocity -> joint targets for a joint_trajectory_controller (no rclpy).

A private PyBullet DIRECT client holds the same Panda model as the sim (`aac_sim.scene.build_scene`)
and the sim's IK (`aac_sim.scene.PandaIK`: position IK of the grasp point `panda_grasptarget` with
the gripper pointing down, null space pulled to the neutral pose). Each call first puts the model
in the measured joint state (resetJointState), so IK and FK always start from the real robot.

Joint names are mapped BY POSITION onto panda_joint1..7: franka_ros2 (FR3) calls them
fr3_joint1..7, older stacks panda_joint1..7; `joint_names` says which the robot uses.
"""
from __future__ import annotations

import numpy as np
import pybullet as p

from aac_sim.ros_interface import ARM_JOINTS
from aac_sim.scene import GRIPPER_MAX_WIDTH, PandaIK, build_scene

IK_TOLERANCE_M = 0.02   # the arm node does not use a solution whose grasp point misses the target by more


class ArmIK:
    def __init__(self, joint_names=ARM_JOINTS):
        names = tuple(joint_names)
        if len(names) != 7 or len(set(names)) != 7:
            raise ValueError(f"joint_names must be 7 distinct names (panda_joint1..7 order), got {list(names)}")
        self.joint_names = names
        self.client = p.connect(p.DIRECT)
        # physics_dt is irrelevant here (nothing is stepped); same URDF and IK as the sim
        self.scene = build_scene(self.client, "low_poly", 0.004)
        self.ik = PandaIK(self.scene)
        self.last_residual_m = 0.0

    def close(self) -> None:
        if self.client is not None:
            try:
                p.disconnect(physicsClientId=self.client)
            except p.error:
                pass
            self.client = None

    # ------------------------------------------------------------------ joint states
    def arm_q(self, names, positions) -> np.ndarray | None:
        """Arm positions in panda_joint1..7 order from a JointState's names/positions; None if a
        joint is missing."""
        index = {n: i for i, n in enumerate(names)}
        if not all(n in index for n in self.joint_names) or len(positions) < len(names):
            return None
        return np.array([positions[index[n]] for n in self.joint_names], dtype=np.float64)

    # ------------------------------------------------------------------ kinematics
    def _set(self, q, finger: float = GRIPPER_MAX_WIDTH / 2) -> None:
        s = self.scene
        for j, v in zip(s.arm_joints, q):
            p.resetJointState(s.robot, j, float(v), 0.0, physicsClientId=self.client)
        for j in s.finger_joints:
            p.resetJointState(s.robot, j, float(finger), 0.0, physicsClientId=self.client)

    def _grasp_point(self) -> np.ndarray:
        s = self.scene
        state = p.getLinkState(s.robot, s.ee_link, computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(state[4], dtype=np.float64)   # URDF link frame (grasp point), not the CoM frame

    def fk(self, q) -> np.ndarray:
        """Grasp-point position (m, panda_link0) for arm joint positions q (panda_joint1..7 order)."""
        self._set(q)
        return self._grasp_point()

    def targets(self, q_now, v_xyz, dt: float) -> np.ndarray:
        """Joint targets that move the grasp point by v*dt (gripper pointing down). The IK residual
        (metres between FK of the targets and the wanted point) is left in `last_residual_m`."""
        q_now = np.asarray(q_now, dtype=np.float64)
        want = self.fk(q_now) + np.asarray(v_xyz, dtype=np.float64) * float(dt)
        q = np.asarray(self.ik.solve(want), dtype=np.float64)   # starts from the state just set: q_now
        self._set(q)
        self.last_residual_m = float(np.linalg.norm(self._grasp_point() - want))
        return q
