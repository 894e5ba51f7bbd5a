"""A stand-in franka_ros2 Jazzy (v3.4.0) + realsense-ros 4.56 graph over real rclpy, for aac_preflight.

Names as docs/upstream_interfaces.md gives them (root namespace):
  /joint_states                       30 Hz, fr3_joint1..7 (fingers: none | frozen at 0.0 | live)
  /franka_gripper/joint_states        15 Hz, fr3_finger_joint1/2 = width/2, the width moving slowly
  /franka_gripper/gripper_action      the hidden endpoints of an action server (_action/feedback and
                                      _action/status topics, send_goal/cancel_goal/get_result services).
                                      control_msgs is not on the pip path, so the feedback topic and the
                                      two services carry stand-in types (std_msgs/String, std_srvs/Trigger):
                                      the graph API (rclpy.action.graph) sees an action server all the same
  /fr3_arm_controller/joint_trajectory  a JTC-like subscription in a node named fr3_arm_controller
  /camera/camera/color/image_raw (rgb8) + color/camera_info, aligned_depth_to_color/image_raw (16UC1)
                                      + its camera_info, 640x480 at 30 Hz, one stamp per colour/depth
                                      pair, D435 intrinsics from aac_robot/data/camera_d435.yaml
  /aac_base_frame_alias               a node of that name (tf2_msgs is not on the pip path: no /tf_static)
  optional: /aac/goal (PoseStamped in panda_link0, 5 Hz), /servo_node (delta_twist_cmds subscription,
  switch_command_type service with a stand-in type, moveit_servo.* parameters), /aac_policy_node (only
  its parameters)

Run `python tests/franka_standin.py ['{"scenario": "json"}']`. Change the scenario live: publish a JSON
object on /standin/control (std_msgs/String, transient local); the stand-in applies DEFAULT updated with
it (not cumulative) and answers on /standin/state (transient local) with the scenario it now runs,
including the "seq" it was sent.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _pkg in ("aac_sim", "aac_driver"):
    if str(ROOT / "src" / _pkg) not in sys.path:
        sys.path.insert(0, str(ROOT / "src" / _pkg))

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from action_msgs.msg import GoalStatusArray  # noqa: E402
from action_msgs.srv import CancelGoal  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from aac_robot.camera import CameraIntrinsics  # noqa: E402
from aac_robot.node_main import init_rclpy  # noqa: E402
from aac_robot.ros_convert import camera_info_msg, numpy_to_image, pose_stamped  # noqa: E402

CONTROL, STATE = "/standin/control", "/standin/state"
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
DEFAULT = {
    "seq": 0,
    "robot": "fr3",                    # joint name prefix
    "camera": True,                    # False: the camera node stays, no frames are sent (a stalled camera)
    "color_encoding": "rgb8",
    "size": [640, 480],                # image and camera_info size; K stays the D435's 640x480 one
    "fps": 30.0,
    "camera_best_effort": False,
    "arm_controller": True,            # the JTC's joint_trajectory subscription
    "fingers_in_joint_states": "none",   # none | frozen | live
    "gripper": True,                   # franka_gripper publishes its joint states
    "goal": False,
    "servo": None,                     # or {"command_in_type": ..., "switch_service": bool}
    "policy_node": None,               # or {parameter: value}
}


def d435() -> CameraIntrinsics:
    return CameraIntrinsics.from_yaml()   # aac_robot/data/camera_d435.yaml


class StandIn:
    def __init__(self, executor: SingleThreadedExecutor, scenario: dict | None = None):
        self.executor = executor
        self.nodes = {}
        mk = self._node
        self.state_node = mk("franka_standin")
        self.robot = mk("joint_state_publisher")
        self.gripper = mk("franka_gripper")
        self.camera = mk("camera", "/camera")
        self.controller = mk("fr3_arm_controller")
        mk("aac_base_frame_alias")
        self.pub_joints = self.robot.create_publisher(JointState, "/joint_states", 10)
        self.pub_fingers = self.gripper.create_publisher(JointState, "~/joint_states", 1)
        # the hidden endpoints of a control_msgs/GripperCommand action server ~/gripper_action
        action = "~/gripper_action/_action/"
        self.gripper.create_publisher(String, action + "feedback", 1)
        self.gripper.create_publisher(GoalStatusArray, action + "status", 1)
        self.gripper.create_service(Trigger, action + "send_goal", lambda req, res: res)
        self.gripper.create_service(CancelGoal, action + "cancel_goal", lambda req, res: res)
        self.gripper.create_service(Trigger, action + "get_result", lambda req, res: res)
        self.gripper.create_service(Trigger, "~/stop", lambda req, res: res)
        self.pub_state = self.state_node.create_publisher(String, STATE, LATCHED)
        self.state_node.create_subscription(String, CONTROL, self._on_control, LATCHED)
        self.robot.create_timer(1 / 30, self._joints_tick)
        self.gripper.create_timer(1 / 15, self._fingers_tick)
        self.jtc_sub = self.camera_timer = self.goal_timer = None
        self.cam_pubs = None
        self.received = 0
        self.scenario: dict = {}
        self.apply(scenario or {})

    def _node(self, name: str, namespace: str = "/", **kwargs):
        node = rclpy.create_node(name, namespace=namespace, **kwargs)
        self.executor.add_node(node)
        self.nodes[(namespace, name)] = node
        return node

    def _drop(self, name: str, namespace: str = "/") -> None:
        node = self.nodes.pop((namespace, name), None)
        if node is not None:
            self.executor.remove_node(node)
            node.destroy_node()

    # ------------------------------------------------------------------ scenario
    def _on_control(self, msg: String) -> None:
        self.apply(json.loads(msg.data))

    def apply(self, changes: dict) -> None:
        unknown = set(changes) - set(DEFAULT)
        if unknown:
            raise ValueError(f"unknown scenario keys {sorted(unknown)}")
        s = self.scenario = {**DEFAULT, **changes}
        w, h = s["size"]
        intr = d435()
        self.intr = CameraIntrinsics(width=w, height=h, fx=intr.fx, fy=intr.fy, cx=intr.cx, cy=intr.cy)
        self.color = numpy_to_image(np.zeros((h, w, 3), np.uint8), "rgb8", 0, "camera_color_optical_frame")
        self.color.encoding = s["color_encoding"]
        self.depth = numpy_to_image(np.full((h, w), 800, np.uint16), "16UC1", 0, "camera_color_optical_frame")
        # camera publishers: recreated when their reliability changes
        if self.cam_pubs is None or self.cam_pubs[0] != s["camera_best_effort"]:
            if self.cam_pubs is not None:
                for pub in self.cam_pubs[1:]:
                    self.camera.destroy_publisher(pub)
            qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT if s["camera_best_effort"]
                             else ReliabilityPolicy.RELIABLE)
            self.cam_pubs = (s["camera_best_effort"],
                             *(self.camera.create_publisher(kind, f"~/{topic}", qos) for kind, topic in (
                                 (Image, "color/image_raw"), (CameraInfo, "color/camera_info"),
                                 (Image, "aligned_depth_to_color/image_raw"),
                                 (CameraInfo, "aligned_depth_to_color/camera_info"))))
        if self.camera_timer is not None:
            self.camera.destroy_timer(self.camera_timer)
        self.camera_timer = self.camera.create_timer(1.0 / float(s["fps"]), self._camera_tick)
        if s["arm_controller"] and self.jtc_sub is None:
            self.jtc_sub = self.controller.create_subscription(JointTrajectory, "~/joint_trajectory",
                                                               lambda m: None, 10)
        elif not s["arm_controller"] and self.jtc_sub is not None:
            self.controller.destroy_subscription(self.jtc_sub)
            self.jtc_sub = None
        self._drop("operator")
        if s["goal"]:
            op = self._node("operator")
            pub = op.create_publisher(PoseStamped, "/aac/goal", 10)
            op.create_timer(0.2, lambda: pub.publish(pose_stamped([0.5, 0.0, 0.03], time.time_ns(), "panda_link0")))
        self._drop("servo_node")
        if s["servo"] is not None:
            cfg = s["servo"]
            params = [Parameter("moveit_servo.command_in_type", value=cfg.get("command_in_type", "speed_units")),
                      Parameter("moveit_servo.command_out_topic",
                                value=cfg.get("command_out_topic", "/fr3_arm_controller/joint_trajectory"))]
            servo = self._node("servo_node", parameter_overrides=params,
                               automatically_declare_parameters_from_overrides=True)
            servo.create_subscription(TwistStamped, "~/delta_twist_cmds", lambda m: None, 10)
            if cfg.get("switch_service", True):   # moveit_msgs/srv/ServoCommandType upstream
                servo.create_service(Trigger, "~/switch_command_type", lambda req, res: res)
        self._drop("aac_policy_node")
        if s["policy_node"] is not None:
            self._node("aac_policy_node", automatically_declare_parameters_from_overrides=True,
                       parameter_overrides=[Parameter(k, value=v) for k, v in s["policy_node"].items()])
        self.pub_state.publish(String(data=json.dumps(s)))

    # ------------------------------------------------------------------ publishing
    def _width(self) -> float:
        return 0.065 + 0.005 * math.sin(time.monotonic())   # m, slowly moving

    def _joints_tick(self) -> None:
        s = self.scenario
        names = [f"{s['robot']}_joint{i}" for i in range(1, 8)]
        q = [0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785]
        if s["fingers_in_joint_states"] != "none":
            names += [f"{s['robot']}_finger_joint1", f"{s['robot']}_finger_joint2"]
            f = 0.0 if s["fingers_in_joint_states"] == "frozen" else self._width() / 2
            q += [f, f]
        msg = JointState(name=names, position=q, velocity=[0.0] * len(q), effort=[0.0] * len(q))
        msg.header.stamp = self.robot.get_clock().now().to_msg()
        self.pub_joints.publish(msg)

    def _fingers_tick(self) -> None:
        s = self.scenario
        if not s["gripper"]:
            return
        f = self._width() / 2
        msg = JointState(name=[f"{s['robot']}_finger_joint1", f"{s['robot']}_finger_joint2"], position=[f, f],
                         velocity=[0.0, 0.0], effort=[0.0, 0.0])
        msg.header.stamp = self.gripper.get_clock().now().to_msg()
        self.pub_fingers.publish(msg)

    def _camera_tick(self) -> None:
        if not self.scenario["camera"]:
            return
        t = time.time_ns()
        _, pub_color, pub_color_info, pub_depth, pub_depth_info = self.cam_pubs
        info = camera_info_msg(self.intr, t, "camera_color_optical_frame")
        pub_color_info.publish(info)
        pub_depth_info.publish(info)
        for msg, pub in ((self.color, pub_color), (self.depth, pub_depth)):
            msg.header.stamp = info.header.stamp
            pub.publish(msg)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    init_rclpy()
    executor = SingleThreadedExecutor()
    standin = StandIn(executor, json.loads(argv[0]) if argv else None)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=1.0)
        for key in list(standin.nodes):
            standin._drop(key[1], key[0])
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
