"""aac_driver's RealSense path on the real SDK: a librealsense software device feeds synthetic frames.

The frames go through the same pyrealsense2 objects as with a camera (pipeline, syncer, rs.align,
depth_units option); only the sensor is software. The node runs in-process and a second node
subscribes over Fast DDS.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

try:
    import pyrealsense2 as rs
except ImportError as exc:   # e.g. "libusb-1.0.so.0: cannot open shared object file" without libusb-1.0-0
    pytest.skip(f"pyrealsense2 cannot be imported: {exc}", allow_module_level=True)

from aac_driver.realsense_source import (FrameTimeout, NoDeviceError, ProfileUnsupportedError, RealSenseError,
                                         RealSenseSource, SoftwareCamera, depth_to_mm)
from aac_robot.camera import CameraIntrinsics

W, H = 64, 48
INTR = CameraIntrinsics(width=W, height=H, fx=50.25, fy=51.5, cx=31.5, cy=23.75)   # float32-exact values


def pattern(scale: float):
    """A colour pattern and depth in device units: blocks at 0.5 / 0.8 / 1.2345 m, a hole, edge values."""
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 4, y * 5, (x + y) % 256], axis=-1).astype(np.uint8)
    metres = np.where(x < 20, 0.5, np.where(x < 44, 0.8, 1.2345))
    units = np.rint(metres / scale).astype(np.uint16)
    units[10:20, 24:36] = 0                      # no reading
    return rgb, units


class Feeder:
    """Pushes the same pair into a SoftwareCamera at ~30 Hz from a thread (like a streaming camera)."""

    def __init__(self, cam, rgb, depth, period=1 / 30):
        self.cam, self.rgb, self.depth, self.period = cam, rgb, depth, period
        self.stop_evt, self.paused = threading.Event(), threading.Event()

    def _run(self):
        while not self.stop_evt.is_set():
            if not self.paused.is_set():
                self.cam.push(self.rgb, self.depth)
            time.sleep(self.period)

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_evt.set()
        self.thread.join(5)


# ---------------------------------------------------------------------- units
def test_depth_to_mm_units():
    raw = np.array([0, 1, 4, 5, 999, 1000, 12345, 65535], np.uint16)
    np.testing.assert_array_equal(depth_to_mm(raw, np.float32(0.001)), raw)
    # 0.0001 m units (D405), reported by the SDK as float32 9.99999974738e-05: /10, half up, 0 stays 0
    np.testing.assert_array_equal(depth_to_mm(raw, float(np.float32(0.0001))),
                                  [0, 0, 0, 1, 100, 100, 1235, 6554])
    np.testing.assert_array_equal(depth_to_mm(raw, 0.00025), [0, 0, 1, 1, 250, 250, 3086, 16384])
    # 1 cm units: 65535 units = 655 m does not fit uint16 mm -> no reading
    np.testing.assert_array_equal(depth_to_mm(raw, 0.01), [0, 10, 40, 50, 9990, 10000, 0, 0])
    with pytest.raises(RealSenseError, match="uint16"):
        depth_to_mm(raw.astype(np.int32), 0.001)


# ---------------------------------------------------------------------- source on the software device
@pytest.mark.parametrize("scale", [0.001, 0.0001])
def test_source_unaligned_equals_injected(scale):
    """Through the real SDK pipeline without align: colour and converted depth are exactly what was pushed."""
    cam = SoftwareCamera(INTR, depth_scale=scale)
    rgb, units = pattern(scale)
    with RealSenseSource.from_software_camera(cam, align_depth=False, timeout_ms=2000) as src, \
            Feeder(cam, rgb, units):
        assert src.depth_scale == pytest.approx(scale, rel=1e-6)
        frame = src.read()
    assert frame.rgb.dtype == np.uint8 and frame.rgb.shape == (H, W, 3)
    assert frame.depth_mm.dtype == np.uint16 and frame.depth_mm.shape == (H, W)
    np.testing.assert_array_equal(frame.rgb, rgb)
    # device units -> mm: 1 mm units are copied; 0.1 mm units divide by 10, half up (12345 -> 1235); 0 stays 0
    to_mm = {0.001: {0: 0, 500: 500, 800: 800, 1234: 1234}, 0.0001: {0: 0, 5000: 500, 8000: 800, 12345: 1235}}[scale]
    assert set(np.unique(units).tolist()) == set(to_mm)
    np.testing.assert_array_equal(frame.depth_mm, np.vectorize(to_mm.get)(units).astype(np.uint16))


@pytest.mark.parametrize("scale", [0.001, 0.0001])
def test_source_aligned_depth_and_intrinsics(scale):
    """Aligned (the node's path): colour exact, depth in mm on the colour grid, intrinsics as registered."""
    cam = SoftwareCamera(INTR, depth_scale=scale, serial_no="sw-123")
    rgb, units = pattern(scale)
    with RealSenseSource.from_software_camera(cam, timeout_ms=2000) as src, Feeder(cam, rgb, units):
        frames = [src.read() for _ in range(3)]
    assert src.intrinsics == INTR.__class__(width=W, height=H, fx=50.25, fy=51.5, cx=31.5, cy=23.75,
                                            camera_model="realsense Software RealSense")
    assert src.device_serial == "sw-123" and src.distortion == ("brown_conrady", (0.0,) * 5)
    expected = depth_to_mm(units, scale)
    for frame in frames:
        assert frame.timestamp_domain == "system_time" and frame.timestamp_ms > 0
        np.testing.assert_array_equal(frame.rgb, rgb)
        d = frame.depth_mm
        assert d.dtype == np.uint16 and d.shape == (H, W)
        # identical geometry: rs.align maps every depth pixel onto itself, up to its sub-pixel rounding
        # (a depth pixel's corners land within +-1 px; the SDK leaves occasional 1-px holes)
        assert (d == expected).mean() > 0.85
        pad = np.pad(expected, 1)
        near = np.stack([pad[1 + dy:1 + dy + H, 1 + dx:1 + dx + W] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
        assert ((d == 0) | (near == d).any(axis=0)).all(), "aligned depth holds values not injected nearby"
        assert (d[11:19, 25:35] == 0).all()                # the no-reading block stays 0 inside
        assert set(np.unique(d)) <= set(np.unique(expected))
    assert [f.frame_number for f in frames] == sorted({f.frame_number for f in frames})


def test_source_align_moves_depth_into_the_colour_frame():
    """With a 2 cm depth->colour baseline a depth edge at 0.5 m moves fx * 0.02 / 0.5 = 2 px (rs.align at work)."""
    cam = SoftwareCamera(INTR, depth_scale=0.001, depth_to_color_translation_m=(0.02, 0.0, 0.0))
    units = np.zeros((H, W), np.uint16)
    units[:, 20:40] = 500
    with RealSenseSource.from_software_camera(cam, timeout_ms=2000) as src, \
            Feeder(cam, np.zeros((H, W, 3), np.uint8), units):
        d = src.read().depth_mm
    cols = np.flatnonzero((d[H // 2 - 5:H // 2 + 5] == 500).mean(axis=0) > 0.5)
    shift = 50.25 * 0.02 / 0.5
    assert abs(cols[0] - (20 + shift)) <= 1 and abs(cols[-1] - (39 + shift)) <= 1, cols


def test_source_errors():
    cam = SoftwareCamera(INTR)
    with pytest.raises(ProfileUnsupportedError, match=r"colour rgb8 1280x720@30 \(this device offers: 64x48@30\)"):
        RealSenseSource.from_software_camera(cam, width=1280, height=720).start()
    with pytest.raises(ProfileUnsupportedError, match=r"depth z16 64x48@15"):
        RealSenseSource.from_software_camera(cam, fps=15).start()
    with RealSenseSource.from_software_camera(cam, timeout_ms=150) as src:   # nothing pushed
        t0 = time.monotonic()
        with pytest.raises(FrameTimeout, match="within 150 ms"):
            src.read()
        assert time.monotonic() - t0 < 2.0
    with pytest.raises(RealSenseError, match="width must be a positive integer"):
        RealSenseSource(width=0)


def test_source_no_device():
    if rs.context().query_devices().size():
        pytest.skip("a RealSense camera is connected")
    with pytest.raises(NoDeviceError, match="no RealSense device found"):
        RealSenseSource().start()
    with pytest.raises(NoDeviceError):
        RealSenseSource(serial_no="123456789").start()


# ---------------------------------------------------------------------- the ROS node
def test_node_without_camera_exits_with_a_clear_message():
    if rs.context().query_devices().size():
        pytest.skip("a RealSense camera is connected")
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root / "src" / p) for p in ("aac_driver", "aac_sim")] + [os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "aac_driver.realsense_node", "--ros-args", "-p", "serial_no:=_0123",
                           "-r", "__ns:=/rs_nodev"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "aac_realsense_node: no RealSense device found" in proc.stdout + proc.stderr


class Recording:
    """Wraps a source and keeps what read() returned, so published messages can be compared exactly."""

    def __init__(self, source):
        self.source, self.frames = source, []

    def __getattr__(self, name):
        return getattr(self.source, name)

    def read(self, timeout_ms=None):
        frame = self.source.read(timeout_ms)
        self.frames.append(frame)
        return frame


def test_node_publishes_realsense_topics():
    from ros_helpers import Spinning, wait_for   # skips without rclpy

    from rclpy.parameter import Parameter
    from sensor_msgs.msg import CameraInfo, Image

    from aac_driver.realsense_node import RealSenseNode
    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import image_to_depth_mm, image_to_rgb, ns_from_stamp

    intr = CameraIntrinsics.from_yaml()            # the D435 640x480 model, i.e. the node's defaults
    cam = SoftwareCamera(intr, depth_scale=0.0001)
    y, x = np.mgrid[0:intr.height, 0:intr.width]
    rgb = np.stack([x % 256, y % 256, (x // 3) % 256], axis=-1).astype(np.uint8)
    units = np.full((intr.height, intr.width), 8000, np.uint16)
    units[:, 320:] = 12345
    units[100:200, 100:200] = 0
    base = "/rs_test/" + ri.DEFAULT_CAMERA_NAMESPACE
    topics = {f"{base}/{ri.COLOR_IMAGE}": Image, f"{base}/{ri.COLOR_INFO}": CameraInfo,
              f"{base}/{ri.DEPTH_IMAGE}": Image, f"{base}/{ri.DEPTH_INFO}": CameraInfo}
    got = {t: [] for t in topics}

    with Spinning("rs_test_client") as client:
        for topic, typ in topics.items():
            client.create_subscription(typ, topic, lambda m, t=topic: got[t].append(m), 50)
        source = Recording(RealSenseSource.from_software_camera(cam, timeout_ms=2000))
        t_start = time.time_ns()
        node = RealSenseNode(source, namespace="rs_test", parameter_overrides=[
            Parameter("frame_timeout_ms", value=200), Parameter("serial_no", value=1234)])
        try:
            assert node.params["serial_no"] == "1234"         # a numeric serial given on the command line
            with Feeder(cam, rgb, units) as feeder:
                wait_for(lambda: all(len(v) >= 5 for v in got.values()), 30, "5 messages on every topic")
                # the camera stops: timeouts are counted and logged, the node keeps going
                feeder.paused.set()
                time.sleep(0.3)
                wait_for(lambda: node.timeouts >= 2, 10, "frame timeouts to be counted")
                assert node._thread.is_alive()
                n_before = len(got[f"{base}/{ri.COLOR_IMAGE}"])
                feeder.paused.clear()
                wait_for(lambda: len(got[f"{base}/{ri.COLOR_IMAGE}"]) >= n_before + 3, 30, "publishing to resume")
        finally:
            node.destroy_node()
        t_end = time.time_ns()
        time.sleep(0.2)

    assert not source.started
    color, depth = got[f"{base}/{ri.COLOR_IMAGE}"], got[f"{base}/{ri.DEPTH_IMAGE}"]
    cinfo, dinfo = got[f"{base}/{ri.COLOR_INFO}"], got[f"{base}/{ri.DEPTH_INFO}"]
    assert node.published >= len(color) >= 8
    k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    for msg in color:
        assert (msg.encoding, msg.width, msg.height, msg.step) == ("rgb8", 640, 480, 640 * 3)
    for msg in depth:
        assert (msg.encoding, msg.width, msg.height, msg.step) == ("16UC1", 640, 480, 640 * 2)
    for msg in cinfo + dinfo:
        assert (msg.width, msg.height) == (640, 480)
        assert list(msg.k) == pytest.approx(k)
    for msg in color + depth + cinfo + dinfo:
        assert msg.header.frame_id == ri.COLOR_OPTICAL_FRAME == "camera_color_optical_frame"
        assert t_start <= ns_from_stamp(msg.header.stamp) <= t_end
    # one stamp per frame pair on all four topics, increasing
    stamps = [ns_from_stamp(m.header.stamp) for m in color]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    by_stamp = {ns_from_stamp(m.header.stamp) for m in depth} & {ns_from_stamp(m.header.stamp) for m in cinfo}
    assert len(by_stamp & set(stamps)) >= len(color) - 2
    # the published pixels are exactly the source's frames (same order; DDS may drop none here)
    frames = source.frames[:len(color)]
    for msg, frame in zip(color, frames):
        np.testing.assert_array_equal(image_to_rgb(msg), frame.rgb)
        np.testing.assert_array_equal(image_to_rgb(msg), rgb)
    for msg, frame in zip(depth, frames):
        d = image_to_depth_mm(msg)
        np.testing.assert_array_equal(d, frame.depth_mm)
        assert set(np.unique(d)) <= {0, 800, 1235}                 # 0.1 mm units -> mm (12345 -> 1235)
        assert (d[105:195, 105:195] == 0).all() and (d == depth_to_mm(units, 0.0001)).mean() > 0.85
