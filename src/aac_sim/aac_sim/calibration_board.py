"""A printed calibration board in the simulator: a textured quad that follows the gripper (no collision).

The board image and its size come from the caller (aac_driver.calibration makes the ChArUco board with
OpenCV); here it becomes a PyBullet mesh whose texture coordinates put image pixel (u, v) at board point
(u / width_px * width_m, v / height_px * height_m, 0), the frame OpenCV's board object points use (x along
the image's columns, y down its rows, z into the board). `follow(T_ee_board)` moves it with the grasp-point
frame before a render, as if it were bolted to the hand.
"""
from __future__ import annotations

import os
import tempfile

import cv2
import numpy as np
import pybullet as p

from aac_robot.camera import matrix_to_quat, quat_to_matrix
from aac_robot.panda import link_pose


class SimBoard:
    def __init__(self, client: int, image: np.ndarray, width_m: float, height_m: float):
        self.client, self.size = client, (float(width_m), float(height_m))
        rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        fd, path = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        try:
            if not cv2.imwrite(path, rgb):
                raise OSError(f"could not write the board texture {path}")
            texture = p.loadTexture(path, physicsClientId=client)
        finally:
            os.unlink(path)
        w, h = self.size
        # TinyRenderer's texture v runs upwards: image row 0 (the board's y = 0 edge) is v = 1
        uvs = [[0, 1], [1, 1], [1, 0], [0, 0]]
        vis = p.createVisualShape(p.GEOM_MESH, vertices=[[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]],
                                  indices=[0, 1, 2, 0, 2, 3, 0, 2, 1, 0, 3, 2], uvs=uvs, normals=[[0, 0, -1]] * 4,
                                  physicsClientId=client)
        self.body = p.createMultiBody(baseMass=0, baseVisualShapeIndex=vis, physicsClientId=client)
        p.changeVisualShape(self.body, -1, textureUniqueId=texture, rgbaColor=[1, 1, 1, 1], physicsClientId=client)

    def place(self, T_world_board: np.ndarray) -> None:
        p.resetBasePositionAndOrientation(self.body, T_world_board[:3, 3].tolist(),
                                          matrix_to_quat(T_world_board[:3, :3]).tolist(), physicsClientId=self.client)

    def follow(self, robot: int, link: int, T_link_board: np.ndarray) -> np.ndarray:
        """Put the board where it sits on `link` now; returns its world pose."""
        T = link_pose(self.client, robot, link) @ T_link_board
        self.place(T)
        return T


def board_mount(env, size_m: tuple[float, float], standoff_m: float = 0.08) -> np.ndarray:
    """T_ee_board: a board bolted to the hand so that, in the neutral pose, it faces the episode's camera
    (its z axis along the camera's viewing direction) with its centre `standoff_m` towards the camera."""
    T_ee = link_pose(env.client, env.scene.robot, env.scene.ee_link)
    cam = env.episode.extrinsics.matrix()
    z = cam[:3, 2]                                             # the camera looks along its optical z
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z], axis=1)
    centre = T_ee[:3, 3] - standoff_m * z
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, centre - R @ np.array([size_m[0] / 2, size_m[1] / 2, 0.0])
    return np.linalg.inv(T_ee) @ T


def sample_views(env, board: SimBoard, T_ee_board: np.ndarray, n: int, rng, tilt_rad: float = 0.35,
                 max_tries: int = 400):
    """Up to `n` (T_base_ee, rgb) views of the board at random arm poses around the neutral one (joints
    moved by up to +-tilt_rad, so the hand tilts about several axes), rendered at the camera's full
    resolution with the episode's camera. Poses whose board is behind the camera are skipped; whether the
    board is detectable is the caller's call."""
    from .scene import NEUTRAL_ARM_Q
    c, robot = env.client, env.scene.robot
    cam_inv = np.linalg.inv(env.episode.extrinsics.matrix())
    views = []
    for _ in range(max_tries):
        if len(views) == n:
            break
        q = np.asarray(NEUTRAL_ARM_Q) + rng.uniform(-tilt_rad, tilt_rad, 7)
        for j, qi in zip(env.scene.arm_joints, q):
            p.resetJointState(robot, j, float(qi), 0.0, physicsClientId=c)
        T_board = board.follow(robot, env.scene.ee_link, T_ee_board)
        centre = (cam_inv @ T_board @ np.array([board.size[0] / 2, board.size[1] / 2, 0.0, 1.0]))[:3]
        if centre[2] < 0.25:
            continue
        rgb, _ = env.camera_frame()
        views.append((link_pose(c, robot, env.scene.ee_link), rgb))
    return views
