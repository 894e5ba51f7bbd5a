"""The Panda model the simulator and the robot side share: joint names, the neutral (start) pose, the grasp
point, the URDF, forward kinematics and position IK.

Both sides load pybullet_data's Franka Panda URDF into PyBullet: the simulator into its physics scene
(aac_sim.scene), the robot side into a private DIRECT client that is never stepped (aac_robot.kinematics,
aac_driver.arm_ik). One model, so the proprio the deployed actor sees is the simulator's bit for bit
(tests/test_deploy.py) and the arm node's IK is the one the scripted controllers use. PyBullet stays on the
robot side for that reason: a second kinematics library (pinocchio) would agree only to a tolerance.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data

from .camera import quat_to_matrix
from .ros_interface import ARM_JOINTS, FINGER_JOINTS

EE_LINK = "panda_grasptarget"
# Neutral pose: gripper pointing down, grasp point at about (0.43, 0, 0.235) m.
NEUTRAL_ARM_Q = (0.0, -0.215, 0.0, -2.57, 0.0, 2.356, 0.785)
# 20 iterations: fewer (8, 12) measurably hurt tracking (scripted push success 96 % -> 86-92 %).
IK_ITERATIONS = 20
EE_DOWN_QUAT = (1.0, 0.0, 0.0, 0.0)  # gripper z axis pointing at the table
# The cell the robot stands in: the table top at z = 0 under the base (the simulator's scene and the
# real-arm planning scene of aac_driver.start_pose share it)
TABLE_HALF = (0.575, 0.5, 0.2)
TABLE_CENTER = (0.425, 0.0, -0.2)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "aac_sim"


def panda_urdf(render_model: str = "low_poly") -> str:
    """Path of the Panda URDF to load.

    `full`: pybullet_data's URDF as shipped (detailed visual meshes, ~20 ms per 84x84 frame).
    `low_poly`: the same URDF with each link's collision mesh used as its visual, written at
    run time next to nothing of ours (no third-party meshes are committed). TinyRenderer cost
    scales with triangles, so this is ~8x faster to render while the kinematics, dynamics and
    silhouette are identical.
    """
    src_dir = Path(pybullet_data.getDataPath()) / "franka_panda"
    src = (src_dir / "panda.urdf").read_text()
    if render_model == "full":
        return str(src_dir / "panda.urdf")
    if render_model != "low_poly":
        raise ValueError(f"unknown render model {render_model!r}")
    text = src.replace("package://meshes/visual/", "package://meshes/collision/")
    text = text.replace("package://meshes/", f"{src_dir / 'meshes'}/")
    # collision meshes carry no materials; colours are set per link after loading
    text = re.sub(r"<material name=\"[^\"]*\"/>", "", text)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    out = cache_dir() / f"panda_low_poly_{digest}.urdf"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        # several worker processes may get here at once: write to a temp file, then rename
        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".urdf.tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, out)
    return str(out)


@dataclass
class PandaBody:
    """A Panda loaded into a PyBullet client: body id and the joint / link indices by role."""
    client: int
    robot: int
    arm_joints: tuple[int, ...]
    finger_joints: tuple[int, ...]
    ee_link: int
    links: dict[str, int]    # link name -> index


def load_panda(client: int, render_model: str = "low_poly") -> PandaBody:
    """Load the Panda (fixed base at the origin) into `client`."""
    robot = p.loadURDF(panda_urdf(render_model), (0, 0, 0), useFixedBase=True,
                       flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES, physicsClientId=client)
    info = [p.getJointInfo(robot, j, physicsClientId=client) for j in range(p.getNumJoints(robot, physicsClientId=client))]
    joints = {i[1].decode(): i[0] for i in info}
    links = {i[12].decode(): i[0] for i in info}
    return PandaBody(client, robot, tuple(joints[n] for n in ARM_JOINTS), tuple(joints[n] for n in FINGER_JOINTS),
                     links[EE_LINK], links)


def link_pose(client: int, body: int, link: int) -> np.ndarray:
    """4x4 world pose of a link frame (forward kinematics of the current joint state)."""
    state = p.getLinkState(body, link, computeForwardKinematics=1, physicsClientId=client)
    T = np.eye(4)
    T[:3, :3] = quat_to_matrix(state[5])
    T[:3, 3] = state[4]
    return T


class PandaIK:
    """Position IK with the gripper held pointing down, null space pulled to the neutral pose."""

    def __init__(self, scene):   # a PandaBody, or the sim's SceneIds (same fields)
        c = scene.client
        movable = [j for j in range(p.getNumJoints(scene.robot, physicsClientId=c))
                   if p.getJointInfo(scene.robot, j, physicsClientId=c)[2] != p.JOINT_FIXED]
        info = [p.getJointInfo(scene.robot, j, physicsClientId=c) for j in movable]
        self.lower = [i[8] for i in info]
        self.upper = [i[9] for i in info]
        self.ranges = [u - l for l, u in zip(self.lower, self.upper)]
        self.rest = list(NEUTRAL_ARM_Q) + [0.02, 0.02]
        self.arm_index = [movable.index(j) for j in scene.arm_joints]
        # index into lower/upper giving panda_joint1..7 then the fingers
        self.movable_order = self.arm_index + [movable.index(j) for j in scene.finger_joints]
        self.scene = scene

    def solve(self, target_pos) -> np.ndarray:
        s = self.scene
        q = p.calculateInverseKinematics(s.robot, s.ee_link, list(target_pos), EE_DOWN_QUAT,
                                         lowerLimits=self.lower, upperLimits=self.upper,
                                         jointRanges=self.ranges, restPoses=self.rest,
                                         maxNumIterations=IK_ITERATIONS, residualThreshold=1e-4, physicsClientId=s.client)
        return np.asarray(q)[self.arm_index]
