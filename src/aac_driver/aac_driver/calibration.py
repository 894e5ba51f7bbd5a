"""Eye-to-hand calibration of the camera against the arm base, with OpenCV (plain module, no rclpy).

A ChArUco board is fixed to the gripper; the camera stands still. At each of N arm poses a sample is
the board's pose in the camera (`detect_board`: `cv2.aruco.CharucoDetector` + `cv2.solvePnP`, with the
camera's own intrinsics, e.g. the RealSense factory calibration from camera_info) and the gripper's pose
in the base (forward kinematics of the joint states). `solve_eye_to_hand` hands both to
`cv2.calibrateRobotWorldHandEye` (camera in the base and board on the gripper at once), and
`refine_reprojection` then adjusts both to the detected corners themselves (bundle adjustment of the
reprojection error over every view, `scipy.optimize.least_squares`; 10x more accurate than the
closed form alone in bench/calibration_accuracy.py). Per-sample residuals are reported; `write_extrinsics` writes the result in the
`camera_extrinsics.yaml` format the sim and the policy read (and the preflight's camera.pose check).
Needs OpenCV 4.x (`calibrateHandEye` is not in the 5.0 Python bindings).

Conventions: T_a_b is the 4x4 pose of frame b in frame a (maps b coordinates to a). The camera frame is
the optical frame (x right, y down, z forward), `camera_color_optical_frame`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.optimize import least_squares

from aac_robot.camera import matrix_to_quat

# The board the sim renders and the one to print (A4, 5 x 7 squares of 30 mm, 22 mm markers, 4x4 dictionary)
BOARD_SQUARES = (5, 7)
BOARD_SQUARE_M = 0.03
BOARD_MARKER_M = 0.022
BOARD_DICTIONARY = cv2.aruco.DICT_4X4_50 if hasattr(cv2, "aruco") else None
MIN_CORNERS = 6          # fewer ChArUco corners than this: the pose is not used
MIN_SAMPLES = 5          # hand-eye needs rotations about at least two axes; use 10-20 varied poses


class CalibrationError(RuntimeError):
    pass


def _need_hand_eye() -> None:
    if not hasattr(cv2, "calibrateHandEye"):
        raise CalibrationError(f"OpenCV {cv2.__version__} has no calibrateHandEye (the 5.0 Python bindings dropped "
                               "it): install opencv-python-headless<5 (requirements.txt pins it)")


def make_board():
    return cv2.aruco.CharucoBoard(BOARD_SQUARES, BOARD_SQUARE_M, BOARD_MARKER_M,
                                  cv2.aruco.getPredefinedDictionary(BOARD_DICTIONARY))


def board_image(board=None, px_per_square: int = 80, margin_px: int = 0) -> np.ndarray:
    """The board as a grayscale image (to print, or as the sim's texture): exactly the board, margin 0."""
    board = board or make_board()
    w, h = board.getChessboardSize()
    return board.generateImage((w * px_per_square + 2 * margin_px, h * px_per_square + 2 * margin_px),
                               marginSize=margin_px)


def pose_matrix(rvec, tvec) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))[0]
    T[:3, 3] = np.asarray(tvec, dtype=np.float64).reshape(3)
    return T


@dataclass(frozen=True)
class BoardDetection:
    T_cam_board: np.ndarray      # 4x4
    corners: int                 # ChArUco corners used
    reprojection_px: float       # RMS
    object_points: np.ndarray | None = None   # (N, 3) the corners in the board frame, m
    image_points: np.ndarray | None = None    # (N, 2) where they were detected, px


def detect_board(image: np.ndarray, K: np.ndarray, dist=None, board=None) -> BoardDetection | None:
    """The board's pose in the camera from one image (grayscale or RGB), or None when too few corners."""
    board = board or make_board()
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(gray)
    if ids is None or len(ids) < MIN_CORNERS:
        return None
    obj, img = board.matchImagePoints(corners, ids)
    dist = np.zeros(5) if dist is None else np.asarray(dist, dtype=np.float64)
    ok, rvec, tvec = cv2.solvePnP(obj, img, np.asarray(K, dtype=np.float64), dist, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    proj, _ = cv2.projectPoints(obj, rvec, tvec, np.asarray(K, dtype=np.float64), dist)
    rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img.reshape(-1, 2)) ** 2, axis=1))))
    return BoardDetection(pose_matrix(rvec, tvec), int(len(ids)), rms, obj.reshape(-1, 3).astype(np.float64),
                          img.reshape(-1, 2).astype(np.float64))


def _angle_deg(R: np.ndarray) -> float:
    return math.degrees(math.acos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)))


@dataclass(frozen=True)
class HandEyeResult:
    T_base_cam: np.ndarray
    T_gripper_board: np.ndarray        # where the board sits on the gripper (a by-product)
    residual_m: list[float]            # per sample: board position predicted by the result vs measured
    residual_deg: list[float]
    reprojection_px: float | None = None   # RMS over every corner of every view (after `refine_reprojection`)

    def summary(self) -> str:
        reproj = "" if self.reprojection_px is None else f"; corner reprojection RMS {self.reprojection_px:.2f} px"
        return (f"{len(self.residual_m)} samples; residuals: position median {np.median(self.residual_m) * 1e3:.1f} mm, "
                f"max {np.max(self.residual_m) * 1e3:.1f} mm; rotation median {np.median(self.residual_deg):.2f} deg, "
                f"max {np.max(self.residual_deg):.2f} deg{reproj}")


def _rotation_axes_span(rots: list[np.ndarray]) -> tuple[float, float]:
    """(largest angle between two orientations in deg, how much the relative rotation axes span a second
    direction: the 2nd singular value over the 1st of the stacked unit axes; ~0 = all about one axis)."""
    axes, spread = [], 0.0
    for i, a in enumerate(rots):
        for b in rots[i + 1:]:
            R = a.T @ b
            angle = _angle_deg(R)
            spread = max(spread, angle)
            if angle > 3.0:
                w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
                axes.append(w / max(np.linalg.norm(w), 1e-12))
    if len(axes) < 2:
        return spread, 0.0
    sv = np.linalg.svd(np.array(axes), compute_uv=False)
    return spread, float(sv[1] / sv[0])


def solve_eye_to_hand(T_base_gripper: list[np.ndarray], T_cam_board: list[np.ndarray]) -> HandEyeResult:
    """The camera's pose in the base from N (gripper in base, board in camera) pairs: OpenCV's
    `calibrateRobotWorldHandEye` (Shah), which solves for both unknowns at once: the fixed camera plays its
    "world" and the board, which moves with the gripper, its "camera" (in synthetic tests with 0.3 px corner
    noise it was more accurate in translation than `calibrateHandEye` in its eye-to-hand form:
    bench/calibration_accuracy.py)."""
    _need_hand_eye()
    if len(T_base_gripper) != len(T_cam_board):
        raise CalibrationError(f"{len(T_base_gripper)} robot poses for {len(T_cam_board)} board poses")
    if len(T_base_gripper) < MIN_SAMPLES:
        raise CalibrationError(f"{len(T_base_gripper)} samples; at least {MIN_SAMPLES} varied poses are needed")
    spread, span = _rotation_axes_span([T[:3, :3] for T in T_base_gripper])
    if spread < 10.0:
        raise CalibrationError(f"the gripper orientations differ by at most {spread:.1f} deg: tilt the gripper "
                               "(>= 15 deg about two different axes) between samples")
    if span < 0.1:
        raise CalibrationError("every change of the gripper's orientation is about one axis: the camera's position "
                               "along it cannot be found; tilt the gripper about a second axis too")
    world2cam = [np.linalg.inv(T) for T in T_cam_board]        # the camera ("world") in the board ("cam")
    base2gripper = [np.linalg.inv(T) for T in T_base_gripper]
    R_bw, t_bw, R_gc, t_gc = cv2.calibrateRobotWorldHandEye(
        [T[:3, :3] for T in world2cam], [T[:3, 3] for T in world2cam],
        [T[:3, :3] for T in base2gripper], [T[:3, 3] for T in base2gripper])
    T_cam_base = np.eye(4)
    T_cam_base[:3, :3], T_cam_base[:3, 3] = R_bw, np.asarray(t_bw).reshape(3)
    T_board_gripper = np.eye(4)
    T_board_gripper[:3, :3], T_board_gripper[:3, 3] = R_gc, np.asarray(t_gc).reshape(3)
    return _result(np.linalg.inv(T_cam_base), np.linalg.inv(T_board_gripper), T_base_gripper, T_cam_board)


def _result(T_base_cam, T_gripper_board, T_base_gripper, T_cam_board, reprojection_px=None) -> HandEyeResult:
    """The solution with each sample's residual: its measured board pose against the one the solution predicts."""
    T_cam_base, res_m, res_deg = np.linalg.inv(T_base_cam), [], []
    for Tg, Tc in zip(T_base_gripper, T_cam_board):
        predicted = T_cam_base @ Tg @ T_gripper_board
        res_m.append(float(np.linalg.norm(predicted[:3, 3] - Tc[:3, 3])))
        res_deg.append(_angle_deg(predicted[:3, :3].T @ Tc[:3, :3]))
    return HandEyeResult(T_base_cam, T_gripper_board, res_m, res_deg, reprojection_px)


def _pose_vector(T: np.ndarray) -> np.ndarray:
    return np.concatenate([cv2.Rodrigues(np.ascontiguousarray(T[:3, :3]))[0].ravel(), T[:3, 3]])


def refine_reprojection(result: HandEyeResult, T_base_gripper: list[np.ndarray], detections: list[BoardDetection],
                        K: np.ndarray, dist=None) -> HandEyeResult:
    """Both unknowns (camera in the base, board on the gripper) adjusted together to minimise the
    reprojection error of every detected corner in every view, starting from the closed-form `result`
    (its pose-space solve weighs each view's PnP pose, whose depth is its least certain part; the corners
    carry the information itself). Robust (Huber, 1 px) so a few misplaced corners do not pull it."""
    if any(d.object_points is None for d in detections):
        raise CalibrationError("refinement needs the detected corners of every view (detect_board gives them)")
    K = np.asarray(K, dtype=np.float64)
    dist = np.zeros(5) if dist is None else np.asarray(dist, dtype=np.float64)
    obj = [d.object_points for d in detections]
    img = np.concatenate([d.image_points for d in detections]).ravel()

    def residuals(x):
        T_cam_base, T_gripper_board = pose_matrix(x[:3], x[3:6]), pose_matrix(x[6:9], x[9:])
        proj = []
        for Tg, o in zip(T_base_gripper, obj):
            T = T_cam_base @ Tg @ T_gripper_board
            proj.append(cv2.projectPoints(o, cv2.Rodrigues(T[:3, :3])[0], T[:3, 3], K, dist)[0].reshape(-1))
        return np.concatenate(proj) - img

    x0 = np.concatenate([_pose_vector(np.linalg.inv(result.T_base_cam)), _pose_vector(result.T_gripper_board)])
    fit = least_squares(residuals, x0, loss="huber", f_scale=1.0, x_scale="jac")
    if not fit.success:
        raise CalibrationError(f"the reprojection refinement did not converge: {fit.message}")
    rms = float(np.sqrt(np.mean(fit.fun.reshape(-1, 2) ** 2) * 2))
    return _result(np.linalg.inv(pose_matrix(fit.x[:3], fit.x[3:6])), pose_matrix(fit.x[6:9], fit.x[9:]),
                   T_base_gripper, [d.T_cam_board for d in detections], rms)


# a sample whose board pose the result predicts worse than this is a bad detection or a wrong joint state
MAX_RESIDUAL_M, MAX_RESIDUAL_DEG = 0.01, 2.0


def solve_robust(T_base_gripper: list[np.ndarray], detections: list[BoardDetection], K=None, dist=None,
                 max_dropped: float = 0.25) -> tuple[HandEyeResult, list[int]]:
    """`solve_eye_to_hand`, then drop the sample the solution disagrees with most while it exceeds the
    residual limits (a misdetected board: PnP's mirror solution, a blurred frame), at most `max_dropped` of
    them, re-solving each time; then, with the camera matrix `K`, `refine_reprojection` over the views kept.
    `detections` are `detect_board` results (or bare T_cam_board matrices: no refinement). Returns the result
    and the indices dropped; `check_residuals` still judges it."""
    T_cam_board = [d if isinstance(d, np.ndarray) else d.T_cam_board for d in detections]
    keep = list(range(len(T_base_gripper)))
    dropped: list[int] = []
    while True:
        result = solve_eye_to_hand([T_base_gripper[i] for i in keep], [T_cam_board[i] for i in keep])
        worst = int(np.argmax([m / MAX_RESIDUAL_M + d / MAX_RESIDUAL_DEG
                               for m, d in zip(result.residual_m, result.residual_deg)]))
        bad = result.residual_m[worst] > MAX_RESIDUAL_M or result.residual_deg[worst] > MAX_RESIDUAL_DEG
        if not bad or len(dropped) + 1 > max_dropped * len(T_base_gripper) or len(keep) <= MIN_SAMPLES:
            break
        dropped.append(keep.pop(worst))
    if K is not None:
        result = refine_reprojection(result, [T_base_gripper[i] for i in keep], [detections[i] for i in keep], K, dist)
    return result, dropped


def check_residuals(result: HandEyeResult) -> None:
    bad = [i for i, (m, d) in enumerate(zip(result.residual_m, result.residual_deg))
           if m > MAX_RESIDUAL_M or d > MAX_RESIDUAL_DEG]
    if bad:
        raise CalibrationError(f"samples {bad} disagree with the solution by more than {MAX_RESIDUAL_M * 1e3:.0f} mm / "
                               f"{MAX_RESIDUAL_DEG:g} deg ({result.summary()}): a misdetected board, a board that "
                               "slipped on the gripper, or joint states not matching the image; drop them and "
                               "calibrate again. Nothing was written")


def write_extrinsics(path: str | Path, T_base_cam: np.ndarray, note: str = "", parent_frame: str = "panda_link0",
                     child_frame: str = "camera_color_optical_frame") -> Path:
    """The result in the camera_extrinsics.yaml format (aac_robot.camera.CameraExtrinsics.from_yaml)."""
    path = Path(path)
    if path.exists():   # a calibration never replaces one that may be in use: the user renames it on purpose
        raise CalibrationError(f"{path} exists: not overwritten; write the new result to another file")
    q = matrix_to_quat(T_base_cam[:3, :3])
    body = {"parent_frame": parent_frame, "child_frame": child_frame,
            "translation": [round(float(v), 6) for v in T_base_cam[:3, 3]],
            "rotation_xyzw": [round(float(v), 9) for v in q]}
    header = "# Camera pose from aac_driver.calibration (eye-to-hand: OpenCV calibrateRobotWorldHandEye, then " \
             "reprojection refinement)\n"
    header += "".join(f"# {line}\n" for line in note.splitlines() if line)
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    return path
