"""Camera model: YAML loading, projection geometry, and that the sim's direct low-res render equals
the real path (full camera frame -> shared crop+resize)."""
import dataclasses

import numpy as np
import pybullet as p
import pytest

from aac_robot.camera import (CameraConfigError, CameraExtrinsics, CameraIntrinsics, gl_projection_matrix,
                              gl_view_matrix, project_points)
from aac_sim.config import RandomizationConfig
from aac_sim.env import FAR_M, NEAR_M, AacPandaEnv
from aac_robot.preprocessing import CropResize, FrameError, metres_to_depth_mm

OFF = dataclasses.asdict(RandomizationConfig.off())


def render(env, intr):
    _, _, rgba, buf, _ = p.getCameraImage(intr.width, intr.height, gl_view_matrix(env.camera_extrinsics),
                                          gl_projection_matrix(intr, NEAR_M, FAR_M), renderer=p.ER_TINY_RENDERER,
                                          physicsClientId=env.client, **env._light)
    z = FAR_M * NEAR_M / (FAR_M - (FAR_M - NEAR_M) * np.asarray(buf).reshape(intr.height, intr.width))
    rgb = np.asarray(rgba, np.uint8).reshape(intr.height, intr.width, 4)[..., :3].copy()
    return rgb, metres_to_depth_mm(z, intr.depth_min_m, intr.depth_max_m)


@pytest.fixture(scope="module")
def env():
    e = AacPandaEnv(task="push", randomization=OFF)
    e.reset(seed=0)
    yield e
    e.close()


def test_marker_lands_on_projected_pixel_with_projected_depth(env):
    intr = env.policy_intrinsics
    point = np.array([0.55, 0.12, 0.10])
    vis = p.createVisualShape(p.GEOM_SPHERE, radius=0.012, rgbaColor=[0, 0, 1, 1], physicsClientId=env.client)
    body = p.createMultiBody(0, -1, vis, point.tolist(), physicsClientId=env.client)
    rgb, depth = render(env, intr)
    p.removeBody(body, physicsClientId=env.client)
    u, v, z = project_points(intr, env.camera_extrinsics, point[None])[0]
    ys, xs = np.nonzero((rgb[..., 2] > 150) & (rgb[..., 0] < 80) & (rgb[..., 1] < 80))
    assert xs.size > 0
    assert abs(xs.mean() - u) < 1.0 and abs(ys.mean() - v) < 1.0
    # sphere front surface is ~radius closer than its centre
    assert abs(depth[int(round(v)), int(round(u))] / 1000.0 - (z - 0.012)) < 0.006


def test_direct_low_res_render_matches_crop_resize_of_full_frame(env):
    raw = env.camera_intrinsics
    full_rgb, full_depth = render(env, raw)                 # what a 640x480 RealSense would give
    crop = env.crop
    real_rgb, real_depth = crop.rgb(full_rgb, raw), crop.depth(full_depth, raw)
    sim_rgb, sim_depth = render(env, crop.intrinsics(raw))  # what the sim renders for the policy
    assert real_rgb.shape == sim_rgb.shape == (84, 84, 3)
    d = np.abs(real_depth.astype(int) - sim_depth.astype(int))
    both = (real_depth > 0) & (sim_depth > 0)
    assert np.median(d) <= 1 and abs(np.mean(real_depth[both].astype(int) - sim_depth[both])) < 1.0
    assert (d <= 10).mean() > 0.95                            # differences only at silhouette edges
    assert np.abs(real_rgb.astype(int) - sim_rgb.astype(int)).mean() < 2


def test_crop_resize_rejects_bad_frames():
    raw = CameraIntrinsics.from_yaml()
    crop = CropResize.center_square(raw, 84)
    with pytest.raises(FrameError, match="uint8"):
        crop.rgb(np.zeros((480, 640, 3), np.float32), raw)
    with pytest.raises(FrameError, match="480x640x3"):
        crop.rgb(np.zeros((240, 320, 3), np.uint8), raw)
    with pytest.raises(FrameError, match="uint16"):
        crop.depth(np.zeros((480, 640), np.float32), raw)
    with pytest.raises(CameraConfigError, match="larger than"):
        CropResize.center_square(raw, 481)


def test_depth_mm_conversion_range_and_rounding():
    z = np.array([0.05, 0.1, 0.5004, 1.2345, 2.9999, 3.5, np.nan], np.float32)
    np.testing.assert_array_equal(metres_to_depth_mm(z, 0.1, 3.0), [0, 100, 500, 1235, 3000, 0, 0])


@pytest.mark.parametrize("text, match", [
    ("width: 640\nheight: 480\nfx: 600\nfy: 600\ncx: 320\n", "missing key"),
    ("width: 640\nheight: 480\nfx: 600\nfy: 600\ncx: 320\ncy: 240\nfoo: 1\n", "unknown key"),
    ("width: 640\nheight: 480\nfx: -1\nfy: 600\ncx: 320\ncy: 240\n", "fx must be > 0"),
    ("width: 640.5\nheight: 480\nfx: 600\nfy: 600\ncx: 320\ncy: 240\n", "integer"),
    ("width: [640\n", "not valid YAML"),
    ("- 1\n- 2\n", "mapping"),
])
def test_malformed_intrinsics_yaml(tmp_path, text, match):
    f = tmp_path / "cam.yaml"
    f.write_text(text)
    with pytest.raises(CameraConfigError, match=match):
        CameraIntrinsics.from_yaml(f)


def test_missing_and_bad_extrinsics(tmp_path):
    with pytest.raises(CameraConfigError, match="not found"):
        CameraIntrinsics.from_yaml(tmp_path / "nope.yaml")
    f = tmp_path / "ext.yaml"
    f.write_text("translation: [1, 0, 0.5]\nrotation_xyzw: [0, 0, 0, 2]\n")
    with pytest.raises(CameraConfigError, match="unit quaternion"):
        CameraExtrinsics.from_yaml(f)
    with pytest.raises(CameraConfigError, match="not found"):
        AacPandaEnv(task="reach", camera_extrinsics=str(tmp_path / "missing.yaml"))


def test_user_calibration_changes_the_view(tmp_path):
    f = tmp_path / "ext.yaml"
    ext = CameraExtrinsics.from_yaml().perturbed([0.0, 0.1, 0.0], [0.0, 0.0, 0.0])
    f.write_text(f"translation: {[float(v) for v in ext.translation]}\n"
                 f"rotation_xyzw: {[float(v) for v in ext.rotation_xyzw]}\n")
    a = AacPandaEnv(task="reach", randomization=OFF)
    b = AacPandaEnv(task="reach", randomization=OFF, camera_extrinsics=str(f))
    assert not np.array_equal(a.reset(seed=0)[0]["rgb"], b.reset(seed=0)[0]["rgb"])
    a.close(), b.close()


def test_native_camera_render_goes_through_the_deploy_crop_and_resize():
    """camera_render: native renders the 640x480 frame and crops + resizes it as the deploy path does;
    it sees the same scene as the direct policy-size render (same state, same seed), up to resampling:
    stated tolerances, edges differ most."""
    envs = {mode: AacPandaEnv(task="push", randomization=OFF, camera_render=mode) for mode in ("policy", "native")}
    try:
        obs = {mode: e.reset(seed=2)[0] for mode, e in envs.items()}
        for mode, e in envs.items():
            obs[mode], *_ = e.step(np.array([0.5, -0.3, -0.2, 1.0], np.float32))
        a, b = obs["policy"], obs["native"]
        assert a["rgb"].shape == b["rgb"].shape == (84, 84, 3) and b["depth"].dtype == np.uint16
        np.testing.assert_array_equal(a["state"], b["state"])
        d = np.abs(a["depth"].astype(int) - b["depth"].astype(int))
        assert np.median(d) <= 1 and (d <= 10).mean() > 0.95
        assert np.abs(a["rgb"].astype(int) - b["rgb"].astype(int)).mean() < 4.0
    finally:
        for e in envs.values():
            e.close()
    with pytest.raises(Exception, match="camera_render"):
        AacPandaEnv(task="push", camera_render="fisheye")
