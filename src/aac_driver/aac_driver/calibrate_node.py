"""`aac_calibrate`: eye-to-hand calibration of the camera over ROS (thin node over aac_driver.calibration).

    aac_calibrate --write-board board.png          # print it at 100 % (5 x 7 squares of 30 mm), bolt it to the hand
    aac_calibrate --out calibrated_extrinsics.yaml  # then: jog the arm to 15-20 poses, Enter at each, s to solve

It reads the colour camera (`<camera_namespace>/color/image_raw` + `camera_info`: the camera's own factory
intrinsics) and `joint_states`. At each capture (Enter, or the `aac/calibrate/capture` Trigger service) it
detects the board in the newest frame and takes the gripper's pose from the forward kinematics of the
newest joint state (hold the arm still while capturing); `s` (or `aac/calibrate/solve`) solves, drops
misdetected views, checks the residuals and writes the camera pose in the camera_extrinsics.yaml format,
to a new file only (an existing one is never overwritten). Then `aac_preflight --actor ... --camera-extrinsics
<it>` says whether the camera sits where the policy was trained to look. It moves nothing itself: the
operator jogs the arm (or, on the sim twin, the test sends joint targets).
"""
from __future__ import annotations

import argparse
import json
import select
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_srvs.srv import Trigger

from aac_robot import ros_interface as ri
from aac_robot.node_main import BackgroundSpin
from aac_robot.ros_convert import MessageError, image_to_rgb, intrinsics_from_camera_info

from . import calibration as cal
from .arm_ik import ArmIK


class Calibrator:
    def __init__(self, node, out: str | Path, namespace: str = "", camera_namespace: str = ri.DEFAULT_CAMERA_NAMESPACE,
                 joint_names=ri.ARM_JOINTS):
        self.node, self.out = node, Path(out)
        pre = f"/{namespace.strip('/')}/" if namespace.strip("/") else "/"
        cam = f"{pre}{camera_namespace.strip('/')}"
        self.lock = threading.Lock()
        self.frame: Image | None = None
        self.K: np.ndarray | None = None
        self.K_used: np.ndarray | None = None   # the camera matrix the samples were detected with
        self.q: np.ndarray | None = None
        self.samples: list[tuple[np.ndarray, cal.BoardDetection]] = []   # (T_base_ee, the board in that frame)
        self.ik = ArmIK(joint_names)   # joint-name mapping (fr3_joint1.. -> panda order) and its kinematics model
        node.create_subscription(Image, f"{cam}/{ri.COLOR_IMAGE}", self._on_image, 2)
        node.create_subscription(CameraInfo, f"{cam}/{ri.COLOR_INFO}", self._on_info, 2)
        node.create_subscription(JointState, pre + ri.JOINT_STATES, self._on_joints, 10)
        node.create_service(Trigger, f"{pre}aac/calibrate/capture", lambda req, res: self._answer(res, self.capture))
        node.create_service(Trigger, f"{pre}aac/calibrate/solve", lambda req, res: self._answer(res, self.solve))

    def _on_image(self, msg: Image) -> None:
        with self.lock:
            self.frame = msg

    def _on_info(self, msg: CameraInfo) -> None:
        with self.lock:
            self.K = intrinsics_from_camera_info(msg).K

    def _on_joints(self, msg: JointState) -> None:
        q = self.ik.arm_q(msg.name, msg.position)
        if q is not None:
            with self.lock:
                self.q = q

    @staticmethod
    def _answer(response, action):
        response.success, response.message = action()
        return response

    def capture(self) -> tuple[bool, str]:
        with self.lock:
            frame, K, q = self.frame, self.K, self.q
        if frame is None or K is None or q is None:
            return False, "no " + ", ".join(w for w, v in (("colour frame", frame), ("camera_info", K),
                                                            ("joint state", q)) if v is None) + " yet"
        try:
            rgb = image_to_rgb(frame, (frame.height, frame.width))
        except MessageError as exc:
            return False, f"frame refused: {exc}"
        if self.K_used is not None and not np.allclose(K, self.K_used):
            return False, "camera_info changed since the first sample (another resolution or camera?): restart the calibration"
        found = cal.detect_board(rgb, K)
        if found is None:
            return False, "board not found in the frame (fewer than 6 corners): move it into view, less tilted"
        T_ee = self.ik.kin.grasp_pose(np.concatenate([q, [0.04, 0.04]]))
        self.samples.append((T_ee, found))
        self.K_used = K
        return True, (f"sample {len(self.samples)}: {found.corners} corners, reprojection {found.reprojection_px:.2f} px, "
                      f"board {np.linalg.norm(found.T_cam_board[:3, 3]):.2f} m from the camera")

    def solve(self) -> tuple[bool, str]:
        try:
            if not self.samples:
                raise cal.CalibrationError("no samples captured yet")
            result, dropped = cal.solve_robust([g for g, _ in self.samples], [b for _, b in self.samples], self.K_used)
            cal.check_residuals(result)
            note = f"{result.summary()}; views dropped as misdetections: {dropped or 'none'}"
            cal.write_extrinsics(self.out, result.T_base_cam, note=note)
        except cal.CalibrationError as exc:
            return False, str(exc)
        return True, json.dumps({"written": str(self.out), "translation": result.T_base_cam[:3, 3].round(4).tolist(),
                                 "summary": note})

    def close(self) -> None:
        self.ik.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="calibrated_extrinsics.yaml", help="where to write the result (a new file)")
    ap.add_argument("--write-board", default="", help="write the board image (PNG) to print, and exit")
    ap.add_argument("--namespace", default="")
    ap.add_argument("--camera-namespace", default=ri.DEFAULT_CAMERA_NAMESPACE)
    ap.add_argument("--joint-names", nargs=7, default=list(ri.ARM_JOINTS))
    args = ap.parse_args(argv)
    if args.write_board:
        cv2.imwrite(args.write_board, cal.board_image(px_per_square=354, margin_px=118))   # 300 dpi with a margin
        print(f"board written to {args.write_board}: print at 100 % (squares {cal.BOARD_SQUARE_M * 1e3:.0f} mm)")
        return 0
    if Path(args.out).exists():
        print(f"aac_calibrate: {args.out} exists; choose a new --out (an existing calibration is never replaced)",
              file=sys.stderr)
        return 2
    with BackgroundSpin("aac_calibrate") as node:
        calib = Calibrator(node, args.out, args.namespace, args.camera_namespace, args.joint_names)
        print("jog the arm to a pose with the board in view, hold it still, press Enter to capture; "
              "s + Enter to solve; q + Enter to quit", flush=True)
        try:
            while True:
                ready, _, _ = select.select([sys.stdin], [], [], 0.5)
                if not ready:
                    continue
                key = sys.stdin.readline().strip().lower()[:1]
                if key == "q":
                    return 1
                ok, msg = calib.solve() if key == "s" else calib.capture()
                print(("" if ok else "NOT OK: ") + msg, flush=True)
                if key == "s" and ok:
                    return 0
        finally:
            calib.close()


if __name__ == "__main__":
    sys.exit(main())
