"""Eye-to-hand calibration with OpenCV: the board detector and PnP on a synthetic camera image, and the
hand-eye solve recovering a known camera pose from noisy detections; the YAML the sim and preflight read."""
import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from aac_driver import calibration as cal
from aac_driver.camera_pose import check_pose
from aac_robot.camera import CameraExtrinsics, CameraIntrinsics, axis_angle_to_matrix

D435 = CameraIntrinsics.from_yaml()
_spec = importlib.util.spec_from_file_location(
    "calibration_accuracy", Path(__file__).resolve().parents[1] / "bench" / "calibration_accuracy.py")
BENCH = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(BENCH)   # the sim calibration the benchmark sweeps (one seed here)
K = D435.K
TRUE = CameraExtrinsics.from_yaml().matrix()          # the camera in the base: what calibration must find
T_GRIPPER_BOARD = np.eye(4)                           # the board on the hand: 6 cm below the flange, tilted
T_GRIPPER_BOARD[:3, :3] = axis_angle_to_matrix([0.4, -0.2, 0.1])
T_GRIPPER_BOARD[:3, 3] = [0.02, -0.03, 0.06]


def board_poses(n, seed=0):
    """Board poses in the camera (facing it, 0.5-0.75 m away, tilted up to ~30 deg) and the gripper poses
    in the base that put it there."""
    rng = np.random.default_rng(seed)
    w, h = cal.BOARD_SQUARES
    centre = np.array([w * cal.BOARD_SQUARE_M / 2, h * cal.BOARD_SQUARE_M / 2, 0.0])   # in the board frame
    out = []
    for _ in range(n):
        T = np.eye(4)
        T[:3, :3] = axis_angle_to_matrix(rng.uniform(-0.6, 0.6, 3))
        T[:3, 3] = np.array([rng.uniform(-0.08, 0.08), rng.uniform(-0.06, 0.06), rng.uniform(0.5, 0.75)]) \
            - T[:3, :3] @ centre
        out.append((TRUE @ T @ np.linalg.inv(T_GRIPPER_BOARD), T))
    return out


def error(T_a, T_b):
    R = T_a[:3, :3].T @ T_b[:3, :3]
    return np.linalg.norm(T_a[:3, 3] - T_b[:3, 3]), math.degrees(math.acos(np.clip((np.trace(R) - 1) / 2, -1, 1)))


def test_hand_eye_recovers_the_camera_pose_from_noisy_corner_detections(tmp_path):
    board = cal.make_board()
    obj = board.getChessboardCorners().astype(np.float64)
    rng = np.random.default_rng(1)
    grippers, boards = [], []
    for T_bg, T_cb in board_poses(20):
        rvec, _ = cv2.Rodrigues(T_cb[:3, :3])
        img, _ = cv2.projectPoints(obj, rvec, T_cb[:3, 3], K, np.zeros(5))
        img = img.reshape(-1, 2) + rng.normal(0, 0.3, (len(obj), 2))      # 0.3 px corner noise
        ok, r, t = cv2.solvePnP(obj, img, K, np.zeros(5))
        assert ok
        grippers.append(T_bg)
        boards.append(cal.pose_matrix(r, t))
    result = cal.solve_eye_to_hand(grippers, boards)
    dpos, dang = error(result.T_base_cam, TRUE)
    print(f"recovered camera pose: {dpos * 1e3:.2f} mm, {dang:.3f} deg off; {result.summary()}")
    assert dpos < 0.005 and dang < 0.5          # issue 23's target, from <= 20 poses
    cal.check_residuals(result)
    assert error(result.T_gripper_board, T_GRIPPER_BOARD)[0] < 0.01
    # written in the camera_extrinsics.yaml format: read back by the sim's loader, inside the trained range
    path = cal.write_extrinsics(tmp_path / "calibrated.yaml", result.T_base_cam, note=result.summary())
    back = CameraExtrinsics.from_yaml(path)
    assert error(back.matrix(), result.T_base_cam)[0] < 1e-6
    trained = CameraExtrinsics.from_yaml()
    spec = {"camera": {"extrinsics": {"translation": list(trained.translation),
                                      "rotation_xyzw": list(trained.rotation_xyzw)},
                       "pose_range": {"position_m": 0.02, "rotation_deg": 2.0}}}
    assert check_pose(spec, back).status == "inside"
    with pytest.raises(cal.CalibrationError, match="not overwritten"):
        cal.write_extrinsics(path, TRUE)
    # one sample with a wrong joint state: the solution disagrees with it, nothing is written
    grippers[3] = grippers[3] @ np.diag([1.0, 1.0, 1.0, 1.0])
    grippers[3][:3, 3] += [0.0, 0.0, 0.05]
    with pytest.raises(cal.CalibrationError, match=r"samples \[.*3.*\] disagree"):
        cal.check_residuals(cal.solve_eye_to_hand(grippers, boards))


def _views(n, noise_px, seed):
    """n (gripper in base, detection) samples with `noise_px` Gaussian corner noise, PnP per view."""
    obj = cal.make_board().getChessboardCorners().astype(np.float64)
    rng = np.random.default_rng(seed)
    grippers, found = [], []
    for T_bg, T_cb in board_poses(n, seed=seed):
        rvec, _ = cv2.Rodrigues(T_cb[:3, :3])
        img, _ = cv2.projectPoints(obj, rvec, T_cb[:3, 3], K, np.zeros(5))
        img = img.reshape(-1, 2) + rng.normal(0, noise_px, (len(obj), 2))
        ok, r, t = cv2.solvePnP(obj, img, K, np.zeros(5))
        grippers.append(T_bg)
        found.append(cal.BoardDetection(cal.pose_matrix(r, t), len(obj), noise_px, obj, img))
    return grippers, found


def test_reprojection_refinement_beats_the_closed_form_and_shrugs_off_bad_corners():
    """10 poses with 0.6 px corner noise: the closed form alone misses 5 mm / 0.5 deg on some seeds; the
    bundle adjustment over the corners meets it on every seed, also with a few corners 15 px off."""
    closed, refined = [], []
    for seed in range(8):
        grippers, found = _views(10, 0.6, seed)
        if seed % 2:   # three corners of one view misdetected by 15 px (the pose of that view is kept)
            bad = found[4].image_points.copy()
            bad[:3] += 15.0
            found[4] = cal.BoardDetection(found[4].T_cam_board, found[4].corners, 0.6, found[4].object_points, bad)
        first = cal.solve_eye_to_hand(grippers, [f.T_cam_board for f in found])
        closed.append(error(first.T_base_cam, TRUE))
        result, dropped = cal.solve_robust(grippers, found, K)
        refined.append(error(result.T_base_cam, TRUE))
        assert result.reprojection_px is not None and result.reprojection_px < 3.0
    closed, refined = np.array(closed), np.array(refined)
    print(f"worst closed form {closed[:, 0].max() * 1e3:.2f} mm / {closed[:, 1].max():.3f} deg, "
          f"refined {refined[:, 0].max() * 1e3:.2f} mm / {refined[:, 1].max():.3f} deg")
    assert (refined[:, 0] < 0.005).all() and (refined[:, 1] < 0.5).all()
    assert refined[:, 0].mean() < 0.5 * closed[:, 0].mean() and refined[:, 1].mean() < 0.5 * closed[:, 1].mean()
    with pytest.raises(cal.CalibrationError, match="corners"):   # poses alone cannot be refined
        cal.refine_reprojection(first, grippers, [cal.BoardDetection(f.T_cam_board, 1, 0.0) for f in found], K)


def test_too_few_or_too_similar_poses_are_refused():
    poses = board_poses(8)
    with pytest.raises(cal.CalibrationError, match="at least"):
        cal.solve_eye_to_hand([g for g, _ in poses[:3]], [b for _, b in poses[:3]])
    same = [poses[0][0]] * 6
    with pytest.raises(cal.CalibrationError, match="tilt the gripper"):
        cal.solve_eye_to_hand(same, [b for _, b in poses[:6]])
    about_z = []                                      # all about one axis: degenerate
    for angle in np.radians([0, 20, 40, 60, 80, 100]):
        T = poses[0][0].copy()
        T[:3, :3] = T[:3, :3] @ axis_angle_to_matrix([0, 0, angle])
        about_z.append(T)
    with pytest.raises(cal.CalibrationError, match="about one axis"):
        cal.solve_eye_to_hand(about_z, [b for _, b in poses[:6]])


def test_detector_and_pnp_on_a_synthetic_camera_image():
    """The printed board seen by a 640x480 camera (a perspective warp of the generated board image):
    the ChArUco detector and PnP give its pose within a few millimetres."""
    board, px = cal.make_board(), 80
    texture = cal.board_image(board, px_per_square=px)
    s = cal.BOARD_SQUARE_M / px                      # metres per board-image pixel
    for _, T_cb in board_poses(4, seed=3):
        H = K @ np.column_stack([T_cb[:3, 0] * s, T_cb[:3, 1] * s, T_cb[:3, 3]])   # board plane z = 0
        frame = cv2.warpPerspective(texture, H / H[2, 2], (D435.width, D435.height), flags=cv2.INTER_LINEAR,
                                    borderValue=128)
        found = cal.detect_board(frame, K)
        assert found is not None and found.corners >= 12 and found.reprojection_px < 1.0
        dpos, dang = error(found.T_cam_board, T_cb)
        assert dpos < 0.005 and dang < 1.0, (dpos, dang)
    assert cal.detect_board(np.full((480, 640), 128, np.uint8), K) is None


def test_calibration_in_the_sim_recovers_the_randomized_camera_pose():
    """End to end in the simulator (issue 23's target: within 5 mm and 0.5 deg from <= 20 poses), on a seed
    whose camera was moved by the randomization: the recovered pose is the jittered one, not the nominal."""
    result, truth, n, dropped = BENCH.sim_calibration(seed=0)
    dpos, dang = error(result.T_base_cam, truth)
    nominal = error(result.T_base_cam, TRUE)
    print(f"sim calibration: {n} views, dropped {dropped}: {dpos * 1e3:.2f} mm, {dang:.3f} deg from the truth; "
          f"the truth is {nominal[0] * 1e3:.1f} mm / {nominal[1]:.2f} deg from the nominal pose; {result.summary()}")
    assert n == 20 and dpos < 0.005 and dang < 0.5
    assert nominal[0] > 2 * dpos or nominal[1] > 2 * dang   # it found this episode's camera, not the default
    cal.check_residuals(result)
