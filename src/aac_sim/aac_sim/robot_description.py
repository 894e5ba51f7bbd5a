"""URDF of the Franka Panda + camera mount for robot_state_publisher / RViz (no rclpy).

The arm comes from pybullet_data's `franka_panda/panda.urdf`, the same file the simulator
loads, so the kinematics RViz draws are the ones PyBullet simulates. Its meshes are referenced
as `package://meshes/...`, which only PyBullet resolves (relative to the URDF); here every
mesh filename is rewritten to an absolute `file:///.../pybullet_data/franka_panda/meshes/...`
URI that exists on this machine, so no third-party mesh is copied or committed.

The camera mount comes from the extrinsics YAML (`aac_robot.camera.CameraExtrinsics`: pose of
`camera_color_optical_frame` in `panda_link0`, the file the sim renders with):

    <parent_frame> --camera_mount_joint--> camera_link --camera_color_optical_joint--> camera_color_optical_frame

`camera_link` follows the ROS body convention (x forward, y left, z up; realsense-ros's
`camera_link`) at the optical frame's origin; the optical frame is rotated by rpy
(-pi/2, 0, -pi/2) from it (REP 103). Composed, the two joints give exactly the YAML pose, so
no static_transform_publisher is needed.

Command line: `aac_robot_description [--extrinsics PATH] [-o FILE]` prints / writes the URDF.
"""
from __future__ import annotations

import argparse
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pybullet_data

from aac_robot.camera import DEFAULT_EXTRINSICS_YAML, CameraConfigError, CameraExtrinsics, quat_to_matrix

# Same names as aac_robot.ros_interface / aac_sim.scene (a test checks they agree). Not imported
# from aac_sim.scene: that imports pybullet, which prints its build time on stderr, and launch's
# Command substitution fails on any stderr output.
ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
BASE_FRAME = "panda_link0"
COLOR_OPTICAL_FRAME = "camera_color_optical_frame"
PANDA_JOINTS = ARM_JOINTS + FINGER_JOINTS
CAMERA_LINK = "camera_link"
CAMERA_MOUNT_JOINT = "camera_mount_joint"
CAMERA_OPTICAL_JOINT = "camera_color_optical_joint"
# camera_link -> optical frame (REP 103: optical z forward = body x, optical x right = -body y).
OPTICAL_IN_CAMERA_LINK_RPY = (-math.pi / 2, 0.0, -math.pi / 2)
# D435 housing, drawn as a box around camera_link (x depth, y width, z height), metres.
CAMERA_BOX_SIZE = (0.025, 0.090, 0.025)
MESH_URI_MODES = ("file", "path")
_PACKAGE_MESH_PREFIX = "package://meshes/"


class RobotDescriptionError(ValueError):
    """The robot description cannot be built (bad extrinsics, missing pybullet_data meshes...)."""


def panda_source_dir() -> Path:
    """pybullet_data's franka_panda folder (panda.urdf + meshes/)."""
    return Path(pybullet_data.getDataPath()) / "franka_panda"


def rpy_to_matrix(rpy) -> np.ndarray:
    """URDF rpy (fixed axes X, Y, Z: R = Rz(yaw) Ry(pitch) Rx(roll)) -> 3x3 rotation."""
    r, p, y = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def matrix_to_rpy(R) -> tuple[float, float, float]:
    """3x3 rotation -> URDF rpy, exact also at pitch = +-90 deg (camera looking straight down)."""
    R = np.asarray(R, dtype=np.float64)
    cp = math.hypot(R[0, 0], R[1, 0])
    pitch = math.atan2(-R[2, 0], cp)
    if cp > 1e-8:
        return math.atan2(R[2, 1], R[2, 2]), pitch, math.atan2(R[1, 0], R[0, 0])
    # gimbal lock: only roll - yaw (or roll + yaw) is defined; put it all in roll
    return math.atan2(-R[1, 2], R[1, 1]), pitch, 0.0


def camera_link_pose(extrinsics: CameraExtrinsics) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(xyz, rpy) of camera_link in the extrinsics' parent frame, from the optical frame pose."""
    R_parent_optical = quat_to_matrix(extrinsics.rotation_xyzw)
    R_link_optical = rpy_to_matrix(OPTICAL_IN_CAMERA_LINK_RPY)
    R_parent_link = R_parent_optical @ R_link_optical.T
    return tuple(float(v) for v in extrinsics.translation), matrix_to_rpy(R_parent_link)


def _fmt(values) -> str:
    return " ".join(f"{float(v):.12g}" if abs(float(v)) > 1e-15 else "0" for v in values)


def _mesh_filename(filename: str, meshes_dir: Path, mesh_uri: str) -> str:
    if not filename.startswith(_PACKAGE_MESH_PREFIX):
        raise RobotDescriptionError(f"unexpected mesh filename {filename!r} in pybullet_data's panda.urdf")
    path = (meshes_dir / filename[len(_PACKAGE_MESH_PREFIX):]).resolve()
    if not path.is_file():
        raise RobotDescriptionError(f"mesh {filename!r} not found at {path} (incomplete pybullet_data install?)")
    return path.as_uri() if mesh_uri == "file" else str(path)


def _camera_elements(extrinsics: CameraExtrinsics) -> list[ET.Element]:
    xyz, rpy = camera_link_pose(extrinsics)
    link = ET.Element("link", name=CAMERA_LINK)
    visual = ET.SubElement(link, "visual")
    geometry = ET.SubElement(visual, "geometry")
    ET.SubElement(geometry, "box", size=_fmt(CAMERA_BOX_SIZE))
    material = ET.SubElement(visual, "material", name="camera_dark_grey")
    ET.SubElement(material, "color", rgba="0.2 0.2 0.22 1")

    mount = ET.Element("joint", name=CAMERA_MOUNT_JOINT, type="fixed")
    ET.SubElement(mount, "parent", link=extrinsics.parent_frame)
    ET.SubElement(mount, "child", link=CAMERA_LINK)
    ET.SubElement(mount, "origin", xyz=_fmt(xyz), rpy=_fmt(rpy))

    optical_link = ET.Element("link", name=COLOR_OPTICAL_FRAME)
    optical = ET.Element("joint", name=CAMERA_OPTICAL_JOINT, type="fixed")
    ET.SubElement(optical, "parent", link=CAMERA_LINK)
    ET.SubElement(optical, "child", link=COLOR_OPTICAL_FRAME)
    ET.SubElement(optical, "origin", xyz="0 0 0", rpy=_fmt(OPTICAL_IN_CAMERA_LINK_RPY))
    return [link, mount, optical_link, optical]


def robot_description(extrinsics_path: str | Path | None = None, mesh_uri: str = "file") -> str:
    """URDF XML of the Panda (pybullet_data) with a camera mount from `extrinsics_path`.

    `extrinsics_path`: camera extrinsics YAML (default: the packaged `camera_extrinsics.yaml`).
    `mesh_uri`: "file" (absolute `file://` URIs, for RViz / robot_state_publisher) or "path"
    (absolute filesystem paths, as PyBullet takes them).
    Raises `RobotDescriptionError` (a ValueError) naming the problem.
    """
    if mesh_uri not in MESH_URI_MODES:
        raise RobotDescriptionError(f"mesh_uri must be one of {MESH_URI_MODES}, got {mesh_uri!r}")
    path = Path(extrinsics_path) if extrinsics_path is not None else DEFAULT_EXTRINSICS_YAML
    try:
        extrinsics = CameraExtrinsics.from_yaml(path)
    except CameraConfigError as exc:
        raise RobotDescriptionError(f"cannot build the camera mount: {exc}") from exc

    src_dir = panda_source_dir()
    urdf = src_dir / "panda.urdf"
    if not urdf.is_file():
        raise RobotDescriptionError(f"pybullet_data's Panda URDF not found: {urdf}")
    robot = ET.parse(urdf).getroot()

    links = {link.get("name") for link in robot.findall("link")}
    joints = {joint.get("name") for joint in robot.findall("joint")}
    missing = [j for j in PANDA_JOINTS if j not in joints]
    if missing:
        raise RobotDescriptionError(f"{urdf} lacks joint(s) {missing}")
    if extrinsics.parent_frame not in links:
        raise RobotDescriptionError(
            f"camera extrinsics {path}: parent_frame {extrinsics.parent_frame!r} is not a link of the "
            f"Panda URDF (e.g. {BASE_FRAME!r} for a fixed camera, 'panda_hand' for a wrist camera)")
    if extrinsics.child_frame != COLOR_OPTICAL_FRAME:
        raise RobotDescriptionError(
            f"camera extrinsics {path}: child_frame must be {COLOR_OPTICAL_FRAME!r} (the frame the "
            f"images are published in), got {extrinsics.child_frame!r}")

    meshes_dir = src_dir / "meshes"
    for mesh in robot.iter("mesh"):
        mesh.set("filename", _mesh_filename(mesh.get("filename", ""), meshes_dir, mesh_uri))
    # pybullet_data puts <material> inside <collision>, which is not URDF; drop it.
    for collision in robot.iter("collision"):
        for material in collision.findall("material"):
            collision.remove(material)

    comment = (f" Generated by aac_robot_description (aac_sim.robot_description): Franka Panda from "
               f"{urdf}, camera mount from {path.resolve()}. Do not edit; re-generate. ")
    robot.insert(0, ET.Comment(comment.replace("--", "- -")))  # "--" is not allowed in XML comments
    robot.extend(_camera_elements(extrinsics))
    ET.indent(robot, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="aac_robot_description",
        description="Print the URDF of the Panda (pybullet_data meshes as file:// URIs) with the "
                    "camera mount from a camera extrinsics YAML (for robot_state_publisher / RViz).")
    parser.add_argument("--extrinsics", metavar="PATH", default=None,
                        help=f"camera extrinsics YAML (default: {DEFAULT_EXTRINSICS_YAML})")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the URDF to FILE instead of stdout")
    parser.add_argument("--mesh-uri", choices=MESH_URI_MODES, default="file",
                        help="mesh references: file:// URIs (default) or plain absolute paths")
    args = parser.parse_args(argv)
    try:
        text = robot_description(args.extrinsics, mesh_uri=args.mesh_uri)
    except RobotDescriptionError as exc:
        print(f"aac_robot_description: error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
