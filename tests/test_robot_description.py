"""URDF for robot_state_publisher / RViz: aac_sim.robot_description (no ROS needed)."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from aac_sim import robot_description as rd
from aac_robot.camera import DEFAULT_EXTRINSICS_YAML, CameraExtrinsics, matrix_to_quat, optical_look_at, quat_to_matrix
from aac_sim.robot_description import ARM_JOINTS, BASE_FRAME, COLOR_OPTICAL_FRAME, FINGER_JOINTS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default_urdf() -> str:
    return rd.robot_description()


def _joint_origin(joint: ET.Element) -> np.ndarray:
    origin = joint.find("origin")
    xyz = [float(v) for v in origin.get("xyz", "0 0 0").split()] if origin is not None else [0.0] * 3
    rpy = [float(v) for v in origin.get("rpy", "0 0 0").split()] if origin is not None else [0.0] * 3
    T = np.eye(4)
    T[:3, :3] = rd.rpy_to_matrix(rpy)
    T[:3, 3] = xyz
    return T


def _fixed_chain_pose(urdf: str, root: str, frame: str) -> np.ndarray:
    """Pose of `frame` in `root` composed from the URDF's (fixed) joints."""
    robot = ET.fromstring(urdf)
    by_child = {j.find("child").get("link"): j for j in robot.findall("joint")}
    T = np.eye(4)
    link = frame
    while link != root:
        joint = by_child.get(link)
        assert joint is not None, f"{link} is not connected to {root}"
        assert joint.get("type") == "fixed", f"{joint.get('name')} between {root} and {frame} is not fixed"
        T = _joint_origin(joint) @ T
        link = joint.find("parent").get("link")
    return T


def _write(tmp_path: Path, text: str, name: str = "extrinsics.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parses_as_one_tree_with_the_panda_joints(default_urdf):
    robot = ET.fromstring(default_urdf)
    assert robot.tag == "robot"
    joints = {j.get("name"): j for j in robot.findall("joint")}
    for name in ARM_JOINTS:
        assert joints[name].get("type") == "revolute"
    for name in FINGER_JOINTS:
        assert joints[name].get("type") == "prismatic"
    assert len(ARM_JOINTS + FINGER_JOINTS) == 9
    assert rd.PANDA_JOINTS == tuple(f"panda_joint{i}" for i in range(1, 8)) + ("panda_finger_joint1", "panda_finger_joint2")
    # every movable joint is one of the 9 the sim publishes on joint_states
    movable = {n for n, j in joints.items() if j.get("type") != "fixed"}
    assert movable == set(ARM_JOINTS + FINGER_JOINTS)
    # a single tree rooted at panda_link0 (robot_state_publisher / KDL require it)
    links = [l.get("name") for l in robot.findall("link")]
    assert len(links) == len(set(links))
    children = [j.find("child").get("link") for j in joints.values()]
    assert len(children) == len(set(children))
    roots = set(links) - set(children)
    assert roots == {BASE_FRAME}
    for j in joints.values():
        assert j.find("parent").get("link") in links
    assert {"camera_link", COLOR_OPTICAL_FRAME} <= set(links)


def test_names_agree_with_the_ros_interface():
    from aac_robot import ros_interface as ri
    assert (rd.BASE_FRAME, rd.COLOR_OPTICAL_FRAME) == (ri.BASE_FRAME, ri.COLOR_OPTICAL_FRAME)
    assert rd.PANDA_JOINTS == ri.ARM_JOINTS + ri.FINGER_JOINTS
    from aac_sim import scene
    assert rd.PANDA_JOINTS == scene.ARM_JOINTS + scene.FINGER_JOINTS
    assert ri.ROBOT_DESCRIPTION_EXECUTABLE == "aac_robot_description"


def test_every_mesh_is_an_existing_file_uri(default_urdf):
    meshes = [m.get("filename") for m in ET.fromstring(default_urdf).iter("mesh")]
    assert len(meshes) >= 20  # visual + collision for 10 links
    for uri in meshes:
        parsed = urlparse(uri)
        assert parsed.scheme == "file" and parsed.netloc == "", uri
        path = Path(unquote(parsed.path))
        assert path.is_absolute() and path.is_file(), uri
        assert path.parent.parent == (rd.panda_source_dir() / "meshes").resolve()
    assert "package://" not in default_urdf


def test_plain_path_mode_and_bad_mode():
    text = rd.robot_description(mesh_uri="path")
    for m in ET.fromstring(text).iter("mesh"):
        assert Path(m.get("filename")).is_file()
    with pytest.raises(ValueError, match="mesh_uri"):
        rd.robot_description(mesh_uri="package")


def test_no_urdf_elements_that_are_not_urdf(default_urdf):
    robot = ET.fromstring(default_urdf)
    for collision in robot.iter("collision"):
        assert collision.find("material") is None


def test_optical_frame_matches_the_extrinsics_yaml(default_urdf):
    expected = CameraExtrinsics.from_yaml(DEFAULT_EXTRINSICS_YAML).matrix()
    got = _fixed_chain_pose(default_urdf, BASE_FRAME, COLOR_OPTICAL_FRAME)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # camera_link is the ROS body frame: its x axis is the optical z axis (viewing direction)
    link = _fixed_chain_pose(default_urdf, BASE_FRAME, "camera_link")
    np.testing.assert_allclose(link[:3, 0], expected[:3, 2], atol=1e-9)
    np.testing.assert_allclose(link[:3, 3], expected[:3, 3], atol=1e-9)


@pytest.mark.parametrize("eye,target", [
    ((0.9, -0.4, 0.6), (0.5, 0.05, 0.0)),     # oblique
    ((0.5, 0.0, 1.0), (0.5001, 0.0, 0.0)),    # (almost) straight down: camera_link pitch ~ 90 deg
    ((0.5, 0.0, 1.0), (0.5, 0.0, 0.0)),       # exactly straight down (gimbal lock of rpy)
])
def test_custom_extrinsics_change_the_mount(tmp_path, default_urdf, eye, target):
    if np.allclose(np.subtract(target, eye)[:2], 0):
        # optical_look_at refuses a view parallel to "up"; build that rotation by hand
        R = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
        q = matrix_to_quat(R)
    else:
        q = optical_look_at(eye, target)
    path = _write(tmp_path, (
        f"parent_frame: panda_link0\nchild_frame: camera_color_optical_frame\n"
        f"translation: [{eye[0]}, {eye[1]}, {eye[2]}]\n"
        f"rotation_xyzw: [{float(q[0])!r}, {float(q[1])!r}, {float(q[2])!r}, {float(q[3])!r}]\n"))
    urdf = rd.robot_description(path)
    got = _fixed_chain_pose(urdf, BASE_FRAME, COLOR_OPTICAL_FRAME)
    np.testing.assert_allclose(got, CameraExtrinsics.from_yaml(path).matrix(), atol=1e-6)
    default = _fixed_chain_pose(default_urdf, BASE_FRAME, COLOR_OPTICAL_FRAME)
    assert not np.allclose(got, default, atol=1e-3)


def test_wrist_camera_mounts_on_the_hand(tmp_path):
    path = _write(tmp_path, "parent_frame: panda_hand\ntranslation: [0.05, 0.0, 0.04]\n"
                            "rotation_xyzw: [0.0, 0.0, 0.0, 1.0]\n")
    robot = ET.fromstring(rd.robot_description(path))
    mount = [j for j in robot.findall("joint") if j.get("name") == rd.CAMERA_MOUNT_JOINT][0]
    assert mount.find("parent").get("link") == "panda_hand"
    T = _fixed_chain_pose(rd.robot_description(path), "panda_hand", COLOR_OPTICAL_FRAME)
    np.testing.assert_allclose(T, CameraExtrinsics.from_yaml(path).matrix(), atol=1e-6)


@pytest.mark.parametrize("text,match", [
    ("translation: [1.0, 0.0]\nrotation_xyzw: [0, 0, 0, 1]\n", "translation must be a list of 3"),
    ("translation: [1.0, 0.0, 0.5]\n", r"missing key\(s\) \['rotation_xyzw'\]"),
    ("translation: [1.0, 0.0, 0.5]\nrotation_xyzw: [0, 0, 0, 2]\n", "unit quaternion"),
    ("translation: [1.0, 0.0, 0.5\nrotation_xyzw: [0, 0, 0, 1]\n", "not valid YAML"),
    ("- 1\n- 2\n", "must contain a mapping"),
    ("parent_frame: world\ntranslation: [1, 0, 0.5]\nrotation_xyzw: [0, 0, 0, 1]\n", "parent_frame 'world' is not a link"),
    ("child_frame: cam\ntranslation: [1, 0, 0.5]\nrotation_xyzw: [0, 0, 0, 1]\n", "child_frame must be 'camera_color_optical_frame'"),
])
def test_malformed_extrinsics_give_a_clear_error(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(rd.RobotDescriptionError, match=match) as info:
        rd.robot_description(path)
    assert isinstance(info.value, ValueError)
    if "frame" not in match:
        assert str(path) in str(info.value)


def test_missing_extrinsics_file(tmp_path):
    with pytest.raises(rd.RobotDescriptionError, match="not found"):
        rd.robot_description(tmp_path / "nope.yaml")


def test_rpy_round_trip():
    rng = np.random.default_rng(0)
    for rpy in list(rng.uniform(-np.pi, np.pi, size=(200, 3))) + [(0.3, np.pi / 2, -1.0), (0.3, -np.pi / 2, 2.0)]:
        R = rd.rpy_to_matrix(rpy)
        np.testing.assert_allclose(rd.rpy_to_matrix(rd.matrix_to_rpy(R)), R, atol=1e-12)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "panda.urdf"
    assert rd.main(["-o", str(out)]) == 0
    assert out.read_text() == rd.robot_description()
    assert rd.main([]) == 0
    assert capsys.readouterr().out == rd.robot_description()
    bad = _write(tmp_path, "translation: oops\n", "bad.yaml")
    assert rd.main(["--extrinsics", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "aac_robot_description: error:" in err and str(bad) in err and "Traceback" not in err


def test_module_runs_as_a_script(tmp_path):
    # what the aac_robot_description console script runs; must not need ROS
    proc = subprocess.run([sys.executable, "-m", "aac_sim.robot_description", "--extrinsics",
                           str(DEFAULT_EXTRINSICS_YAML)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ET.fromstring(proc.stdout)
    # launch's Command substitution (robot_description in the launch files) fails on any stderr
    assert proc.stderr == ""
    proc = subprocess.run([sys.executable, "-c", "import sys, aac_sim.robot_description; "
                           "assert 'rclpy' not in sys.modules"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_console_script_declared():
    assert "'aac_robot_description = aac_sim.robot_description:main'" in (REPO / "src/aac_sim/setup.py").read_text()


def test_camera_mount_xacro_is_our_own_links_only():
    """urdf/camera_mount.urdf.xacro: hand-written, no meshes, same frames as the generator."""
    path = REPO / "urdf" / "camera_mount.urdf.xacro"
    root = ET.parse(path).getroot()
    xacro_ns = "{http://www.ros.org/wiki/xacro}"
    assert root.tag == "robot"
    assert not list(root.iter("mesh"))
    args = {a.get("name"): a.get("default") for a in root.iter(f"{xacro_ns}arg")}
    assert {"parent", "xyz", "rpy"} <= set(args)
    assert args["parent"] == BASE_FRAME
    # the defaults are the packaged calibration
    extr = CameraExtrinsics.from_yaml(DEFAULT_EXTRINSICS_YAML)
    np.testing.assert_allclose([float(v) for v in args["xyz"].split()], extr.translation, atol=1e-9)
    R = rd.rpy_to_matrix([float(v) for v in args["rpy"].split()])
    np.testing.assert_allclose(R, quat_to_matrix(extr.rotation_xyzw), atol=1e-9)
    links = {l.get("name") for l in root.iter("link")}
    assert links - {"$(arg parent)"} == {"camera_link", COLOR_OPTICAL_FRAME}
    joints = {j.get("name") for j in root.iter("joint")}
    assert joints == {rd.CAMERA_MOUNT_JOINT, rd.CAMERA_OPTICAL_JOINT}


XACRO_CASES = [
    ((0.95, 0.0, 0.5), None),                          # the packaged calibration
    ((0.9, -0.4, 0.6), (0.4, -0.3, 2.0)),
    ((0.5, 0.0, 1.0), (np.pi, 0.0, -np.pi / 2)),       # straight down: camera_link pitch 90 deg
    ((0.1, 0.2, 0.3), (0.3, np.pi / 2, -1.0)),         # optical pitch 90 deg
]


@pytest.mark.parametrize("xyz,rpy", XACRO_CASES)
def test_camera_mount_xacro_expands_to_the_calibration(xyz, rpy):
    """With the xacro tool (pip install xacro; not a test requirement) the mount gives the pose."""
    pytest.importorskip("xacro")
    if rpy is None:
        extr = CameraExtrinsics.from_yaml(DEFAULT_EXTRINSICS_YAML)
        rpy = rd.matrix_to_rpy(quat_to_matrix(extr.rotation_xyzw))
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, xacro; sys.argv[0] = 'xacro'; sys.exit(xacro.main())",
         str(REPO / "urdf" / "camera_mount.urdf.xacro"), "standalone:=true",
         "xyz:=" + " ".join(repr(float(v)) for v in xyz), "rpy:=" + " ".join(repr(float(v)) for v in rpy)],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    expected = np.eye(4)
    expected[:3, :3] = rd.rpy_to_matrix(rpy)
    expected[:3, 3] = xyz
    np.testing.assert_allclose(_fixed_chain_pose(proc.stdout, BASE_FRAME, COLOR_OPTICAL_FRAME), expected, atol=1e-6)
    assert {l.get("name") for l in ET.fromstring(proc.stdout).iter("link")} == {
        BASE_FRAME, "camera_link", COLOR_OPTICAL_FRAME}
