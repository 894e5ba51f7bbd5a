"""Is the real camera where the policy was trained to look? (plain module, no rclpy, no torch)

An exported actor records the camera pose it was trained around (`camera.extrinsics`, the sim's
`camera_extrinsics.yaml`) and, since 2026-12-01, the randomization around it (`camera.pose_range`:
+-position_m per base-frame axis, +-rotation_deg per axis of a small rotation in the camera frame: the
sim's `CameraExtrinsics.perturbed`). A calibrated camera pose (hand-eye calibration, same YAML format)
is compared with that in the same terms, so "inside" means "a pose the policy saw in training".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aac_robot.camera import CameraExtrinsics, quat_to_matrix

# inside the range but using more than this share of it on some axis: works, with less margin than
# the training saw on average (a uniform draw uses half of the range on average)
MARGIN_WARN = 0.75


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """Rotation matrix -> axis-angle vector (rad); the inverse of aac_robot.camera.axis_angle_to_matrix."""
    R = np.asarray(R, dtype=np.float64)
    cos = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    angle = math.acos(cos)
    if angle < 1e-9:
        return np.zeros(3)
    if math.pi - angle < 1e-6:   # 180 degrees: the axis is the eigenvector of eigenvalue 1 (sign is free)
        values, vectors = np.linalg.eigh((R + R.T) / 2.0)
        return vectors[:, int(np.argmax(values))] * angle
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2.0 * math.sin(angle))
    return w * angle


def pose_difference(trained: CameraExtrinsics, actual: CameraExtrinsics) -> tuple[np.ndarray, np.ndarray]:
    """(dpos, drot): `actual` = `trained.perturbed(dpos, drot)`: dpos in the base frame (m), drot an
    axis-angle in the trained camera's frame (rad)."""
    dpos = np.asarray(actual.translation, dtype=np.float64) - np.asarray(trained.translation, dtype=np.float64)
    R_rel = quat_to_matrix(trained.rotation_xyzw).T @ quat_to_matrix(actual.rotation_xyzw)
    return dpos, matrix_to_axis_angle(R_rel)


@dataclass(frozen=True)
class PoseCheck:
    status: str          # "inside", "near_edge", "outside", "unknown_range"
    dpos_m: tuple        # per base-frame axis
    drot_deg: tuple      # per camera-frame axis
    distance_m: float
    angle_deg: float
    range_m: float | None
    range_deg: float | None

    def describe(self) -> str:
        d = ", ".join(f"{a} {v * 100:+.1f}" for a, v in zip("xyz", self.dpos_m))
        r = ", ".join(f"{a} {v:+.1f}" for a, v in zip("xyz", self.drot_deg))
        trained = (f"; trained range +-{self.range_m * 100:.1f} cm / +-{self.range_deg:.1f} deg per axis"
                   if self.range_m is not None else "; the actor records no trained range")
        return (f"calibrated camera vs the trained pose: {self.distance_m * 100:.1f} cm ({d} cm), "
                f"{self.angle_deg:.1f} deg ({r} deg){trained}")


def trained_pose(spec: dict) -> tuple[CameraExtrinsics, float | None, float | None]:
    """The camera pose an actor was trained around and its +-range (None: not recorded, an older export)."""
    cam = (spec or {}).get("camera") or {}
    ext = cam.get("extrinsics")
    if not ext:
        raise ValueError("the actor records no camera pose (a state-only actor?)")
    pose = CameraExtrinsics(translation=tuple(ext["translation"]), rotation_xyzw=tuple(ext["rotation_xyzw"]),
                            parent_frame=ext.get("parent_frame", "panda_link0"),
                            child_frame=ext.get("child_frame", "camera_color_optical_frame"))
    rng = cam.get("pose_range")
    if not rng:
        return pose, None, None
    return pose, float(rng["position_m"]), float(rng["rotation_deg"])


def check_pose(spec: dict, actual: CameraExtrinsics) -> PoseCheck:
    trained, range_m, range_deg = trained_pose(spec)
    if actual.parent_frame != trained.parent_frame:
        raise ValueError(f"the calibrated pose is in {actual.parent_frame!r}, the actor's in "
                         f"{trained.parent_frame!r}: express both in the robot base frame")
    dpos, drot = pose_difference(trained, actual)
    drot_deg = np.degrees(drot)
    if range_m is None:
        status = "unknown_range"
    else:
        # the randomization draws each axis uniformly in +-range: the set of trained poses is a box
        use = max(np.max(np.abs(dpos)) / max(range_m, 1e-12), np.max(np.abs(drot_deg)) / max(range_deg, 1e-12))
        status = "outside" if use > 1.0 else "near_edge" if use > MARGIN_WARN else "inside"
    return PoseCheck(status, tuple(float(v) for v in dpos), tuple(float(v) for v in drot_deg),
                     float(np.linalg.norm(dpos)), float(np.degrees(np.linalg.norm(drot))), range_m, range_deg)
