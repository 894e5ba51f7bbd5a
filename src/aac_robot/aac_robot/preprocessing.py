"""THE one definition of how a camera frame becomes the policy's image.

Real frames (e.g. 640x480 from a RealSense) are cropped to a region of interest and
resized to the policy resolution (84x84 by default). The simulator never renders full
frames; it renders directly at the policy resolution with `CropResize.intrinsics()`,
the pinhole model that the crop + resize is equivalent to. Both paths therefore see the
same geometry. No PyBullet or ROS imports here: the deploy node uses this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .camera import CameraConfigError, CameraIntrinsics

MIN_POLICY_IMAGE = 16


class FrameError(ValueError):
    """A camera frame has the wrong dtype, shape or contents for this camera."""


@dataclass(frozen=True)
class CropResize:
    """Crop box (x0, y0, w, h) in the source frame, then resize to (out_w, out_h)."""

    x0: int
    y0: int
    w: int
    h: int
    out_w: int
    out_h: int

    @classmethod
    def center_square(cls, intr: CameraIntrinsics, out_size: int) -> "CropResize":
        if not isinstance(out_size, int) or isinstance(out_size, bool) or out_size < MIN_POLICY_IMAGE:
            raise CameraConfigError(f"policy image size must be an integer >= {MIN_POLICY_IMAGE}, got {out_size!r}")
        side = min(intr.width, intr.height)
        if out_size > side:
            raise CameraConfigError(
                f"policy image size {out_size} is larger than the {side}x{side} crop of the "
                f"{intr.width}x{intr.height} camera: the pipeline only downsamples")
        return cls((intr.width - side) // 2, (intr.height - side) // 2, side, side, out_size, out_size)

    def check_source(self, intr: CameraIntrinsics) -> None:
        if self.x0 < 0 or self.y0 < 0 or self.x0 + self.w > intr.width or self.y0 + self.h > intr.height:
            raise CameraConfigError(f"crop {self} does not fit in the {intr.width}x{intr.height} frame")

    def intrinsics(self, intr: CameraIntrinsics) -> CameraIntrinsics:
        """Pinhole model of the policy image. Matches cv2.resize's pixel-centre mapping."""
        self.check_source(intr)
        sx, sy = self.out_w / self.w, self.out_h / self.h
        return CameraIntrinsics(
            width=self.out_w, height=self.out_h,
            fx=intr.fx * sx, fy=intr.fy * sy,
            cx=(intr.cx - self.x0 + 0.5) * sx - 0.5, cy=(intr.cy - self.y0 + 0.5) * sy - 0.5,
            depth_min_m=intr.depth_min_m, depth_max_m=intr.depth_max_m,
            camera_model=f"{intr.camera_model}/crop{self.w}x{self.h}+{self.x0}+{self.y0}->{self.out_w}x{self.out_h}")

    def _crop(self, img: np.ndarray) -> np.ndarray:
        return img[self.y0:self.y0 + self.h, self.x0:self.x0 + self.w]

    def rgb(self, frame: np.ndarray, intr: CameraIntrinsics) -> np.ndarray:
        """HxWx3 uint8 RGB camera frame -> out_h x out_w x 3 uint8 (area averaging)."""
        check_rgb_frame(frame, intr.width, intr.height)
        out = cv2.resize(self._crop(frame), (self.out_w, self.out_h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(out)

    def depth(self, frame: np.ndarray, intr: CameraIntrinsics) -> np.ndarray:
        """HxW uint16 millimetre depth -> out_h x out_w uint16.

        Nearest-neighbour (pixel-centre exact) on purpose: averaging would blend
        foreground and background at edges and smear 0 ("no reading") into valid pixels.
        """
        check_depth_frame(frame, intr.width, intr.height)
        return self.labels(frame)

    def labels(self, frame: np.ndarray) -> np.ndarray:
        """HxW integer label image (e.g. the simulator's surface classes) -> out_h x out_w, nearest-neighbour
        like the depth: a label is never averaged."""
        out = cv2.resize(self._crop(frame), (self.out_w, self.out_h), interpolation=cv2.INTER_NEAREST_EXACT)
        return np.ascontiguousarray(out)


def check_rgb_frame(frame, width: int, height: int) -> None:
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"RGB frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"RGB frame must be uint8, got {frame.dtype}")
    if frame.shape != (height, width, 3):
        raise FrameError(f"RGB frame must be {height}x{width}x3, got {frame.shape}")


def check_depth_frame(frame, width: int, height: int) -> None:
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"depth frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint16:
        raise FrameError(f"depth frame must be uint16 millimetres (RealSense 16UC1), got {frame.dtype}")
    if frame.shape != (height, width):
        raise FrameError(f"depth frame must be {height}x{width}, got {frame.shape}")


def metres_to_depth_mm(z: np.ndarray, depth_min_m: float, depth_max_m: float) -> np.ndarray:
    """Metric z-depth -> RealSense uint16 millimetres; out-of-range or non-finite -> 0."""
    z = np.asarray(z, dtype=np.float32)
    mm = z * np.float32(1000.0)
    mm += np.float32(0.5)                                  # round half up on truncation below
    mm[~((z >= depth_min_m) & (z <= depth_max_m))] = 0.0   # NaN compares False -> 0 as well
    return mm.astype(np.uint16)
