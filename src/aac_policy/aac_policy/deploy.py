"""The deploy path's core (no rclpy): camera frame + joint state + goal -> the exported actor -> command.

Exactly the sim's numbers: images go through `aac_robot.preprocessing.CropResize` (THE crop + resize
definition), `proprio` is forward kinematics of the joint state with the sim's URDF
(`aac_robot.kinematics`), the goal is in the robot base frame, and the action becomes an end-effector
velocity with the scaling recorded in the actor's spec. A camera whose intrinsics (after the crop)
do not match what the actor was trained with is refused, naming the field.
"""
from __future__ import annotations

import numpy as np

from aac_robot.camera import CameraIntrinsics
from aac_robot.config_base import ConfigError
from aac_robot.kinematics import PandaKinematics
from aac_robot.preprocessing import CropResize, FrameError
from aac_robot.actor_spec import trained_limits
from aac_robot.motion import action_to_command

from .actor_runtime import load_runtime

INTRINSICS_TOLERANCE = 0.05   # relative (focal) / of the image size (principal point), after the crop


class DeployedActor:
    """`actor_path`: an exported `actor.onnx` (runs on ONNX Runtime, no torch) or `actor.pt` (torch.export, on torch)."""

    def __init__(self, actor_path: str, torch_threads: int = 1, runtime: str = "auto"):
        self.run, self.spec = load_runtime(actor_path, runtime, threads=torch_threads)
        if self.spec.get("wiring") == "state" or "rgb" not in self.spec.get("inputs", []) and \
                "depth" not in self.spec.get("inputs", []):
            raise ConfigError(f"{actor_path} is a {self.spec.get('wiring')!r} actor: it needs privileged state "
                              "and cannot be deployed on a camera")
        self.motion, self.unknown_limits = trained_limits(self.spec)
        self.size = int(self.spec["image_size"])
        self.crop: CropResize | None = None
        self.camera: CameraIntrinsics | None = None
        self.kin = PandaKinematics()

    # ------------------------------------------------------------------ camera
    def set_camera(self, intr: CameraIntrinsics) -> None:
        """Accept a camera (from its camera_info) if, after the crop + resize, it is the camera the
        actor was trained with; raises ConfigError naming the differing field otherwise."""
        try:
            crop = CropResize.center_square(intr, self.size)
        except ValueError as exc:
            raise ConfigError(f"camera {intr.width}x{intr.height} cannot feed a {self.size}px actor: {exc}") from None
        got = crop.intrinsics(intr)
        want = self.spec["camera"]["policy_intrinsics"]
        bad = []
        for key in ("fx", "fy"):
            if abs(getattr(got, key) / want[key] - 1.0) > INTRINSICS_TOLERANCE:
                bad.append(f"{key}: actor trained with {want[key]:.2f}, camera gives {getattr(got, key):.2f}")
        for key in ("cx", "cy"):
            if abs(getattr(got, key) - want[key]) > INTRINSICS_TOLERANCE * self.size:
                bad.append(f"{key}: actor trained with {want[key]:.2f}, camera gives {getattr(got, key):.2f}")
        if bad:
            raise ConfigError(f"camera {intr.width}x{intr.height} does not match the actor's camera "
                              f"(after crop to {self.size}x{self.size}): " + "; ".join(bad))
        self.crop, self.camera = crop, intr

    # ------------------------------------------------------------------ observation -> action
    def observation(self, rgb: np.ndarray, depth_mm: np.ndarray, q: np.ndarray, qd: np.ndarray,
                    goal: np.ndarray) -> dict:
        if self.camera is None:
            raise FrameError("no camera_info received yet: the crop is unknown")
        goal = np.asarray(goal, dtype=np.float64)
        if goal.shape != (3,) or not np.isfinite(goal).all():
            raise ValueError(f"goal must be 3 finite values (m, base frame), got {goal.tolist()}")
        obs = {"rgb": self.crop.rgb(rgb, self.camera), "depth": self.crop.depth(depth_mm, self.camera),
               "proprio": self.kin.proprio(q, qd), "desired_goal": goal.astype(np.float32)}
        return {k: obs[k] for k in self.spec["inputs"]}

    def act(self, obs: dict) -> np.ndarray:
        a = np.asarray(self.run({k: np.ascontiguousarray(v)[None] for k, v in obs.items()})[0], dtype=np.float32)
        if not np.isfinite(a).all():
            raise FloatingPointError(f"actor produced a non-finite action {a.tolist()}")
        return a

    def command(self, action: np.ndarray) -> tuple[np.ndarray, float]:
        """Action in [-1, 1] -> end-effector velocity (m/s, base frame) and gripper opening (m)."""
        return action_to_command(action, self.motion)

    def close(self) -> None:
        self.kin.close()
