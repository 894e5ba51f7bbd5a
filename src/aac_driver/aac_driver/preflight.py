"""`aac_preflight`: check a LIVE ROS graph before the arm leaves dry run; a checklist with a fix per miss.

    aac_preflight --robot fr3 --actor runs/main/actor.pt                     # franka_ros2 Jazzy + RealSense
    aac_preflight --robot fr3 --output servo --json preflight.json
    aac_preflight --twin --robot panda --output servo --namespace /s --actor ...   # the sim twin

A small probe node listens for `--timeout` seconds (default 5), then every check below is a plain
function over what it saw (`Observation`), so the rules are testable without timing:

  camera.*      colour + aligned depth published, rgb8 / 16UC1, sizes = their camera_info, rate
                >= 0.8 x --fps, colour/depth pairs with equal stamps, reliable publishers
  camera.intrinsics   the colour camera_info after the centre crop to the actor's image size vs the
                actor's camera (--actor): the rule of aac_policy.deploy.DeployedActor.set_camera
  camera.pose   the calibrated camera pose (--camera-extrinsics, the camera_extrinsics.yaml format) vs
                the pose the actor was trained around and its randomization range (aac_driver.camera_pose)
  joints.*      joint_states has the robot's 7 arm joints, its rate, and nonzero finger joints where
                the policy reads them (joint_states, or the gripper's own topic; franka_fr3_moveit_config's
                moveit.launch.py v3.4.0 leaves them at 0.0 in joint_states)
  policy_node   a running aac_policy_node's joint_names / camera / goal / finger source vs this graph
  arm.*         the command path of --output: a joint_trajectory_controller, or MoveIt Servo
  gripper       franka_gripper's GripperCommand action server, or a gripper controller topic
  goal, frames  who publishes the goal; which static TF makes panda_link0 (informational)
  graph         a sim twin in the graph (aac/sim_info) where the robot was expected, or the reverse

`--twin` checks the aac sim twin instead of the robot: its camera runs at the control rate (from
aac/sim_info), it takes twists on servo_node/delta_twist_cmds itself (no MoveIt Servo, so no
switch_command_type service: that check is skipped, not failed), and its gripper is
gripper_controller/joint_trajectory. Without --twin a twin in the namespace is a WARN.

Exit status: 0 no check failed (WARN, SKIP and INFO do not fail), 1 a check failed, 2 bad arguments or
an unreadable actor. Imports neither torch, PyBullet, gymnasium nor the simulator: rclpy, the message
packages and aac_robot's numpy-only modules (tests/test_preflight.py checks this).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

from aac_robot import ros_interface as ri
from aac_robot.param_files import node_parameters_from_file
from aac_robot.robots import FRANKA_GRIPPER_JOINT_STATES, ROBOTS

PASS, WARN, FAIL, SKIP, INFO = "PASS", "WARN", "FAIL", "SKIP", "INFO"

# The rule of aac_policy.deploy (INTRINSICS_TOLERANCE there; tests/test_preflight.py checks they agree):
# focal lengths within 5 % (relative), principal point within 5 % of the policy image size.
INTRINSICS_TOLERANCE = 0.05
RATE_FRACTION = 0.8          # a stream passes at >= 0.8 x its expected rate
JOINT_RATE_WARN_HZ = 20.0
SYNC_FRACTION = 0.5          # at least half the frames must have a depth frame with the same stamp
POLICY_FRAME = ri.BASE_FRAME   # the policy's, its goal's and the twist's frame
POLICY_NODE = "aac_policy_node"
ALIAS_NODE = "aac_base_frame_alias"   # deploy_real.launch.py's static_transform_publisher
SERVO_NODE = "servo_node"
SERVO_SWITCH = "servo_node/switch_command_type"   # moveit_msgs/srv/ServoCommandType (MoveIt Servo, jazzy)
SERVO_PARAMS = ("moveit_servo.command_in_type", "moveit_servo.command_out_topic")
POLICY_PARAMS = ("joint_names", "camera_namespace", "goal_topic", "finger_joint_states")
SIM_INFO = "aac/sim_info"
DEFAULT_FINGER_TOPIC = FRANKA_GRIPPER_JOINT_STATES   # franka_gripper (franka_ros2 >= v2.0) publishes here


OUTPUTS = ("joint_trajectory", "servo", "none")
GRIPPER_OUTPUTS = ("gripper_command", "joint_trajectory", "none")

# topic names relative to the camera namespace (realsense-ros >= 4.55), defined once in aac_robot.ros_interface
COLOR_IMAGE, COLOR_INFO, DEPTH_IMAGE, DEPTH_INFO = ri.COLOR_IMAGE, ri.COLOR_INFO, ri.DEPTH_IMAGE, ri.DEPTH_INFO


# ====================================================================== configuration
@dataclass
class Config:
    namespace: str = "/"
    robot: str = "fr3"
    arm_joints: tuple[str, ...] = ROBOTS["fr3"].arm_joints
    finger_joints: tuple[str, ...] = ROBOTS["fr3"].finger_joints
    base_frame: str = ROBOTS["fr3"].base_frame
    camera_namespace: str = "camera/camera"
    fps: float | None = None               # None: 30, or the twin's control rate (aac/sim_info)
    output: str = "joint_trajectory"
    arm_controller: str = ROBOTS["fr3"].arm_controller
    gripper_output: str = "gripper_command"
    gripper_action: str = ROBOTS["fr3"].gripper_action
    gripper_controller: str = "gripper_controller"
    finger_topic: str = DEFAULT_FINGER_TOPIC
    finger_joint_states: str | None = None   # None: a running policy node's, else the robot preset's
    goal_topic: str = "aac/goal"
    actor: str = ""
    camera_extrinsics: str = ""            # the calibrated camera pose (YAML); '' = not checked
    timeout: float = 5.0
    twin: bool = False
    json: str = ""

    @property
    def ns(self) -> str:
        """--namespace, fully qualified ('/' for the root)."""
        return "/" + self.namespace.strip("/")

    def resolve(self, name: str, namespace: str | None = None) -> str:
        """A ROS name as the nodes of --namespace resolve it (absolute names stay)."""
        if name.startswith("/"):
            return "/" + name.strip("/")
        ns = (self.namespace if namespace is None else namespace).strip("/")
        return f"/{ns}/{name.strip('/')}" if ns else f"/{name.strip('/')}"

    def camera_topic(self, suffix: str) -> str:
        return self.resolve(f"{self.camera_namespace.strip('/')}/{suffix}")

    @property
    def arm_topic(self) -> str:
        return self.resolve(f"{self.arm_controller.strip('/')}/joint_trajectory")

    @property
    def gripper_topic(self) -> str:
        return self.resolve(f"{self.gripper_controller.strip('/')}/joint_trajectory")


def parse_args(argv=None) -> Config:
    p = argparse.ArgumentParser(
        prog="aac_preflight", description="Check the live ROS graph before the arm leaves dry run. "
        "Exit 0: no check failed; 1: a check failed; 2: bad arguments.")
    p.add_argument("--robot", choices=sorted(ROBOTS), default="fr3",
                   help="name preset: fr3 (default), fer (franka_ros2 Jazzy Panda), panda (the sim's names)")
    p.add_argument("--joint-names", nargs="+", default=None,
                   help="7 arm joints (or 7 + 2 finger joints), space or comma separated; default: the preset's")
    p.add_argument("--namespace", default="/", help="namespace the robot's nodes run in (relative names resolve there)")
    p.add_argument("--camera-namespace", default="camera/camera", help="as the arm/policy nodes' camera_namespace")
    p.add_argument("--fps", type=float, default=None, help="expected camera rate (default 30; twin: its control rate)")
    p.add_argument("--actor", default="", help="exported actor.pt: its camera is compared with camera_info")
    p.add_argument("--camera-extrinsics", default="",
                   help="the calibrated camera pose (camera_extrinsics.yaml format): compared with the actor's trained "
                        "pose and range")
    p.add_argument("--output", choices=OUTPUTS, default="joint_trajectory", help="the arm node's `output`")
    p.add_argument("--arm-controller", default=None, help="the arm node's `arm_controller` (default: the preset's)")
    p.add_argument("--gripper-output", choices=GRIPPER_OUTPUTS, default=None,
                   help="the arm node's `gripper_output` (default gripper_command; twin: joint_trajectory)")
    p.add_argument("--gripper-action", default=None, help="the arm node's `gripper_action` (default: the preset's)")
    p.add_argument("--gripper-controller", default=None,
                   help="the arm node's `gripper_controller` (default gripper_controller)")
    p.add_argument("--params-file", default="",
                   help="the deployment's ROS 2 parameter file: the arm node's gripper_output, gripper_action and "
                        "gripper_controller are read from its aac_arm_node section (flags given here win)")
    p.add_argument("--finger-topic", default=DEFAULT_FINGER_TOPIC, help="the gripper's own JointState topic")
    p.add_argument("--finger-joint-states", default=None,
                   help="the policy node's finger_joint_states ('' = joint_states); default: read from a running "
                        "aac_policy_node, else unknown (the fingers must then be nonzero in joint_states or on "
                        "--finger-topic)")
    p.add_argument("--goal-topic", default="aac/goal", help="the policy node's goal_topic")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to listen (default 5)")
    p.add_argument("--twin", action="store_true",
                   help="the graph is the aac sim twin (no MoveIt Servo service, camera at the control rate)")
    p.add_argument("--json", default="", help="also write the results as JSON to this file")
    a = p.parse_args(argv)
    robot = ROBOTS[a.robot]
    arm_file = {}
    if a.params_file:
        try:
            arm_file = node_parameters_from_file(a.params_file, "/" + ri.ARM_NODE_NAME)
        except ValueError as exc:
            p.error(str(exc))
        if arm_file.get("gripper_output", GRIPPER_OUTPUTS[0]) not in GRIPPER_OUTPUTS:
            p.error(f"{a.params_file}: aac_arm_node gripper_output {arm_file['gripper_output']!r} is not one of "
                    f"{GRIPPER_OUTPUTS}")
    arm, fingers = robot.arm_joints, robot.finger_joints
    if a.joint_names:
        names = [n for item in a.joint_names for n in item.replace(",", " ").split()]
        if len(names) not in (7, 9) or len(set(names)) != len(names):
            p.error(f"--joint-names needs 7 arm (+ 2 finger) distinct names, got {names}")
        arm, fingers = tuple(names[:7]), (tuple(names[7:]) or fingers)
    if not 0.5 <= a.timeout <= 600:
        p.error(f"--timeout must be in [0.5, 600] s, got {a.timeout}")
    if a.fps is not None and not 0 < a.fps <= 1000:
        p.error(f"--fps must be in (0, 1000], got {a.fps}")
    return Config(namespace=a.namespace or "/", robot=a.robot, arm_joints=arm, finger_joints=fingers,
                  base_frame=robot.base_frame, camera_namespace=a.camera_namespace, fps=a.fps, output=a.output,
                  arm_controller=a.arm_controller or robot.arm_controller,
                  gripper_output=a.gripper_output or arm_file.get("gripper_output")
                  or ("joint_trajectory" if a.twin else "gripper_command"),
                  gripper_action=a.gripper_action or arm_file.get("gripper_action") or robot.gripper_action,
                  gripper_controller=a.gripper_controller or arm_file.get("gripper_controller", "gripper_controller"),
                  finger_topic=a.finger_topic,
                  finger_joint_states=a.finger_joint_states, goal_topic=a.goal_topic, actor=a.actor,
                  camera_extrinsics=a.camera_extrinsics,
                  timeout=a.timeout, twin=a.twin, json=a.json)


# ====================================================================== what the probe saw
@dataclass
class Stream:
    """One topic: its publishers and the messages that arrived in the window."""

    topic: str
    publishers: list[str] = field(default_factory=list)      # node names
    best_effort: int = 0                                      # publishers that are best effort
    count: int = 0
    rate_hz: float | None = None                              # from arrival times
    last_age_s: float | None = None                           # window end - last arrival
    encodings: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)   # (width, height)
    stamps: list[int] = field(default_factory=list)          # header stamps, ns
    k: list[float] | None = None                              # camera_info: the newest K
    frames: list[str] = field(default_factory=list)           # header.frame_id values
    names: list[str] = field(default_factory=list)           # JointState: every name seen
    arm_count: int = 0                                        # JointState: messages with all arm joints
    values: dict[str, tuple[float, float]] = field(default_factory=dict)   # joint: (min, max)

    def summary(self) -> dict:
        out = asdict(self)
        out["stamps"] = len(self.stamps)
        return out


@dataclass
class Observation:
    window_s: float = 0.0
    color: Stream = field(default_factory=lambda: Stream(""))
    depth: Stream = field(default_factory=lambda: Stream(""))
    color_info: Stream = field(default_factory=lambda: Stream(""))
    depth_info: Stream = field(default_factory=lambda: Stream(""))
    joints: Stream = field(default_factory=lambda: Stream(""))
    fingers: Stream = field(default_factory=lambda: Stream(""))     # the gripper's own topic
    extra_fingers: Stream | None = None    # the policy's finger source when it is neither of those
    goal: Stream = field(default_factory=lambda: Stream(""))
    subscribers: dict[str, list[str]] = field(default_factory=dict)     # topic: subscribing nodes
    publishers: dict[str, list[str]] = field(default_factory=dict)      # topic: publishing nodes
    services: dict[str, list[str]] = field(default_factory=dict)        # service: server nodes
    actions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)   # action: (node, type)
    nodes: list[str] = field(default_factory=list)                      # fully qualified
    params: dict[str, dict | None] = field(default_factory=dict)        # node: values (None: unreadable)
    sim_info: dict | None = None

    def summary(self) -> dict:
        out = {k: v for k, v in asdict(self).items()
               if k not in ("color", "depth", "color_info", "depth_info", "joints", "fingers", "extra_fingers", "goal")}
        for k in ("color", "depth", "color_info", "depth_info", "joints", "fingers", "goal"):
            out[k] = getattr(self, k).summary()
        if self.extra_fingers is not None:
            out["extra_fingers"] = self.extra_fingers.summary()
        return out


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


# ====================================================================== checks (plain functions)
def _fq(name: str, ns: str) -> str:
    return f"{ns.rstrip('/')}/{name}"


def expected_fps(cfg: Config, obs: Observation) -> tuple[float, str]:
    if cfg.fps is not None:
        return cfg.fps, "--fps"
    if cfg.twin:
        dt = (obs.sim_info or {}).get("control_dt")
        if dt:
            return 1.0 / float(dt), "the twin's control rate (aac/sim_info)"
        return 10.0, "the default control rate (no aac/sim_info)"
    return 30.0, "default"


def _hz(rate) -> str:
    return "no rate" if rate is None else f"{rate:.1f} Hz"


def _no_frames(cfg: Config, s: Stream, what: str, obs: Observation) -> Check | None:
    """None when frames arrived; else the FAIL saying why not (nobody publishes / silent / QoS)."""
    name = f"camera.{what}"
    if s.count:
        return None
    cam = cfg.camera_namespace.strip("/").split("/")
    launch = (f"camera_namespace:={cam[0]} camera_name:={cam[1]} " if len(cam) == 2 else "") + \
        "align_depth.enable:=true enable_sync:=true"
    if cfg.twin and obs.sim_info is not None and not obs.sim_info.get("render_images", True):
        return Check(name, FAIL, f"{s.topic}: the twin renders no images (render_images false)",
                     "start the sim with render_images: true")
    if not s.publishers:
        return Check(name, FAIL, f"nothing publishes {s.topic}",
                     f"start the camera: ros2 launch realsense2_camera rs_launch.py {launch} (or deploy_real's "
                     f"aac_realsense_node); check --camera-namespace / --namespace")
    return Check(name, FAIL, f"{s.topic}: published by {', '.join(s.publishers)} but no frame in {obs.window_s:.1f} s "
                 "(camera stopped or stalled)",
                 "check the camera node's log and USB connection (USB 3), restart rs_launch.py")


def check_camera(cfg: Config, obs: Observation) -> list[Check]:
    out = []
    for what, s, info, want, fix in (
            ("color", obs.color, obs.color_info, "rgb8", "rs_launch.py rgb_camera.color_format:=RGB8"),
            ("depth", obs.depth, obs.depth_info, "16UC1", "rs_launch.py depth_module.depth_format:=Z16, "
             "align_depth.enable:=true")):
        miss = _no_frames(cfg, s, what, obs)
        if miss:
            out.append(miss)
            continue
        problems, warnings, fixes = [], [], []
        enc = sorted(set(s.encodings))
        if enc != [want]:
            # the policy node converts these (aac_robot.ros_convert): usable, but not what it was trained on
            converted = {"color": {"bgr8", want}, "depth": {"32FC1", want}}[what]
            if set(enc) <= converted:
                warnings.append(f"encoding {'/'.join(enc)}, expected {want} (the policy node converts it per frame)")
            else:
                problems.append(f"encoding {'/'.join(enc)}: the policy node takes {want} "
                                f"({'or bgr8' if what == 'color' else 'or 32FC1 metres'}) only")
            fixes.append(fix)
        sizes = sorted(set(s.sizes))
        if len(sizes) > 1:
            problems.append(f"frame size changes: {sizes}")
        if not info.count:
            problems.append(f"no camera_info on {info.topic}" + ("" if info.publishers else " (nothing publishes it)"))
            fixes.append("the camera driver publishes camera_info next to the image: check the camera namespace")
        elif sizes and sizes[-1] != info.sizes[-1]:
            problems.append(f"image {sizes[-1][0]}x{sizes[-1][1]} but camera_info "
                            f"{info.sizes[-1][0]}x{info.sizes[-1][1]}")
            fixes.append("image and camera_info must come from the same profile: restart the camera")
        if what == "depth" and sizes and obs.color.sizes and sizes[-1] != obs.color.sizes[-1]:
            problems.append(f"depth {sizes[-1][0]}x{sizes[-1][1]} is not the colour size "
                            f"{obs.color.sizes[-1][0]}x{obs.color.sizes[-1][1]} (not aligned)")
            fixes.append("align_depth.enable:=true")
        if s.best_effort:
            problems.append(f"{s.best_effort} best-effort publisher(s): the policy node subscribes reliable and "
                            "receives nothing")
            fixes.append(f"realsense-ros {what}_qos:=SYSTEM_DEFAULT (or DEFAULT)")
        size = f"{sizes[-1][0]}x{sizes[-1][1]}" if sizes else "?"
        detail = f"{s.topic}: {'/'.join(enc)} {size} ({s.count} frames)"
        if problems or warnings:
            out.append(Check(f"camera.{what}", FAIL if problems else WARN,
                             f"{s.topic}: " + "; ".join(problems + warnings), "; ".join(dict.fromkeys(fixes))))
        else:
            out.append(Check(f"camera.{what}", PASS, detail + ", = camera_info"))
    fps, why = expected_fps(cfg, obs)
    if obs.color.count and obs.depth.count:
        slow, stale = [], []
        for s in (obs.color, obs.depth):
            if s.rate_hz is None or s.rate_hz < RATE_FRACTION * fps:
                slow.append(f"{s.topic.rsplit('/', 2)[-2]} {_hz(s.rate_hz)}")
            if s.last_age_s is not None and s.last_age_s > max(3.0 / fps, 0.5):
                stale.append(f"{s.topic.rsplit('/', 2)[-2]} stopped {s.last_age_s:.1f} s before the end")
        rates = f"colour {_hz(obs.color.rate_hz)}, depth {_hz(obs.depth.rate_hz)} (expected {fps:g} Hz, {why})"
        w, h = obs.color.sizes[-1]
        if slow or stale:
            out.append(Check("camera.rate", FAIL, f"{'; '.join(slow + stale)}: below {RATE_FRACTION:g} x {fps:g} Hz"
                             if slow else "; ".join(stale) + f"; {rates}",
                             f"rs_launch.py rgb_camera.color_profile:={w},{h},{fps:g} depth_module.depth_profile:="
                             f"{w},{h},{fps:g}; a USB 2 port or a loaded CPU lowers the rate"
                             + ("; the twin publishes at its control rate: --fps" if cfg.twin else "")))
        else:
            out.append(Check("camera.rate", PASS, rates))
        pairs = len(set(obs.color.stamps) & set(obs.depth.stamps))
        frames = min(len(obs.color.stamps), len(obs.depth.stamps))
        sync = f"{pairs} colour/depth pairs with equal stamps in {frames} frames"
        if pairs == 0 or pairs < SYNC_FRACTION * frames:
            out.append(Check("camera.sync", FAIL if pairs == 0 else WARN, sync + ": the policy acts only on pairs",
                             "rs_launch.py enable_sync:=true align_depth.enable:=true"))
        else:
            out.append(Check("camera.sync", PASS, sync))
    else:
        out.append(Check("camera.rate", SKIP, "no frames to measure"))
        out.append(Check("camera.sync", SKIP, "no frames to pair"))
    return out


def check_intrinsics(cfg: Config, obs: Observation, spec: dict | None) -> Check:
    """The colour camera_info after the centre crop to the actor's image size vs the actor's camera
    (the rule of aac_policy.deploy.DeployedActor.set_camera)."""
    name = "camera.intrinsics"
    if spec is None:
        return Check(name, SKIP, "no --actor: the camera is not compared with the actor's",
                     "pass --actor <exported actor.pt>")
    want = (spec.get("camera") or {}).get("policy_intrinsics")
    if not want:
        return Check(name, SKIP, f"{cfg.actor} records no camera (a state-only actor)")
    if not obs.color_info.count:
        return Check(name, FAIL, f"no camera_info on {obs.color_info.topic}: nothing to compare",
                     "start the camera (see camera.color)")
    from aac_robot.preprocessing import CropResize
    from aac_robot.ros_convert import intrinsics_from_camera_info
    from sensor_msgs.msg import CameraInfo
    (w, h), k = obs.color_info.sizes[-1], obs.color_info.k
    size = int(spec.get("image_size") or want["width"])
    try:
        intr = intrinsics_from_camera_info(CameraInfo(width=w, height=h, k=k))
        got = CropResize.center_square(intr, size).intrinsics(intr)
    except ValueError as exc:
        return Check(name, FAIL, f"camera {w}x{h} cannot feed a {size}px actor: {exc}",
                     "use a camera profile at least as large as the actor's image")
    bad = [f"{key}: actor {want[key]:.2f}, camera {getattr(got, key):.2f}" for key in ("fx", "fy")
           if abs(getattr(got, key) / want[key] - 1.0) > INTRINSICS_TOLERANCE]
    bad += [f"{key}: actor {want[key]:.2f}, camera {getattr(got, key):.2f}" for key in ("cx", "cy")
            if abs(getattr(got, key) - want[key]) > INTRINSICS_TOLERANCE * size]
    src = spec["camera"].get("source_intrinsics") or {}
    trained = f" (trained on {src['width']}x{src['height']}, fx {src['fx']:g})" if src else ""
    if bad:
        return Check(name, FAIL, f"camera {w}x{h} after the crop to {size}x{size}: " + "; ".join(bad)
                     + f" (tolerance {INTRINSICS_TOLERANCE:.0%}): the policy node refuses this camera",
                     f"run the camera profile the actor was trained for{trained}, or retrain with this camera's "
                     "camera_info in the sim's camera_intrinsics YAML")
    return Check(name, PASS, f"camera {w}x{h} -> {size}x{size}: fx {got.fx:.2f} fy {got.fy:.2f} cx {got.cx:.2f} "
                 f"cy {got.cy:.2f} within {INTRINSICS_TOLERANCE:.0%} of the actor's")


def check_camera_pose(cfg: Config, spec: dict | None) -> Check:
    """The calibrated camera pose vs the pose (and randomization range) the actor was trained with. It
    needs no live graph: the calibration result and the actor file."""
    name = "camera.pose"
    calibrate = ("calibrate the camera (eye-to-hand) and pass the result as --camera-extrinsics; the policy "
                 "only works where the camera sees the scene as in training")
    if not cfg.camera_extrinsics:
        return Check(name, SKIP, "no --camera-extrinsics: the camera's pose is not compared with the trained one",
                     calibrate)
    if spec is None:
        return Check(name, SKIP, "no --actor: nothing to compare the camera pose with", "pass --actor")
    from aac_robot.camera import CameraConfigError, CameraExtrinsics

    from .camera_pose import check_pose
    try:
        result = check_pose(spec, CameraExtrinsics.from_yaml(cfg.camera_extrinsics))
    except (CameraConfigError, OSError, ValueError, KeyError) as exc:
        return Check(name, FAIL, f"{cfg.camera_extrinsics}: {exc}", calibrate)
    move = ("move the camera towards the trained pose (the numbers say by how much, base frame for the position, "
            "camera frame for the rotation) and calibrate again, or retrain with this pose in the sim's "
            "camera_extrinsics.yaml")
    if result.status == "outside":
        return Check(name, FAIL, result.describe() + ": OUTSIDE what the policy saw in training", move)
    if result.status == "near_edge":
        return Check(name, WARN, result.describe() + ": inside, near the edge of the trained range", move)
    if result.status == "unknown_range":
        return Check(name, WARN, result.describe(), "re-export the actor (newer exports record the range)")
    return Check(name, PASS, result.describe())


def _preset_of(names) -> str | None:
    names = set(names)
    for key, robot in ROBOTS.items():
        if set(robot.arm_joints) <= names:
            return key
    return None


def check_joints(cfg: Config, obs: Observation) -> list[Check]:
    s = obs.joints
    if not s.count:
        fix = ("start the robot bringup: ros2 launch franka_fr3_moveit_config moveit.launch.py robot_ip:=<ip> "
               "(or franka_bringup franka.launch.py robot_type:=fr3 load_gripper:=true)")
        why = f"nothing publishes {s.topic}" if not s.publishers else \
            f"{s.topic}: published by {', '.join(s.publishers)} but no message in {obs.window_s:.1f} s" + \
            (" (best-effort publisher: the nodes subscribe reliable)" if s.best_effort else "")
        return [Check("joints.arm", FAIL, why, fix), Check("joints.rate", SKIP, "no joint states")]
    missing = [n for n in cfg.arm_joints if n not in s.names]
    if missing:
        other = _preset_of(s.names)
        hint = (f"{s.topic} has the {other} names ({ROBOTS[other].arm_joints[0]}..): run with --robot {other}, and "
                f"start the arm/policy nodes with those joint_names (deploy_real.launch.py robot:={other})"
                if other else "pass the robot's names with --joint-names (and the same joint_names to the nodes)")
        arm = Check("joints.arm", FAIL, f"{s.topic} lacks {', '.join(missing)} (it has {', '.join(s.names[:9])}"
                    f"{'...' if len(s.names) > 9 else ''}); robot preset {cfg.robot}", hint)
        return [arm, Check("joints.rate", SKIP, "no arm joint states")]
    out = [Check("joints.arm", PASS, f"{s.topic}: {cfg.arm_joints[0]}..{cfg.arm_joints[-1]} ({s.arm_count} messages)")]
    if s.rate_hz is None or s.rate_hz < JOINT_RATE_WARN_HZ:
        out.append(Check("joints.rate", WARN, f"{s.topic} (arm) at {_hz(s.rate_hz)} < {JOINT_RATE_WARN_HZ:g} Hz",
                         "franka.launch.py joint_state_rate (default 30); the safety layer stops on states "
                         "older than state_timeout_s (0.2 s)" + ("; the twin publishes at its control rate"
                                                                 if cfg.twin else "")))
    else:
        out.append(Check("joints.rate", PASS, f"{s.topic} (arm) at {_hz(s.rate_hz)}"))
    return out


def finger_source(cfg: Config, obs: Observation) -> tuple[str | None, str]:
    """The topic the deployed policy reads its finger joints from ('' = joint_states, None = unknown),
    and where that was learnt."""
    policy = _policy_params(cfg, obs)
    if policy is not None:
        value = policy[1].get("finger_joint_states") or ""
        node_ns = policy[0].rsplit("/", 1)[0] or "/"
        return (cfg.resolve(value, node_ns) if value else ""), f"{policy[0]}'s finger_joint_states"
    if cfg.finger_joint_states is not None:
        return (cfg.resolve(cfg.finger_joint_states) if cfg.finger_joint_states else ""), "--finger-joint-states"
    return None, "unknown (no aac_policy_node running)"


def _policy_params(cfg: Config, obs: Observation) -> tuple[str, dict] | None:
    fq = _fq(POLICY_NODE, cfg.ns)
    values = obs.params.get(fq)
    return None if values is None else (fq, values)


def _finger_range(s: Stream | None, fingers) -> tuple[float, float] | None:
    if s is None or not all(f in s.values for f in fingers):
        return None
    lo = min(s.values[f][0] for f in fingers)
    hi = max(s.values[f][1] for f in fingers)
    return lo, hi


def check_fingers(cfg: Config, obs: Observation) -> Check:
    name, fingers = "joints.fingers", cfg.finger_joints
    source, learnt = finger_source(cfg, obs)
    js, grip = obs.joints, obs.fingers
    if source == js.topic:
        source = ""
    in_js = _finger_range(js, fingers)
    in_grip = _finger_range(grip, fingers)
    frozen = in_js is not None and in_js == (0.0, 0.0)
    grip_open = in_grip is not None and in_grip[1] > 0.0
    f0 = fingers[0]
    moveit_cause = (f"{js.topic} has {f0}/2 stuck at 0.0 while {grip.topic} reports {2 * in_grip[1]:.4f} m open: "
                    "franka_fr3_moveit_config moveit.launch.py (v3.4.0) has its joint_state_publisher read "
                    "fr3_gripper/joint_states, which nothing publishes") if frozen and grip_open else ""
    point_fix = (f"point the policy's finger source at {grip.topic}: aac_policy_node finger_joint_states:={grip.topic} "
                 "(deploy_real.launch.py robot:=fr3 sets it)")
    if source == "":   # the policy reads joint_states
        if in_js is None:
            return Check(name, FAIL, f"{', '.join(fingers)} not in {js.topic} ({learnt}: the policy reads them there)"
                         + (f"; they are on {grip.topic}" if in_grip else ""),
                         point_fix if in_grip else "franka.launch.py load_gripper:=true (starts franka_gripper and "
                         "merges its finger joints into joint_states)")
        if moveit_cause:
            return Check(name, FAIL, moveit_cause + f" ({learnt}: the policy reads {js.topic})", point_fix)
        if frozen:
            return Check(name, WARN, f"{f0}/2 in {js.topic} stayed exactly 0.0 and {grip.topic} has nothing to "
                         "compare: a closed gripper, or fingers that never update",
                         "open the gripper (ros2 action send_goal /franka_gripper/homing franka_msgs/action/Homing {}) "
                         "and run the preflight again")
        return Check(name, PASS, f"{f0}/2 in {js.topic}, {in_js[0]:.4f}..{in_js[1]:.4f} ({learnt})")
    if source is not None:   # the policy reads a topic of its own
        s = grip if source == grip.topic else obs.extra_fingers
        rng = _finger_range(s, fingers) if s is not None and s.topic == source else None
        if rng is None:
            return Check(name, FAIL, f"{', '.join(fingers)} not on {source} ({learnt})"
                         + (f"; they are in {js.topic}" if in_js and not frozen else ""),
                         "start franka_gripper (franka.launch.py load_gripper:=true; moveit.launch.py starts it), "
                         "or set the policy node's finger_joint_states to where the fingers are")
        note = "; " + moveit_cause.split(":")[0] + " (not used)" if moveit_cause else ""
        return Check(name, PASS, f"{f0}/2 on {source}, {rng[0]:.4f}..{rng[1]:.4f} ({learnt}){note}")
    # no policy node and no flag: find the live fingers, say what the policy must be given
    if moveit_cause:
        return Check(name, FAIL, moveit_cause, point_fix)
    if in_js is not None and not frozen:
        return Check(name, PASS, f"{f0}/2 in {js.topic}, nonzero ({in_js[0]:.4f}..{in_js[1]:.4f}): the policy node "
                     "needs finger_joint_states:='' (policy node not running: not compared)")
    if in_grip is not None:
        return Check(name, PASS, f"{f0}/2 on {grip.topic} ({in_grip[0]:.4f}..{in_grip[1]:.4f})"
                     + (f", not in {js.topic}" if in_js is None else f", frozen at 0.0 in {js.topic}")
                     + f": the policy node needs finger_joint_states:={grip.topic} (not running: not compared)")
    if frozen:
        return Check(name, WARN, f"{f0}/2 in {js.topic} stayed exactly 0.0 and {grip.topic} has none",
                     "open the gripper and run the preflight again")
    return Check(name, FAIL, f"{', '.join(fingers)} neither in {js.topic} nor on {grip.topic}",
                 "start franka_gripper: franka.launch.py load_gripper:=true (moveit.launch.py starts it); "
                 "--finger-topic if it publishes elsewhere")


def check_policy_node(cfg: Config, obs: Observation) -> Check:
    name = "policy_node"
    fq = _fq(POLICY_NODE, cfg.ns)
    if fq not in obs.nodes:
        return Check(name, SKIP, f"{fq} not running: its parameters are not compared with this graph")
    found = _policy_params(cfg, obs)
    if found is None:
        return Check(name, WARN, f"{fq} runs but its parameters could not be read",
                     f"ros2 param dump {fq}: compare joint_names, camera_namespace, goal_topic by hand")
    values, bad = found[1], []
    want = list(cfg.arm_joints) + list(cfg.finger_joints)
    if values.get("joint_names") is not None and list(values["joint_names"]) != want:
        bad.append(f"joint_names {list(values['joint_names'])} != {want}")
    for key, mine in (("camera_namespace", cfg.camera_namespace), ("goal_topic", cfg.goal_topic)):
        if values.get(key) is not None and cfg.resolve(values[key]) != cfg.resolve(mine):
            bad.append(f"{key} {values[key]!r} != {mine!r}")
    if bad:
        return Check(name, FAIL, f"{fq}: " + "; ".join(bad),
                     "start the policy node with this robot's names (deploy_real.launch.py robot:=...), or run "
                     "the preflight with the node's names")
    return Check(name, PASS, f"{fq}: joint_names, camera_namespace and goal_topic match")


def _servers(obs: Observation, service: str) -> list[str]:
    return obs.services.get(service, [])


def check_arm_command(cfg: Config, obs: Observation) -> list[Check]:
    if cfg.output == "none":
        return [Check("arm.command", SKIP, "output none: nothing is sent to the arm")]
    if cfg.output == "joint_trajectory":
        topic, subs = cfg.arm_topic, obs.subscribers.get(cfg.arm_topic, [])
        if not subs:
            return [Check("arm.command", FAIL, f"{topic} has no subscriber: no {cfg.arm_controller} running",
                          "franka.launch.py spawns no arm controller: start franka_fr3_moveit_config moveit.launch.py "
                          f"robot_ip:=<ip>, or spawn {cfg.arm_controller} from its fr3_ros_controllers.yaml "
                          f"(ros2 run controller_manager spawner {cfg.arm_controller})")]
        name = cfg.arm_controller.strip("/").rsplit("/", 1)[-1]
        if not cfg.twin and not any(n.rsplit("/", 1)[-1] == name for n in subs):
            return [Check("arm.command", WARN, f"{topic} is subscribed by {', '.join(subs)}, none of them a "
                          f"controller node named {name} (a recorder?)",
                          f"ros2 control list_controllers: {name} must be active")]
        return [Check("arm.command", PASS, f"{topic} subscribed by {', '.join(subs)}")]
    # servo
    topic = cfg.resolve("servo_node/delta_twist_cmds")
    subs = obs.subscribers.get(topic, [])
    out = [Check("arm.command", PASS, f"{topic} subscribed by {', '.join(subs)}") if subs else
           Check("arm.command", FAIL, f"{topic} has no subscriber: MoveIt Servo is not running",
                 "franka_ros2 ships no Servo config: start servo_node with move_group_name fr3_arm, "
                 "command_in_type speed_units, command_out_topic /fr3_arm_controller/joint_trajectory")]
    service = cfg.resolve(SERVO_SWITCH)
    servo_fq = cfg.resolve(SERVO_NODE)
    if cfg.twin:
        out.append(Check("arm.servo", SKIP, f"the sim twin takes twists itself: no {service} (on the robot "
                         "MoveIt Servo needs it)"))
        return out
    problems, fixes = [], []
    if not _servers(obs, service):
        problems.append(f"no service {service}")
        fixes.append(f"Servo needs the TWIST command type: ros2 service call {service} "
                     "moveit_msgs/srv/ServoCommandType '{command_type: 1}' after it starts, and "
                     "command_in_type: speed_units")
    params = obs.params.get(servo_fq)
    if servo_fq in obs.nodes and params is None:
        problems.append(f"{servo_fq}'s parameters could not be read")
        fixes.append(f"ros2 param get {servo_fq} moveit_servo.command_in_type: must be speed_units")
    elif params is not None:
        kind = params.get("moveit_servo.command_in_type")
        if kind != "speed_units":
            problems.append(f"moveit_servo.command_in_type is {kind!r}: our twists are m/s "
                            "(unitless multiplies them by scale.linear)")
            fixes.append("moveit_servo.command_in_type: speed_units")
        out_topic = params.get("moveit_servo.command_out_topic")
        if out_topic and not obs.subscribers.get(cfg.resolve(out_topic)):
            problems.append(f"Servo publishes to {out_topic}, which nothing subscribes")
            fixes.append(f"moveit_servo.command_out_topic: {cfg.arm_topic} (an active {cfg.arm_controller})")
    if problems:
        out.append(Check("arm.servo", FAIL, "; ".join(problems), "; ".join(fixes)))
    else:
        out.append(Check("arm.servo", PASS, f"{service} exists" + (
            "; command_in_type speed_units; its command_out_topic is subscribed" if params else "")
            + " (whether TWIST was selected cannot be seen from the graph)"))
    return out


def check_gripper(cfg: Config, obs: Observation) -> Check:
    if cfg.gripper_output == "none":
        return Check("gripper", SKIP, "gripper_output none: nothing is sent to the gripper")
    if cfg.gripper_output == "joint_trajectory":
        topic, subs = cfg.gripper_topic, obs.subscribers.get(cfg.gripper_topic, [])
        if subs:
            return Check("gripper", PASS, f"{topic} subscribed by {', '.join(subs)}")
        return Check("gripper", FAIL, f"{topic} has no subscriber",
                     "a real Franka Hand is no ros2_control joint: use --gripper-output gripper_command "
                     "(the arm node's gripper_output:=gripper_command, franka_gripper's action)")
    action = cfg.resolve(cfg.gripper_action)
    servers = obs.actions.get(action, [])
    if not servers:
        return Check("gripper", FAIL, f"no action server {action}",
                     "start franka_gripper: franka.launch.py load_gripper:=true (moveit.launch.py starts it; "
                     "use_fake_hardware has no gripper actions); the node is /franka_gripper for every robot type")
    types = sorted({t for _, t in servers})
    warnings = []
    if not any("GripperCommand" in t for t in types):
        warnings.append(f"its type is {', '.join(types)}, the arm node sends control_msgs/action/GripperCommand")
    if importlib.util.find_spec("control_msgs") is None:
        warnings.append("control_msgs is not installed in this Python (the pip path): aac_arm_node refuses "
                        "gripper_output:=gripper_command here")
    detail = f"{action} served by {', '.join(sorted({n for n, _ in servers}))}"
    if warnings:
        return Check("gripper", WARN, detail + "; " + "; ".join(warnings),
                     "run the arm node where control_msgs is installed (the robot PC's ROS install)")
    return Check("gripper", PASS, detail)


def check_goal(cfg: Config, obs: Observation) -> Check:
    topic, s = cfg.resolve(cfg.goal_topic), obs.goal
    wrong = sorted({f for f in s.frames if f not in ("", POLICY_FRAME)})
    if wrong:
        return Check("goal", FAIL, f"{topic} goals in frame {', '.join(wrong)}: the policy takes {POLICY_FRAME} only "
                     "(no TF here)", f"publish the goal PoseStamped with frame_id {POLICY_FRAME}")
    if not s.publishers:
        return Check("goal", WARN, f"nobody publishes {topic} yet: the policy waits for a goal",
                     f"ros2 topic pub -r 1 {topic} geometry_msgs/msg/PoseStamped \"{{header: {{frame_id: "
                     f"{POLICY_FRAME}}}, pose: {{position: {{x: 0.5, y: 0.0, z: 0.03}}}}}}\"")
    return Check("goal", PASS, f"{topic} published by {', '.join(s.publishers)}"
                 + (f" ({s.count} goals in {POLICY_FRAME})" if s.count else " (no goal in the window)"))


def check_frames(cfg: Config, obs: Observation) -> Check:
    tf = "TF itself is not checked (tf2 is not on the pip path)"
    static = obs.publishers.get("/tf_static", [])
    pubs = f"/tf_static published by {', '.join(static)}" if static else "nobody publishes /tf_static"
    if cfg.base_frame == POLICY_FRAME:
        return Check("frames", INFO, f"the robot's base frame is {POLICY_FRAME}, the policy's: no alias needed; "
                     f"{pubs}; {tf}")
    alias = _fq(ALIAS_NODE, cfg.ns)
    running = alias in obs.nodes
    return Check("frames", INFO, f"policy frame {POLICY_FRAME}, robot base {cfg.base_frame}: deploy_real.launch.py's "
                 f"{alias} publishes the static TF {cfg.base_frame} -> {POLICY_FRAME} (identity) - "
                 f"{'running' if running else 'NOT running'}; {pubs}; {tf}")


def check_graph(cfg: Config, obs: Observation) -> Check:
    if cfg.twin:
        if obs.sim_info is None:
            return Check("graph", WARN, f"--twin but no {cfg.resolve(SIM_INFO)}: is this the sim twin?",
                         "start the twin (deploy_sim.launch.py) or drop --twin")
        return Check("graph", PASS, f"sim twin: {obs.sim_info.get('node', '?')} ({obs.sim_info.get('task', '?')}, "
                     f"{obs.sim_info.get('mode', '?')})")
    if obs.sim_info is not None:
        return Check("graph", WARN, f"{cfg.resolve(SIM_INFO)} is published ({obs.sim_info.get('node', '?')}): "
                     "this namespace holds a SIM, not the robot", "check --namespace; pass --twin to check a twin")
    return Check("graph", PASS, "no simulator in this namespace")


def evaluate(cfg: Config, obs: Observation, spec: dict | None) -> list[Check]:
    return [*check_camera(cfg, obs), check_intrinsics(cfg, obs, spec), check_camera_pose(cfg, spec),
            *check_joints(cfg, obs),
            check_fingers(cfg, obs), check_policy_node(cfg, obs), *check_arm_command(cfg, obs),
            check_gripper(cfg, obs), check_goal(cfg, obs), check_frames(cfg, obs), check_graph(cfg, obs)]


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0


def format_checklist(cfg: Config, obs: Observation, checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"aac_preflight: namespace {cfg.ns}, robot {cfg.robot}, output {cfg.output}, "
             f"gripper {cfg.gripper_output}{', twin' if cfg.twin else ''}; listened {obs.window_s:.1f} s"]
    for c in checks:
        lines.append(f"[{c.status}] {c.name:<{width}}  {c.detail}")
        if c.fix and c.status in (FAIL, WARN):
            lines.append(f"       {'':<{width}}  fix: {c.fix}")
    n = {s: sum(c.status == s for c in checks) for s in (FAIL, WARN)}
    lines.append(f"RESULT: {n[FAIL]} FAIL, {n[WARN]} WARN: " +
                 ("stay in dry run and fix the FAIL items" if n[FAIL] else "the graph is ready to leave dry run"
                  + (" (read the WARN items)" if n[WARN] else "")))
    return "\n".join(lines)


def results_json(cfg: Config, obs: Observation, checks: list[Check]) -> dict:
    return {"ok": exit_code(checks) == 0, "exit_code": exit_code(checks),
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
            "checks": [asdict(c) for c in checks], "observed": obs.summary()}


# ====================================================================== the probe (rclpy)
class Probe:
    """Subscribes to what the checks need, listens `cfg.timeout` s, then reads the graph.
    `collect(cfg)` is the whole run; the node lives in the current rclpy context."""

    def __init__(self, cfg: Config, node):
        self.cfg, self.node = cfg, node
        self.obs = Observation()
        self.arrivals: dict[tuple[int, str], list[float]] = {}   # (id(stream), "all" | "arm"): monotonic times
        self.closed = False
        c = cfg
        self.obs.color = Stream(c.camera_topic(COLOR_IMAGE))
        self.obs.depth = Stream(c.camera_topic(DEPTH_IMAGE))
        self.obs.color_info = Stream(c.camera_topic(COLOR_INFO))
        self.obs.depth_info = Stream(c.camera_topic(DEPTH_INFO))
        self.obs.joints = Stream(c.resolve("joint_states"))
        self.obs.fingers = Stream(c.resolve(c.finger_topic))
        self.obs.goal = Stream(c.resolve(c.goal_topic))

    def streams(self) -> list[Stream]:
        o = self.obs
        return [s for s in (o.color, o.depth, o.color_info, o.depth_info, o.joints, o.fingers, o.extra_fingers, o.goal)
                if s is not None]

    # ------------------------------------------------------------------ callbacks (executor thread)
    def _arrive(self, s: Stream, msg) -> bool:
        if self.closed:
            return False
        self.arrivals.setdefault((id(s), "all"), []).append(time.monotonic())
        s.count += 1
        if msg.header.frame_id not in s.frames:
            s.frames.append(msg.header.frame_id)
        return True

    def _on_image(self, s: Stream, msg) -> None:
        if self._arrive(s, msg):
            if msg.encoding not in s.encodings:
                s.encodings.append(msg.encoding)
            s.sizes.append((int(msg.width), int(msg.height)))
            s.stamps.append(int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec))

    def _on_info(self, s: Stream, msg) -> None:
        if self._arrive(s, msg):
            s.sizes.append((int(msg.width), int(msg.height)))
            s.k = [float(v) for v in msg.k]

    def _on_joints(self, s: Stream, msg) -> None:
        if not self._arrive(s, msg):
            return
        names = list(msg.name)
        for n in names:
            if n not in s.names:
                s.names.append(n)
        if all(n in names for n in self.cfg.arm_joints):
            s.arm_count += 1
            self.arrivals.setdefault((id(s), "arm"), []).append(time.monotonic())
        for n, p in zip(names, msg.position):
            if n in self.cfg.finger_joints:
                lo, hi = s.values.get(n, (math.inf, -math.inf))
                s.values[n] = (min(lo, float(p)), max(hi, float(p)))

    def _on_sim_info(self, msg) -> None:
        try:
            self.obs.sim_info = json.loads(msg.data)
        except ValueError:
            self.obs.sim_info = {"node": "?", "unparsable": True}

    # ------------------------------------------------------------------ phases (caller's thread)
    def _publishers(self, topic: str):
        try:
            return self.node.get_publishers_info_by_topic(topic)
        except Exception:   # noqa: BLE001 (an invalid name: nothing publishes it)
            return []

    def _qos(self, infos):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
        return QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                          else ReliabilityPolicy.RELIABLE)

    def read_policy_node(self) -> None:
        """A running aac_policy_node's parameters (before subscribing: its finger source may be a topic
        of its own, which is then listened to as well)."""
        fq = _fq(POLICY_NODE, self.cfg.ns)
        if fq in {_fq(n, ns) for n, ns in self.node.get_node_names_and_namespaces()}:
            self.obs.params[fq] = read_parameters(self.node, fq, POLICY_PARAMS)
        source, _ = finger_source(self.cfg, self.obs)
        if source and source not in (self.obs.joints.topic, self.obs.fingers.topic):
            self.obs.extra_fingers = Stream(source)

    def subscribe(self) -> None:
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image, JointState
        from std_msgs.msg import String
        o = self.obs
        kinds = [(o.color, Image, self._on_image), (o.depth, Image, self._on_image),
                 (o.color_info, CameraInfo, self._on_info), (o.depth_info, CameraInfo, self._on_info),
                 (o.joints, JointState, self._on_joints), (o.fingers, JointState, self._on_joints),
                 (o.goal, PoseStamped, self._arrive)]
        if o.extra_fingers is not None:
            kinds.append((o.extra_fingers, JointState, self._on_joints))
        self.subs = []
        for s, kind, cb in kinds:
            infos = self._publishers(s.topic)
            sub = self.node.create_subscription(kind, s.topic, lambda m, s=s, cb=cb: cb(s, m), self._qos(infos))
            self.subs.append((sub, bool(infos)))
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(String, self.cfg.resolve(SIM_INFO), self._on_sim_info, latched)

    def discover(self, deadline: float) -> None:
        """Wait (until `deadline`) for the publishers of the camera and joint topics to be discovered,
        so the subscriptions can match their reliability."""
        needed = [self.obs.color.topic, self.obs.depth.topic, self.obs.joints.topic]
        while time.monotonic() < deadline and not all(self._publishers(t) for t in needed):
            time.sleep(0.05)

    def matched(self, deadline: float) -> None:
        """Wait (until `deadline`) for each subscription to match the publishers the graph showed, so
        the window measures delivery, not discovery."""
        while time.monotonic() < deadline and not all(sub.get_publisher_count() > 0 for sub, had in self.subs if had):
            time.sleep(0.02)

    def finish(self, window_end: float, window_s: float) -> None:
        from rclpy.qos import ReliabilityPolicy
        self.closed = True
        self.obs.window_s = window_s
        for s in self.streams():
            infos = self._publishers(s.topic)
            s.publishers = sorted({_fq(i.node_name, i.node_namespace) for i in infos})
            s.best_effort = sum(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
            arr = self.arrivals.get((id(s), "arm" if s is self.obs.joints else "all"), [])
            if len(arr) >= 2 and arr[-1] > arr[0]:
                s.rate_hz = (len(arr) - 1) / (arr[-1] - arr[0])
            if arr:
                s.last_age_s = window_end - arr[-1]
        self.read_graph()

    def read_graph(self) -> None:
        node, cfg, o = self.node, self.cfg, self.obs
        o.nodes = sorted({_fq(n, ns) for n, ns in node.get_node_names_and_namespaces()})
        topics = [cfg.arm_topic, cfg.gripper_topic, cfg.resolve("servo_node/delta_twist_cmds")]
        for t in topics:
            try:
                o.subscribers[t] = sorted({_fq(i.node_name, i.node_namespace)
                                           for i in node.get_subscriptions_info_by_topic(t)})
            except Exception:   # noqa: BLE001 (invalid name)
                o.subscribers[t] = []
        o.publishers["/tf_static"] = sorted({_fq(i.node_name, i.node_namespace)
                                             for i in self._publishers("/tf_static")})
        services = {cfg.resolve(SERVO_SWITCH)}
        action = cfg.resolve(cfg.gripper_action)
        try:
            from rclpy.action.graph import get_action_server_names_and_types_by_node
        except ImportError:   # older rclpy: an action server = its hidden send_goal service
            get_action_server_names_and_types_by_node = None
            services.add(f"{action}/_action/send_goal")
        for name, ns in node.get_node_names_and_namespaces():
            fq = _fq(name, ns)
            try:
                for srv, _ in node.get_service_names_and_types_by_node(name, ns):
                    if srv in services:
                        o.services.setdefault(srv, []).append(fq)
                if get_action_server_names_and_types_by_node is not None:
                    for act, types in get_action_server_names_and_types_by_node(node, name, ns):
                        if act == action:
                            o.actions.setdefault(act, []).extend((fq, t) for t in types)
            except Exception:   # noqa: BLE001 (a node that left while we asked)
                continue
        if get_action_server_names_and_types_by_node is None:
            o.actions[action] = [(n, "?") for n in o.services.get(f"{action}/_action/send_goal", [])]
        servo = cfg.resolve(SERVO_NODE)   # its parameters matter only when Servo is the command path
        if cfg.output == "servo" and not cfg.twin and servo in o.nodes:
            o.params[servo] = read_parameters(node, servo, SERVO_PARAMS)

    def run(self) -> Observation:
        from aac_robot.node_main import ExecutorThread
        cfg = self.cfg
        start = time.monotonic()
        with ExecutorThread(self.node, raise_failures=False):
            self.discover(start + 0.4 * cfg.timeout)
            self.read_policy_node()
            self.subscribe()
            self.matched(start + 0.5 * cfg.timeout)
            window_start = time.monotonic()
            while time.monotonic() < max(start + cfg.timeout, window_start + 0.5 * cfg.timeout):
                time.sleep(0.02)
            end = time.monotonic()
            self.finish(end, end - window_start)
        return self.obs


def read_parameters(node, fq_node: str, names, timeout: float = 1.0) -> dict | None:
    """Parameter values of another node (rcl_interfaces GetParameters); None if it does not answer.
    Undeclared parameters read as None (rclpy answers a request naming one with no values at all, so
    then each is asked for alone). The node must be spinning on an executor."""
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python
    client = node.create_client(GetParameters, f"{fq_node}/get_parameters")

    def ask(wanted: list[str]):
        done = threading.Event()
        future = client.call_async(GetParameters.Request(names=wanted))
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout) or future.result() is None:
            return None
        return [parameter_value_to_python(v) for v in future.result().values]

    try:
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        values = ask(list(names))
        if values is None:
            return None
        if len(values) == len(names):
            return dict(zip(names, values))
        out = {}
        for name in names:
            one = ask([name])
            out[name] = one[0] if one else None
        return out
    finally:
        node.destroy_client(client)


def collect(cfg: Config) -> Observation:
    """Run the probe in the current rclpy context (rclpy must be initialised)."""
    import rclpy
    node = rclpy.create_node("aac_preflight", namespace=cfg.ns,
                             start_parameter_services=False)
    try:
        return Probe(cfg, node).run()
    finally:
        node.destroy_node()


def load_spec(cfg: Config) -> dict | None:
    if not cfg.actor:
        return None
    from aac_robot.actor_spec import read_actor_spec
    return read_actor_spec(cfg.actor)


def main(argv=None) -> int:
    from rclpy.utilities import remove_ros_args
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_args(remove_ros_args(["aac_preflight", *argv])[1:])   # argparse exits 2 on bad arguments
    try:
        spec = load_spec(cfg)
    except ValueError as exc:   # ConfigError: no such file, not an exported actor
        print(f"aac_preflight: {exc}", file=sys.stderr, flush=True)
        return 2
    import rclpy
    from aac_robot.node_main import init_rclpy
    init_rclpy(["aac_preflight", *argv])
    try:
        obs = collect(cfg)
    finally:
        if rclpy.ok():
            rclpy.shutdown()
    checks = evaluate(cfg, obs, spec)
    print(format_checklist(cfg, obs, checks), flush=True)
    if cfg.json:
        with open(cfg.json, "w") as f:
            json.dump(results_json(cfg, obs, checks), f, indent=2)
    return exit_code(checks)


if __name__ == "__main__":
    raise SystemExit(main())
