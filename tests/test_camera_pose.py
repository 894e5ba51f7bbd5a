"""The camera-pose check: a calibrated camera pose vs the pose and randomization an actor was trained with."""
import math

import numpy as np
import pytest

from aac_driver.camera_pose import check_pose, matrix_to_axis_angle, pose_difference
from aac_robot.camera import CameraExtrinsics, axis_angle_to_matrix

TRAINED = CameraExtrinsics.from_yaml()


def spec(range_m=0.02, range_deg=2.0):
    cam = {"extrinsics": {"translation": list(TRAINED.translation), "rotation_xyzw": list(TRAINED.rotation_xyzw),
                          "parent_frame": TRAINED.parent_frame, "child_frame": TRAINED.child_frame}}
    if range_m is not None:
        cam["pose_range"] = {"position_m": range_m, "rotation_deg": range_deg, "focal_rel": 0.03}
    return {"camera": cam}


def test_pose_difference_inverts_the_sims_perturbation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        dpos, drot = rng.uniform(-0.05, 0.05, 3), rng.uniform(-0.1, 0.1, 3)
        got_pos, got_rot = pose_difference(TRAINED, TRAINED.perturbed(dpos, drot))
        np.testing.assert_allclose(got_pos, dpos, atol=1e-12)
        np.testing.assert_allclose(got_rot, drot, atol=1e-9)
    for v in ([0, 0, math.pi], [math.pi / math.sqrt(2), math.pi / math.sqrt(2), 0]):   # 180 degrees
        R = axis_angle_to_matrix(v)
        np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_axis_angle(R)), R, atol=1e-9)


def test_inside_near_the_edge_outside_and_unknown():
    ok = check_pose(spec(), TRAINED.perturbed([0.005, -0.004, 0.0], np.radians([0.5, 0.0, -0.3])))
    assert ok.status == "inside" and ok.distance_m == pytest.approx(math.hypot(0.005, 0.004))
    assert "+0.5" in ok.describe() and "trained range +-2.0 cm / +-2.0 deg" in ok.describe()
    edge = check_pose(spec(), TRAINED.perturbed([0.018, 0.0, 0.0], [0, 0, 0]))
    assert edge.status == "near_edge"
    far = check_pose(spec(), TRAINED.perturbed([0.0, 0.0, 0.0], np.radians([0.0, 3.0, 0.0])))
    assert far.status == "outside" and far.angle_deg == pytest.approx(3.0) and far.drot_deg[1] == pytest.approx(3.0)
    assert check_pose(spec(), TRAINED.perturbed([0.0, 0.03, 0.0], [0, 0, 0])).status == "outside"
    assert check_pose(spec(None), TRAINED).status == "unknown_range"
    with pytest.raises(ValueError, match="base frame"):
        check_pose(spec(), CameraExtrinsics(TRAINED.translation, TRAINED.rotation_xyzw, parent_frame="world"))
    with pytest.raises(ValueError, match="no camera pose"):
        check_pose({"camera": None}, TRAINED)
