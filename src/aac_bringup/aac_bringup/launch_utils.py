"""Plain-Python helpers for the aac_bringup launch files (no launch / rclpy imports, so tested without a
ROS installation and cheap to import in a launch file; names come from the contract package aac_robot)."""
from __future__ import annotations

import os
import shlex
import xml.etree.ElementTree as ElementTree

import yaml

# Names of the deployment graph and the robot presets: the contract's own (aac_robot, plain constants).
from aac_robot import ros_interface as _ri
from aac_robot.ros_interface import BASE_FRAME as POLICY_FRAME, DEFAULT_CAMERA_NAMESPACE
from aac_robot.param_files import node_parameters_from_file  # noqa: F401 (re-exported for the tests)
from aac_robot.robots import ROBOTS, RobotPreset

SIM_NAMESPACE_PREFIX = "sim"
# rviz/aac.rviz shows the first training sim's topics (train_sim remaps only its TF).
RVIZ_NAMESPACE = "/sim0/"
# What rviz/deploy_{sim,real}.rviz show (relative to the deployment's namespace), written there for the
# root namespace and the default camera; rviz_remappings moves them. deploy_real.rviz has all but MARKERS.
RVIZ_DEPLOY_TOPICS = (_ri.ROBOT_DESCRIPTION, f"{DEFAULT_CAMERA_NAMESPACE}/{_ri.COLOR_IMAGE}",
                      f"{DEFAULT_CAMERA_NAMESPACE}/{_ri.DEPTH_IMAGE}", _ri.GOAL, _ri.FILTERED_TWIST, _ri.MARKERS)
# robot_state_publisher (and any TF broadcaster) publishes on the ABSOLUTE /tf, /tf_static; with
# several sims the same frame names would collide there, so each namespace gets its own TF topics.
TF_TOPICS = ("/tf", "/tf_static")


def sim_namespaces(num_sims) -> list[str]:
    """['sim0', ..., 'sim{N-1}'] from the num_sims launch argument (a string or int)."""
    try:
        n = int(str(num_sims).strip())
    except ValueError:
        raise ValueError(f"num_sims must be an integer >= 1, got {num_sims!r}") from None
    if n < 1:
        raise ValueError(f"num_sims must be an integer >= 1, got {num_sims!r}")
    return [f"{SIM_NAMESPACE_PREFIX}{i}" for i in range(n)]


def tf_remappings(namespace: str) -> list[tuple[str, str]]:
    """Remap /tf, /tf_static into `namespace` for a node started IN that namespace."""
    return [(t, t.lstrip("/")) for t in TF_TOPICS] if namespace.strip("/") else []


def tf_remappings_to(namespace: str) -> list[tuple[str, str]]:
    """Remap /tf, /tf_static of a root-namespace node (RViz) to `namespace`'s TF topics."""
    ns = namespace.strip("/")
    return [(t, f"/{ns}{t}") for t in TF_TOPICS] if ns else []


def robot_description_args(camera_extrinsics) -> str:
    """Arguments for `aac_robot_description` after the executable (a shell-quoted string).

    A non-empty `camera_extrinsics` (the sim node's parameter, '' = packaged mount) is passed on,
    so the URDF's camera mount is the one the sim renders from.
    """
    camera_extrinsics = str(camera_extrinsics or "").strip()
    return f" --extrinsics {shlex.quote(camera_extrinsics)}" if camera_extrinsics else ""


# --------------------------------------------------------------------------- deployment

# realsense2_camera (realsense-ros) is OPTIONAL: deploy_real includes its rs_launch.py when the package
# is installed, else it starts aac_driver's aac_realsense_node (pyrealsense2 only).
REALSENSE_PACKAGE = "realsense2_camera"
REALSENSE_LAUNCH = ("launch", "rs_launch.py")
CAMERAS = ("realsense2_camera", "pyrealsense2")
CAMERA_AUTO = "auto"
ARM_OUTPUTS = ("servo", "joint_trajectory", "none")   # aac_arm_node's `output` choices


# ROS 2 (Jazzy and later) discovery scope, ROS_AUTOMATIC_DISCOVERY_RANGE: LOCALHOST = only nodes on this
# machine see each other (a stray `ros2 topic pub` from another host on the same ROS_DOMAIN_ID cannot reach
# the arm); SUBNET / SYSTEM_DEFAULT open the graph to the network (camera or arm driver on another host).
DISCOVERY_RANGES = ("LOCALHOST", "SUBNET", "SYSTEM_DEFAULT")
DISCOVERY_VARIABLE = "ROS_AUTOMATIC_DISCOVERY_RANGE"


def discovery_range(value) -> tuple[str, str | None]:
    """(the environment value, a warning to log when the graph is open to the network, else None) for
    the `discovery_range` launch argument; ValueError naming the choices."""
    text = str(value).strip().upper()
    check_choice(text, DISCOVERY_RANGES, "discovery_range")
    if text == "LOCALHOST":
        return text, None
    return text, (f"discovery_range {text}: the ROS graph is OPEN to other hosts on ROS_DOMAIN_ID "
                  f"{os.environ.get('ROS_DOMAIN_ID', '0')}: any of them can publish goals and commands here")


# DDS Security (SROS2), deploy_real's `enclaves:=true`: the enclave of each node it starts, as in
# config/sros2/deploy.policy.xml (a test keeps the two equal). realsense2_camera's own launch file takes no
# enclave argument: its process gets one through rcl's ROS_SECURITY_ENCLAVE_OVERRIDE, as aac_preflight's does.
SECURITY_ENCLAVES = {"aac_policy_node": "/aac/policy_node", "aac_arm_node": "/aac/arm_node",
                     "aac_realsense_node": "/aac/camera", "realsense2_camera": "/aac/camera",
                     "aac_recorder_node": "/aac/observer", "aac_preflight": "/aac/observer",
                     "rviz2": "/aac/observer", "aac_base_frame_alias": "/aac/observer"}
SECURITY_POLICY = "config/sros2/deploy.policy.xml"   # in aac_bringup's share directory
ENCLAVE_OVERRIDE_VARIABLE = "ROS_SECURITY_ENCLAVE_OVERRIDE"
# the files sros2's create_enclave writes into each enclave (sros2/keystore/_enclave.py, ros2/sros2 0.13.0)
ENCLAVE_FILES = ("cert.pem", "key.pem", "governance.p7s", "identity_ca.cert.pem", "permissions_ca.cert.pem",
                 "permissions.xml", "permissions.p7s")


def security_environment(enabled: bool, keystore: str, environ=os.environ) -> dict[str, str]:
    """The environment that turns DDS Security on for every node of the launch ({} when off). ValueError
    when the keystore or one of its enclaves is missing: the launch stops before anything starts."""
    if not enabled:
        return {}
    root = str(keystore or environ.get("ROS_SECURITY_KEYSTORE", "")).strip()
    make = ("create it with `ros2 security generate_artifacts -k <dir> -p "
            f"$(ros2 pkg prefix aac_bringup)/share/aac_bringup/{SECURITY_POLICY}`")
    if not root:
        raise ValueError(f"enclaves:=true needs keystore:=<dir> (or ROS_SECURITY_KEYSTORE): {make}")
    if not os.path.isdir(root):
        raise ValueError(f"keystore {root} does not exist: {make}")
    missing = sorted({e for e in SECURITY_ENCLAVES.values()
                      if not os.path.isdir(os.path.join(root, "enclaves", e.strip("/")))})
    if missing:
        raise ValueError(f"keystore {root} has no enclave(s) {missing}: {make}")
    for enclave in sorted(set(SECURITY_ENCLAVES.values())):   # what sros2's create_enclave leaves there
        d = os.path.join(root, "enclaves", enclave.strip("/"))
        lacking = [f for f in ENCLAVE_FILES if not os.path.isfile(os.path.join(d, f))]
        if lacking:
            raise ValueError(f"enclave {enclave} in {root} lacks {lacking}: {make}")
        try:
            ElementTree.parse(os.path.join(d, "permissions.xml"))
        except ElementTree.ParseError as exc:
            raise ValueError(f"enclave {enclave}: permissions.xml does not parse ({exc}): {make}") from None
    return {"ROS_SECURITY_KEYSTORE": root, "ROS_SECURITY_ENABLE": "true", "ROS_SECURITY_STRATEGY": "Enforce"}


def enclave_arguments(node_name: str, enabled: bool) -> list[str]:
    """`ros_arguments` of a launched node: its enclave when security is on."""
    return ["--enclave", SECURITY_ENCLAVES[node_name]] if enabled else []


def preflight_arguments(robot: str, joint_names: list[str], camera_namespace: str, output: str,
                        arm_controller: str, params_file: str, finger_joint_states: str, actor: str,
                        timeout_s: float = 10.0) -> list[str]:
    """aac_preflight's command line for what deploy_real starts (its checks: aac_driver.preflight). The arm
    node's gripper settings it reads from `params_file` itself, as the arm node does."""
    args = ["--robot", robot, "--joint-names", ",".join(joint_names), "--camera-namespace", camera_namespace,
            "--output", output, "--arm-controller", arm_controller, "--params-file", params_file,
            "--timeout", str(timeout_s)]
    if finger_joint_states:
        args += ["--finger-joint-states", finger_joint_states]
    if actor:
        args += ["--actor", actor]
    return args


def camera_profile(text: str) -> tuple[int, int, int]:
    """(width, height, fps) of the camera_profile launch argument ('640,480,30', realsense-ros's
    `rgb_camera.color_profile` format); ValueError naming it otherwise."""
    parts = str(text).replace("x", ",").split(",")
    try:
        width, height, fps = (int(v.strip()) for v in parts)
    except ValueError:
        raise ValueError(f"camera_profile must be WIDTH,HEIGHT,FPS (e.g. 640,480,30), got {text!r}") from None
    if min(width, height, fps) <= 0:
        raise ValueError(f"camera_profile values must be > 0, got {text!r}")
    return width, height, fps


def robot_preset(name: str) -> RobotPreset:
    """The preset of the `robot` launch argument; ValueError naming the choices."""
    key = str(name).strip().lower()
    if key not in ROBOTS:
        raise ValueError(f"robot must be one of {sorted(ROBOTS)}, got {name!r}")
    return ROBOTS[key]


def parse_bool(value, name: str) -> bool:
    """A boolean launch argument ('true'/'false', '1'/'0', 'yes'/'no'); ValueError naming it otherwise."""
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"launch argument {name} must be true or false, got {value!r}")


def check_choice(value, choices, name: str) -> str:
    """`value` if it is one of `choices`; ValueError naming the launch argument otherwise."""
    if value not in choices:
        raise ValueError(f"launch argument {name} must be one of {list(choices)}, got {value!r}")
    return value


def parse_joint_names(text, robot: RobotPreset) -> tuple[list[str], list[str]]:
    """(7 arm joints, 2 finger joints) from the `joint_names` launch argument.

    '' = the robot preset's; otherwise a YAML list of 7 arm joint names (fingers from the preset) or 9
    (7 arm + 2 finger), in panda_joint1..7 order: e.g. "[fr3_joint1, ..., fr3_joint7]".
    """
    text = str(text or "").strip()
    if not text:
        return list(robot.arm_joints), list(robot.finger_joints)
    try:
        names = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"joint_names must be a YAML list of joint names, got {text!r} ({exc})") from None
    if (not isinstance(names, list) or len(names) not in (7, 9)
            or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names)):
        raise ValueError(f"joint_names must list 7 arm joints (or 7 arm + 2 finger joints), distinct, "
                         f"in panda_joint1..7 order; got {text!r}")
    return names[:7], (names[7:] if len(names) == 9 else list(robot.finger_joints))


def resolve_camera(choice, realsense2_camera_installed: bool) -> str:
    """'realsense2_camera' or 'pyrealsense2' from the `camera` launch argument ('auto' = the former
    when the package is installed)."""
    key = str(choice).strip()
    if key == CAMERA_AUTO:
        return CAMERAS[0] if realsense2_camera_installed else CAMERAS[1]
    if key not in CAMERAS:
        raise ValueError(f"camera must be one of {[CAMERA_AUTO, *CAMERAS]}, got {choice!r}")
    if key == REALSENSE_PACKAGE and not realsense2_camera_installed:
        raise ValueError("camera:=realsense2_camera, but the realsense2_camera package is not installed "
                         "(apt install ros-$ROS_DISTRO-realsense2-camera), or use camera:=pyrealsense2")
    return key


def split_camera_namespace(camera_namespace: str) -> tuple[str, str]:
    """realsense2_camera's (camera_namespace, camera_name) for our camera_namespace parameter:
    'camera/camera' -> ('camera', 'camera') (topics /camera/camera/...), 'cam' -> ('', 'cam')."""
    parts = [p for p in str(camera_namespace).split("/") if p]
    if not parts:
        raise ValueError("camera_namespace must name at least the camera (e.g. camera/camera)")
    return "/".join(parts[:-1]), parts[-1]


def realsense_launch_arguments(camera_namespace: str, width: int, height: int, fps: int,
                               serial_no="") -> dict[str, str]:
    """Arguments for realsense2_camera's rs_launch.py (>= 4.55) publishing what aac_realsense_node
    publishes: colour rgb8 and depth aligned to it, one stamp per pair (enable_sync), at the given
    colour profile; depth at the same profile (the D435 supports 640x480 and 848x480 for both)."""
    ns, name = split_camera_namespace(camera_namespace)
    profile = f"{int(width)},{int(height)},{int(fps)}"
    args = {
        "camera_namespace": ns, "camera_name": name,
        "enable_color": "true", "enable_depth": "true", "align_depth.enable": "true", "enable_sync": "true",
        "rgb_camera.color_profile": profile, "depth_module.depth_profile": profile,
        "enable_infra1": "false", "enable_infra2": "false", "pointcloud.enable": "false",
    }
    serial = "" if serial_no is None else str(serial_no).strip()
    if serial:   # realsense-ros convention: a leading '_' keeps leading zeros of a numeric serial
        args["serial_no"] = serial if serial.startswith("_") else f"_{serial}"
    return args


def base_frame_alias_arguments(base_frame: str) -> list[str] | None:
    """static_transform_publisher arguments making `panda_link0` (the frame the policy, its goal and
    the camera extrinsics use) an identity child of the robot's base frame (fr3_link0 on an FR3);
    None when the robot's base frame is panda_link0 already."""
    if base_frame == POLICY_FRAME:
        return None
    return ["--frame-id", base_frame, "--child-frame-id", POLICY_FRAME]


def rviz_remappings(namespace: str = "", camera_namespace: str = DEFAULT_CAMERA_NAMESPACE) -> list[tuple[str, str]]:
    """Remappings for an rviz2 node started in the root namespace with rviz/deploy_{sim,real}.rviz, whose
    topics are written for the root namespace and the default camera: every deploy topic it shows (and
    TF) moved to `namespace` and `camera_namespace`. Remapping, not a rewritten copy of the config:
    the launch file only wires."""
    ns = namespace.strip("/")
    cam = camera_namespace.strip("/")
    prefix = f"/{ns}/" if ns else "/"
    out = []
    for topic in RVIZ_DEPLOY_TOPICS:
        rel = topic
        if rel.startswith(DEFAULT_CAMERA_NAMESPACE + "/"):
            rel = (f"{cam}/" if cam else "") + rel[len(DEFAULT_CAMERA_NAMESPACE) + 1:]
        if prefix + rel != "/" + topic:
            out.append(("/" + topic, prefix + rel))
    return out + tf_remappings_to(ns)


__all__ = [
    "SIM_NAMESPACE_PREFIX", "RVIZ_NAMESPACE", "TF_TOPICS", "sim_namespaces", "tf_remappings",
    "tf_remappings_to", "node_parameters_from_file", "robot_description_args", "RVIZ_DEPLOY_TOPICS",
    "RobotPreset", "ROBOTS", "robot_preset", "parse_bool", "check_choice", "ARM_OUTPUTS", "parse_joint_names", "resolve_camera",
    "split_camera_namespace", "realsense_launch_arguments", "base_frame_alias_arguments",
    "rviz_remappings", "camera_profile", "REALSENSE_PACKAGE", "REALSENSE_LAUNCH", "CAMERAS", "CAMERA_AUTO", "POLICY_FRAME",
]
