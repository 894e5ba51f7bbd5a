"""Camera model shared by the simulator and the real RealSense path.

Intrinsics and extrinsics come from YAML files so a user can drop in their own
camera's `camera_info` values and hand-eye calibration. Nothing here imports
PyBullet: the deploy side (real camera) uses the same code.

Conventions
- Intrinsics are OpenCV/ROS pinhole values: pixel (u, v) has its centre at integer
  coordinates, u to the right, v down.
- Extrinsics are the pose of the camera's *optical* frame (x right, y down, z forward,
  ROS `camera_color_optical_frame`) in the robot base frame.
- Depth follows the RealSense convention: z-depth along the optical axis, uint16
  millimetres, 0 = no reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_INTRINSICS_YAML = DATA_DIR / "camera_d435.yaml"
DEFAULT_EXTRINSICS_YAML = DATA_DIR / "camera_extrinsics.yaml"


class CameraConfigError(ValueError):
    """A camera YAML is missing, malformed or physically implausible."""


def _load_yaml_mapping(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CameraConfigError(f"{what} file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CameraConfigError(f"{what} file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CameraConfigError(f"{what} file {path} must contain a mapping, got {type(data).__name__}")
    return data


def _check_keys(data: dict, required: set[str], optional: set[str], where: str) -> None:
    missing = required - data.keys()
    if missing:
        raise CameraConfigError(f"{where}: missing key(s) {sorted(missing)}")
    unknown = data.keys() - required - optional
    if unknown:
        raise CameraConfigError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: {sorted(required | optional)})")


def _finite_float(value, name: str, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise CameraConfigError(f"{where}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise CameraConfigError(f"{where}: {name} must be finite, got {value!r}")
    return out


@dataclass(frozen=True)
class CameraIntrinsics:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    depth_min_m: float = 0.1
    depth_max_m: float = 3.0
    camera_model: str = "pinhole"

    def __post_init__(self):
        where = f"camera intrinsics ({self.camera_model})"
        if not (isinstance(self.width, int) and isinstance(self.height, int)) or self.width <= 0 or self.height <= 0:
            raise CameraConfigError(f"{where}: width/height must be positive integers, got {self.width}x{self.height}")
        for name in ("fx", "fy"):
            if not getattr(self, name) > 0:
                raise CameraConfigError(f"{where}: {name} must be > 0, got {getattr(self, name)}")
        if not (0 <= self.cx <= self.width and 0 <= self.cy <= self.height):
            raise CameraConfigError(f"{where}: principal point ({self.cx}, {self.cy}) lies outside the {self.width}x{self.height} image")
        if not 0 < self.depth_min_m < self.depth_max_m:
            raise CameraConfigError(f"{where}: need 0 < depth_min_m < depth_max_m, got {self.depth_min_m}, {self.depth_max_m}")

    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_INTRINSICS_YAML) -> "CameraIntrinsics":
        data = _load_yaml_mapping(path, "camera intrinsics")
        where = f"camera intrinsics {path}"
        _check_keys(data, {"width", "height", "fx", "fy", "cx", "cy"},
                    {"depth_min_m", "depth_max_m", "camera_model"}, where)
        for key in ("width", "height"):
            if not isinstance(data[key], int) or isinstance(data[key], bool):
                raise CameraConfigError(f"{where}: {key} must be an integer, got {data[key]!r}")
        floats = {k: _finite_float(data[k], k, where) for k in ("fx", "fy", "cx", "cy", "depth_min_m", "depth_max_m") if k in data}
        return cls(width=data["width"], height=data["height"], camera_model=str(data.get("camera_model", "pinhole")), **floats)

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled_focal(self, factor: float) -> "CameraIntrinsics":
        """Same camera with focal lengths multiplied by `factor` (FOV jitter)."""
        return replace(self, fx=self.fx * factor, fy=self.fy * factor)


def quat_to_matrix(q_xyzw) -> np.ndarray:
    x, y, z, w = np.asarray(q_xyzw, dtype=np.float64)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion (x, y, z, w) with w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    t = np.trace(R)
    if t > 0:
        s = math.sqrt(t + 1.0) * 2
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = math.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2]) * 2
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif R[1, 1] > R[2, 2]:
        s = math.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2]) * 2
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = math.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1]) * 2
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def axis_angle_to_matrix(axis_angle) -> np.ndarray:
    v = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    k = v / angle
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * Kx + (1 - math.cos(angle)) * Kx @ Kx


def optical_look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Rotation (x, y, z, w) of an optical frame at `eye` whose z axis points at `target`."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)  # image right
    if np.linalg.norm(x) < 1e-9:
        raise CameraConfigError("look-at direction is parallel to the up vector")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image down
    return matrix_to_quat(np.stack([x, y, z], axis=1))


@dataclass(frozen=True)
class CameraExtrinsics:
    translation: tuple[float, float, float]
    rotation_xyzw: tuple[float, float, float, float]
    parent_frame: str = "panda_link0"
    child_frame: str = "camera_color_optical_frame"

    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_EXTRINSICS_YAML) -> "CameraExtrinsics":
        data = _load_yaml_mapping(path, "camera extrinsics")
        where = f"camera extrinsics {path}"
        _check_keys(data, {"translation", "rotation_xyzw"}, {"parent_frame", "child_frame"}, where)
        t, q = data["translation"], data["rotation_xyzw"]
        if not (isinstance(t, list) and len(t) == 3):
            raise CameraConfigError(f"{where}: translation must be a list of 3 numbers, got {t!r}")
        if not (isinstance(q, list) and len(q) == 4):
            raise CameraConfigError(f"{where}: rotation_xyzw must be a list of 4 numbers, got {q!r}")
        t = tuple(_finite_float(v, "translation", where) for v in t)
        q = np.array([_finite_float(v, "rotation_xyzw", where) for v in q])
        norm = np.linalg.norm(q)
        if abs(norm - 1.0) > 1e-3:
            raise CameraConfigError(f"{where}: rotation_xyzw must be a unit quaternion, |q| = {norm:.4f}")
        return cls(translation=t, rotation_xyzw=tuple(q / norm),
                   parent_frame=str(data.get("parent_frame", "panda_link0")),
                   child_frame=str(data.get("child_frame", "camera_color_optical_frame")))

    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform base <- camera optical frame."""
        T = np.eye(4)
        T[:3, :3] = quat_to_matrix(self.rotation_xyzw)
        T[:3, 3] = self.translation
        return T

    def perturbed(self, dpos, drot_axis_angle) -> "CameraExtrinsics":
        """Pose jitter: translate by `dpos` (base frame) and rotate by a small axis-angle in the camera frame."""
        R = quat_to_matrix(self.rotation_xyzw) @ axis_angle_to_matrix(drot_axis_angle)
        return replace(self, translation=tuple(np.asarray(self.translation) + np.asarray(dpos)),
                       rotation_xyzw=tuple(matrix_to_quat(R)))


# OpenGL camera axes (x right, y up, z backwards) expressed in the optical frame.
_OPTICAL_TO_GL = np.diag([1.0, -1.0, -1.0])


def gl_view_matrix(extrinsics: CameraExtrinsics) -> list[float]:
    """Column-major 4x4 OpenGL view matrix (world -> GL camera) as PyBullet expects."""
    T = extrinsics.matrix()
    T[:3, :3] = T[:3, :3] @ _OPTICAL_TO_GL
    view = np.linalg.inv(T)
    return view.T.reshape(-1).tolist()


def gl_projection_matrix(intr: CameraIntrinsics, near: float, far: float) -> list[float]:
    """Column-major OpenGL projection for a pinhole camera with any principal point.

    PyBullet's TinyRenderer samples pixel corners, not centres, and flips rows: column i is
    sampled at NDC 2i/W - 1 and image row j at the corner below it. The offsets below (0 in x,
    +1 in y) put OpenCV pixel centre (i, j) exactly on those sample points; they were measured
    (tests/test_sim_camera.py): a direct 84x84 render then matches crop+resize of a 640x480
    render with 0 mm median depth difference (the textbook +0.5 gave 4 mm, i.e. 1/3 px).
    """
    W, H = intr.width, intr.height
    P = np.zeros((4, 4))
    P[0, 0] = 2 * intr.fx / W
    P[0, 2] = 1 - 2 * intr.cx / W
    P[1, 1] = 2 * intr.fy / H
    P[1, 2] = 2 * (intr.cy + 1.0) / H - 1
    P[2, 2] = -(far + near) / (far - near)
    P[2, 3] = -2 * far * near / (far - near)
    P[3, 2] = -1.0
    return P.T.reshape(-1).tolist()


def project_points(intr: CameraIntrinsics, extr: CameraExtrinsics, points_base: np.ndarray) -> np.ndarray:
    """Project base-frame points to pixel coordinates (u, v) and depth z (metres)."""
    T_cam_base = np.linalg.inv(extr.matrix())
    pts = np.asarray(points_base, dtype=np.float64).reshape(-1, 3)
    pc = pts @ T_cam_base[:3, :3].T + T_cam_base[:3, 3]
    u = intr.fx * pc[:, 0] / pc[:, 2] + intr.cx
    v = intr.fy * pc[:, 1] / pc[:, 2] + intr.cy
    return np.stack([u, v, pc[:, 2]], axis=1)


def resized_intrinsics(intr: CameraIntrinsics, width: int, height: int) -> CameraIntrinsics:
    """The same field of view sampled at another resolution (pixel-centre convention)."""
    sx, sy = width / intr.width, height / intr.height
    return replace(intr, width=width, height=height, fx=intr.fx * sx, fy=intr.fy * sy,
                   cx=(intr.cx + 0.5) * sx - 0.5, cy=(intr.cy + 0.5) * sy - 0.5)
