"""Forward kinematics of the Panda's grasp point from joint states: the actor's `proprio` on a real robot.

In simulation the env reads the grasp point from PyBullet; on the real arm only `/joint_states`
exists. This computes the same numbers from joint positions and velocities with the same URDF, in
a private PyBullet DIRECT client (no scene, no physics stepping). No ROS imports.
"""
from __future__ import annotations

import numpy as np
import pybullet as p

from .panda import load_panda, link_pose
from .ros_interface import ARM_JOINTS, FINGER_JOINTS

JOINT_NAMES = ARM_JOINTS + FINGER_JOINTS


class PandaKinematics:
    """The sim's Panda (same URDF, same loader) in a private client that is never stepped: forward
    kinematics here, and `scene` (the loaded PandaBody) for IK with `aac_robot.panda.PandaIK`
    (aac_driver.arm_ik)."""

    def __init__(self):
        self.client = p.connect(p.DIRECT)
        self.scene = load_panda(self.client, "low_poly")   # the robot alone: FK and IK need no table
        self.joints = list(self.scene.arm_joints + self.scene.finger_joints)

    def grasp_point(self, q, qd=None) -> tuple[np.ndarray, np.ndarray]:
        """Position and linear velocity (m, m/s, base frame) of the grasp point for joint positions
        `q` and velocities `qd` (panda_joint1..7, finger 1, finger 2)."""
        q = np.asarray(q, dtype=np.float64)
        qd = np.zeros(9) if qd is None else np.asarray(qd, dtype=np.float64)
        if q.shape != (9,) or qd.shape != (9,) or not (np.isfinite(q).all() and np.isfinite(qd).all()):
            raise ValueError(f"joint positions/velocities must be 9 finite values each ({list(JOINT_NAMES)})")
        robot = self.scene.robot
        for j, qi, qdi in zip(self.joints, q, qd):
            p.resetJointState(robot, j, qi, qdi, physicsClientId=self.client)
        link = p.getLinkState(robot, self.scene.ee_link, computeLinkVelocity=1, computeForwardKinematics=1,
                              physicsClientId=self.client)
        return np.asarray(link[4]), np.asarray(link[6])

    def grasp_pose(self, q) -> np.ndarray:
        """4x4 pose (base frame) of the grasp-point frame for joint positions q (9 values): what a board
        bolted to the hand moves with (aac_driver.calibration)."""
        self.grasp_point(q)   # sets the joint state (and checks it)
        return link_pose(self.client, self.scene.robot, self.scene.ee_link)

    def proprio(self, q, qd) -> np.ndarray:
        """The env's `proprio` layout: grasp-point position (3), velocity (3), gripper width (1)."""
        pos, vel = self.grasp_point(q, qd)
        q = np.asarray(q, dtype=np.float64)
        return np.concatenate([pos, vel, [q[7] + q[8]]]).astype(np.float32)

    def close(self) -> None:
        if self.client is not None:
            try:
                p.disconnect(physicsClientId=self.client)
            except p.error:
                pass
            self.client = None
