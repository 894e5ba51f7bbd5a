"""Intel RealSense colour + aligned depth as numpy, straight from `pyrealsense2` (no rclpy, no realsense-ros).

`RealSenseSource` opens an SDK pipeline with one colour profile (rgb8) and one depth profile (z16) of
the same size and rate, aligns depth to colour with the SDK's `rs.align`, and returns
`RealSenseFrame`s: `rgb` HxWx3 uint8, `depth_mm` HxW uint16 millimetres (0 = no reading, the
RealSense convention used everywhere in this project), the SDK timestamp, and the colour stream's
intrinsics as `aac_robot.camera.CameraIntrinsics` (aligned depth shares them).

Depth units: a z16 pixel is `depth_scale` metres (D400: 0.001 by default, D405: 0.0001, settable with
the `depth_units` option). `depth_to_mm` converts with the scale the device reports: 0.001 is a copy,
0.0001 divides by 10 rounding half up, other scales round to the nearest mm; 0 stays 0 and readings
beyond 65535 mm become 0 (no reading).

`SoftwareCamera` is a librealsense *software device* (the SDK's own `rs.software_device`): frames you
inject with `push()` go through the real SDK pipeline, syncer and align, so the code path is the
one used with a camera (`RealSenseSource(device=cam.device)` attaches the pipeline to it with
`pipeline.set_device`). Tests use it; it also replays recorded data into anything built on
`RealSenseSource`.

pyrealsense2 (PyPI wheel) needs the system library libusb-1.0 (`apt-get install libusb-1.0-0`;
scripts/setup_env.sh installs it); the import error is reported with that hint.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from aac_robot.camera import CameraIntrinsics


class RealSenseError(RuntimeError):
    """The camera cannot be used: SDK missing, no device, unsupported profile, ..."""


class NoDeviceError(RealSenseError):
    """No RealSense device (or not the requested serial number) is connected."""


class ProfileUnsupportedError(RealSenseError):
    """The device does not offer the requested colour / depth stream profile."""


class FrameTimeout(RealSenseError):
    """No complete colour + depth frameset arrived within the timeout."""


def import_pyrealsense2():
    """The `pyrealsense2` module, or a RealSenseError that says why it cannot be loaded."""
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        hint = (" (the PyPI wheel needs the system library libusb-1.0: `sudo apt-get install libusb-1.0-0`,"
                " which scripts/setup_env.sh does)") if "libusb" in str(exc) else \
            " (pip install 'pyrealsense2==2.59.*', see requirements.txt)"
        raise RealSenseError(f"pyrealsense2 cannot be imported: {exc}{hint}") from exc
    return rs


# ---------------------------------------------------------------------- depth units
def depth_to_mm(raw: np.ndarray, depth_scale_m: float) -> np.ndarray:
    """z16 device units -> uint16 millimetres (0 stays 0; beyond 65535 mm -> 0 = no reading).

    The SDK reports the scale as float32 (0.0001 arrives as 9.99999974738e-05); it is snapped to 6
    significant digits first so that decimal scales convert exactly (0.001 -> copy, 0.0001 -> /10).
    """
    if not depth_scale_m > 0:
        raise RealSenseError(f"depth scale must be > 0 metres per unit, got {depth_scale_m}")
    raw = np.asarray(raw)
    if raw.dtype != np.uint16:
        raise RealSenseError(f"depth must be uint16 device units, got {raw.dtype}")
    mm_per_unit = float(f"{depth_scale_m * 1000.0:.6g}")
    if mm_per_unit == 1.0:
        return raw.copy()
    units_per_mm = 1.0 / mm_per_unit
    if mm_per_unit < 1.0 and abs(units_per_mm - round(units_per_mm)) < 1e-9:
        d = int(round(units_per_mm))                       # 0.0001 m -> 10 units per mm
        return ((raw.astype(np.uint32) + d // 2) // d).astype(np.uint16)
    mm = np.floor(raw.astype(np.float64) * mm_per_unit + 0.5)
    mm[mm > 65535] = 0
    return mm.astype(np.uint16)


# ---------------------------------------------------------------------- frames
@dataclass(frozen=True)
class RealSenseFrame:
    rgb: np.ndarray            # HxWx3 uint8
    depth_mm: np.ndarray       # HxW uint16 millimetres aligned to colour, 0 = no reading
    timestamp_ms: float        # SDK timestamp of the colour frame (milliseconds, see timestamp_domain)
    timestamp_domain: str      # "system_time", "global_time" or "hardware_clock"
    frame_number: int          # colour frame counter


def _profile_text(profiles) -> str:
    return ", ".join(f"{w}x{h}@{f}" for w, h, f in sorted(set(profiles), reverse=True)) or "none"


class RealSenseSource:
    """Colour + aligned depth from one RealSense device through the SDK pipeline.

    `serial_no=""` takes the first device found. `device=` attaches the pipeline to an existing SDK
    device instead of searching (e.g. `SoftwareCamera.device`). Use as a context manager or call
    `start()` / `stop()`; `read()` returns one `RealSenseFrame`, iterating yields them forever.
    """

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30, serial_no: str = "", *,
                 device=None, timeout_ms: int = 1000, align_depth: bool = True):
        for name, value in (("width", width), ("height", height), ("fps", fps), ("timeout_ms", timeout_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise RealSenseError(f"{name} must be a positive integer, got {value!r}")
        self.width, self.height, self.fps = width, height, fps
        self.serial_no = str(serial_no or "")
        self.timeout_ms = timeout_ms
        self.align_depth = align_depth   # False only where depth is already registered to colour (tests)
        self._device = device
        self._pipeline = None
        self._align = None
        self.intrinsics: CameraIntrinsics | None = None
        self.distortion: tuple[str, tuple[float, ...]] | None = None   # (SDK model name, coefficients)
        self.depth_scale: float | None = None                          # metres per z16 unit
        self.device_name = self.device_serial = ""

    @classmethod
    def from_software_camera(cls, camera: "SoftwareCamera", **kwargs) -> "RealSenseSource":
        kwargs.setdefault("width", camera.intrinsics.width)
        kwargs.setdefault("height", camera.intrinsics.height)
        kwargs.setdefault("fps", camera.fps)
        return cls(device=camera.device, **kwargs)

    # ------------------------------------------------------------------ open / close
    @property
    def started(self) -> bool:
        return self._pipeline is not None

    def describe(self) -> str:
        return f"{self.device_name or 'RealSense'} {self.device_serial or '(no serial)'}".strip()

    def _find_device(self, rs, ctx):
        devices = list(ctx.query_devices())
        serials = [d.get_info(rs.camera_info.serial_number) if d.supports(rs.camera_info.serial_number) else "?"
                   for d in devices]
        if not devices:
            raise NoDeviceError("no RealSense device found (the SDK lists none): is the camera plugged into a "
                                "USB 3 port, and are the librealsense udev rules installed "
                                "(99-realsense-libusb.rules) so this user may open it?")
        if not self.serial_no:
            return devices[0]
        for dev, serial in zip(devices, serials):
            if serial == self.serial_no:
                return dev
        raise NoDeviceError(f"no RealSense device with serial_no {self.serial_no!r}; connected: {serials}")

    def _check_profiles(self, rs, device) -> None:
        wanted = {rs.stream.color: (rs.format.rgb8, "colour rgb8"), rs.stream.depth: (rs.format.z16, "depth z16")}
        offered = {stream: [] for stream in wanted}
        for sensor in device.query_sensors():
            for p in sensor.get_stream_profiles():
                st = p.stream_type()
                if st in wanted and p.format() == wanted[st][0] and p.is_video_stream_profile():
                    vp = p.as_video_stream_profile()
                    offered[st].append((vp.width(), vp.height(), p.fps()))
        want = (self.width, self.height, self.fps)
        missing = [f"{wanted[st][1]} {self.width}x{self.height}@{self.fps} (this device offers: "
                   f"{_profile_text(offered[st])})" for st in wanted if want not in offered[st]]
        if missing:
            raise ProfileUnsupportedError(f"{self.describe()} does not support the requested profile: "
                                          + "; ".join(missing))

    def start(self) -> "RealSenseSource":
        if self.started:
            return self
        rs = import_pyrealsense2()
        ctx = rs.context()
        device = self._device if self._device is not None else self._find_device(rs, ctx)
        info = (lambda key: device.get_info(key) if device.supports(key) else "")
        self.device_name, self.device_serial = info(rs.camera_info.name), info(rs.camera_info.serial_number)
        self._check_profiles(rs, device)

        cfg = rs.config()
        pipeline = rs.pipeline(ctx)
        if self._device is not None:
            pipeline.set_device(device)        # the pipeline streams from this device object (software devices too)
        elif self.device_serial:
            cfg.enable_device(self.device_serial)
        cfg.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
        cfg.enable_stream(rs.stream.depth, self.width, self.height, rs.format.z16, self.fps)
        try:
            profile = pipeline.start(cfg)
        except RuntimeError as exc:
            raise RealSenseError(f"cannot start {self.describe()} with colour rgb8 + depth z16 "
                                 f"{self.width}x{self.height}@{self.fps}: {exc}") from exc
        try:
            color = profile.get_stream(rs.stream.color).as_video_stream_profile().get_intrinsics()
            self.intrinsics = CameraIntrinsics(width=int(color.width), height=int(color.height),
                                               fx=float(color.fx), fy=float(color.fy),
                                               cx=float(color.ppx), cy=float(color.ppy),
                                               camera_model=f"realsense {self.device_name}".strip())
            self.distortion = (str(color.model).split(".")[-1], tuple(float(c) for c in color.coeffs))
            self.depth_scale = float(profile.get_device().first_depth_sensor().get_depth_scale())
        except Exception:
            pipeline.stop()
            raise
        self._align = rs.align(rs.stream.color) if self.align_depth else None
        self._pipeline = pipeline
        return self

    def stop(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.stop()
            except RuntimeError:
                pass

    def __enter__(self) -> "RealSenseSource":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ frames
    def read(self, timeout_ms: int | None = None) -> RealSenseFrame:
        """The next colour + aligned depth pair; FrameTimeout if none arrives within the timeout."""
        if not self.started:
            raise RealSenseError("RealSenseSource.read() before start()")
        timeout_ms = self.timeout_ms if timeout_ms is None else int(timeout_ms)
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left_ms = max(1, int((deadline - time.monotonic()) * 1000))
            ok, frames = self._pipeline.try_wait_for_frames(left_ms)
            if ok:
                if self._align is not None:
                    frames = self._align.process(frames)
                color, depth = frames.get_color_frame(), frames.get_depth_frame()
                if color and depth:
                    # copies: the SDK's frame pool is released at once (holding frames stalls the pipeline)
                    rgb = np.array(color.get_data(), dtype=np.uint8, copy=True).reshape(self.height, self.width, 3)
                    raw = np.asanyarray(depth.get_data())
                    return RealSenseFrame(
                        rgb=rgb, depth_mm=depth_to_mm(raw.reshape(self.height, self.width), self.depth_scale),
                        timestamp_ms=float(color.get_timestamp()),
                        timestamp_domain=str(color.get_frame_timestamp_domain()).split(".")[-1],
                        frame_number=int(color.get_frame_number()))
            if time.monotonic() >= deadline:
                raise FrameTimeout(f"no colour + depth frameset from {self.describe()} within {timeout_ms} ms "
                                   f"(camera unplugged, USB bandwidth, or the device stopped streaming)")

    def __iter__(self):
        while True:
            yield self.read()


# ---------------------------------------------------------------------- software device
class SoftwareCamera:
    """A librealsense software device with a colour (rgb8) and a depth (z16) sensor.

    Built from the SDK's own objects (`rs.software_device`, `software_sensor.add_video_stream`,
    the `depth_units` option, registered depth->colour extrinsics, the depth/colour matcher);
    `push()` injects one colour + depth pair with `on_video_frame`. Depth uses the colour
    intrinsics unless `depth_intrinsics` is given (same size: RealSenseSource asks for one size);
    the depth->colour extrinsics are identity rotation + `depth_to_color_translation_m`.
    """

    def __init__(self, intrinsics: CameraIntrinsics, depth_scale: float = 0.001, fps: int = 30, *,
                 depth_intrinsics: CameraIntrinsics | None = None,
                 depth_to_color_translation_m=(0.0, 0.0, 0.0),
                 serial_no: str = "software-0", name: str = "Software RealSense"):
        rs = import_pyrealsense2()
        self.rs, self.intrinsics, self.fps, self.depth_scale = rs, intrinsics, int(fps), float(depth_scale)
        self.depth_intrinsics = depth_intrinsics or intrinsics
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.name, name)
        self.device.register_info(rs.camera_info.serial_number, serial_no)
        self._depth_sensor = self.device.add_sensor("Stereo Module")
        self._color_sensor = self.device.add_sensor("RGB Camera")
        self._depth_profile = self._depth_sensor.add_video_stream(
            self._stream(rs.stream.depth, 0, self.depth_intrinsics, 2, rs.format.z16), True)
        self._color_profile = self._color_sensor.add_video_stream(
            self._stream(rs.stream.color, 1, intrinsics, 3, rs.format.rgb8), True)
        self._depth_sensor.add_read_only_option(rs.option.depth_units, self.depth_scale)
        extr = rs.extrinsics()
        extr.rotation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        extr.translation = [float(v) for v in depth_to_color_translation_m]
        self._depth_profile.register_extrinsics_to(self._color_profile, extr)
        self.device.create_matcher(rs.matchers.dlr_c)     # depth + colour frames sync by timestamp
        self._lock = threading.Lock()
        self._frame_number = 0

    def _stream(self, kind, uid, intr: CameraIntrinsics, bpp, fmt):
        rs = self.rs
        si = rs.intrinsics()
        si.width, si.height = intr.width, intr.height
        si.fx, si.fy, si.ppx, si.ppy = intr.fx, intr.fy, intr.cx, intr.cy
        si.model, si.coeffs = rs.distortion.brown_conrady, [0.0] * 5
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = kind, 0, uid
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt, vs.intrinsics = intr.width, intr.height, self.fps, bpp, fmt, si
        return vs

    def push(self, rgb: np.ndarray, depth_units: np.ndarray, timestamp_ms: float | None = None) -> int:
        """Inject one colour + depth pair (depth in device units, uint16); returns its frame number."""
        rs, ci, di = self.rs, self.intrinsics, self.depth_intrinsics
        rgb = np.ascontiguousarray(rgb)
        depth_units = np.ascontiguousarray(depth_units)
        if rgb.shape != (ci.height, ci.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be {ci.height}x{ci.width}x3 uint8, got {rgb.shape} {rgb.dtype}")
        if depth_units.shape != (di.height, di.width) or depth_units.dtype != np.uint16:
            raise ValueError(f"depth must be {di.height}x{di.width} uint16, got {depth_units.shape} "
                             f"{depth_units.dtype}")
        with self._lock:
            self._frame_number += 1
            number = self._frame_number
            stamp = time.time() * 1000.0 if timestamp_ms is None else float(timestamp_ms)
            for sensor, profile, pixels, bpp in ((self._depth_sensor, self._depth_profile, depth_units, 2),
                                                 (self._color_sensor, self._color_profile, rgb, 3)):
                frame = rs.software_video_frame()
                frame.pixels = pixels                      # copied by the SDK
                frame.bpp, frame.stride = bpp, pixels.shape[1] * bpp
                frame.timestamp, frame.domain = stamp, rs.timestamp_domain.system_time
                frame.frame_number = number
                frame.profile = profile.as_video_stream_profile()
                if bpp == 2:
                    frame.depth_units = self.depth_scale
                sensor.on_video_frame(frame)
        return number
