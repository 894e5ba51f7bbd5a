"""ROS 2 policy node: RealSense colour + aligned depth, joint states and a goal in; the actor's command out.

    ros2 run aac_policy aac_policy_node --ros-args -p actor:=runs/main/actor.pt

Thin rclpy adapter over `aac_policy.deploy.DeployedActor`. Acts at the control rate the actor was
trained with (its spec's `motion.control_rate_hz`): on the newest synchronised colour + depth pair
(same stamp; older unmatched frames are dropped) whose stamp is at least one control period (less
`rate_tolerance_s`) after the last pair it acted on, with the joint state of that frame's time and
the newest goal. A 30 Hz camera then drives a 10 Hz policy with every third frame, as in training,
where the policy acts every 100 ms on the newest frame (aac_sim.env: camera timing). Publishes `aac/policy/twist` (TwistStamped, m/s, panda_link0) and
`aac/policy/gripper` (JointTrajectory, panda_finger_joint1 = half the opening), stamped with the
image's stamp, for the safety layer (aac_driver arm node) to filter and send to the arm. Against
a lockstep sim, remap them onto the sim's command topics to step it frame by frame.

Refuses to start acting on a camera whose intrinsics differ from the actor's, and skips (with a
throttled log line, counted) frames with a wrong encoding or size, NaN goals, or missing inputs.
"""
from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from trajectory_msgs.msg import JointTrajectory

from aac_robot import ros_interface as ri
from aac_robot.config_base import ConfigError
from aac_robot.node_main import apply_thread_priority, declare_parameters, run_node
from aac_robot.ros_convert import (MessageError, gripper_command, image_to_depth_mm, image_to_rgb,
                                   intrinsics_from_camera_info, ns_from_stamp, pose_position, twist_stamped)

from .deploy import DeployedActor

NODE_NAME = "aac_policy_node"
IMAGE_QOS = {"reliable": QoSProfile(depth=5), "sensor_data": qos_profile_sensor_data}
PARAMETERS = {"actor": "", "runtime": "auto", "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE, "goal_topic": ri.GOAL,
              "joint_names": list(ri.ARM_JOINTS + ri.FINGER_JOINTS), "torch_threads": 1, "joint_wait_s": 0.05,
              "joint_tolerance_s": 0.005, "rate_tolerance_s": 0.02,
              # SCHED_FIFO priority of the node's threads (0 = the OS default); see aac_robot.node_main
              "thread_priority": 0,
              # QoS of the colour + depth subscriptions: 'reliable' (keep last 5), or 'sensor_data' (rclpy's
              # qos_profile_sensor_data: best effort, keep last 5). Both match realsense2_camera's default
              # (SYSTEM_DEFAULT = reliable on Fast DDS); best effort adds no acknowledgements per fragment and
              # never re-sends a frame that a newer one has made useless
              "image_qos": "reliable",
              # '' = finger joints from joint_states; else a JointState topic with them (franka_ros2 Jazzy:
              # /franka_gripper/joint_states: under moveit.launch.py v3.4.0 the fingers in /joint_states stay 0)
              "finger_joint_states": ""}


class PolicyNode(Node):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        v = declare_parameters(self, PARAMETERS)
        if not v["actor"]:
            raise ConfigError("parameter `actor` (path of an exported actor.onnx or actor.pt) is required")
        # actor.onnx runs on ONNX Runtime (no torch on the robot PC), actor.pt on torch (torch.export)
        self.actor = DeployedActor(v["actor"], torch_threads=int(v["torch_threads"]), runtime=v["runtime"])
        self.joint_names = list(v["joint_names"])
        if len(self.joint_names) != 9:
            raise ConfigError(f"joint_names needs 7 arm + 2 finger joints, got {self.joint_names}")
        cam = v["camera_namespace"].strip("/")
        # creation order = handling order when several are ready: state before images
        self.create_subscription(CameraInfo, f"{cam}/{ri.COLOR_INFO}", self._on_info, 5)
        self.create_subscription(JointState, ri.JOINT_STATES, self._on_joints, 10)
        self.finger_msg: JointState | None = None
        self.fingers_from = v["finger_joint_states"]
        if self.fingers_from:
            self.create_subscription(JointState, self.fingers_from, self._on_fingers, 10)
        self.create_subscription(PoseStamped, v["goal_topic"], self._on_goal, 10)
        image_qos = IMAGE_QOS.get(v["image_qos"])
        if image_qos is None:
            raise ConfigError(f"image_qos must be one of {sorted(IMAGE_QOS)}, got {v['image_qos']!r}")
        self.create_subscription(Image, f"{cam}/{ri.DEPTH_IMAGE}", self._on_depth, image_qos)
        self.create_subscription(Image, f"{cam}/{ri.COLOR_IMAGE}", self._on_color, image_qos)
        self.joint_wait_s = float(v["joint_wait_s"])
        self.joint_tolerance_ns = int(float(v["joint_tolerance_s"]) * 1e9)
        if not 0 <= self.joint_tolerance_ns <= 20_000_000:
            raise ConfigError(f"joint_tolerance_s must be in [0, 0.02] s, got {v['joint_tolerance_s']}")
        self.period_ns = int(round(1e9 / self.actor.motion.control_rate_hz))
        self.rate_tolerance_ns = int(float(v["rate_tolerance_s"]) * 1e9)
        if not 0 <= self.rate_tolerance_ns < self.period_ns // 2:
            raise ConfigError(f"rate_tolerance_s must be in [0, half the control period "
                              f"{self.period_ns / 2e9:.3f} s), got {v['rate_tolerance_s']}")
        self.acted_stamp: int | None = None
        self.pub_twist = self.create_publisher(TwistStamped, ri.POLICY_TWIST, 10)
        self.pub_gripper = self.create_publisher(JointTrajectory, ri.POLICY_GRIPPER, 10)
        self.color: Image | None = None
        self.depth: Image | None = None
        self.joint_msg: JointState | None = None
        self.joints_stamp = 0
        self.pair_since = 0.0   # when the pending colour + depth pair became complete
        self.goal: np.ndarray | None = None
        self.info_key = None
        self.camera_ok = False
        self.skipped: dict[str, int] = {}
        self.actions = 0
        apply_thread_priority(self, v["thread_priority"])   # last: every thread the node needs exists now

    # ------------------------------------------------------------------ inputs
    def _skip(self, why: str, detail) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1
        self.get_logger().warning(f"frame skipped ({why}): {detail}", throttle_duration_sec=2.0)

    def _on_info(self, msg: CameraInfo) -> None:
        key = (msg.width, msg.height, tuple(msg.k))
        if key == self.info_key:
            return
        self.info_key = key
        try:
            self.actor.set_camera(intrinsics_from_camera_info(msg))
            self.camera_ok = True
            self.get_logger().info(f"camera {msg.width}x{msg.height} accepted for the "
                                   f"{self.actor.size}px actor")
            self._try_act()
        except (ConfigError, ValueError) as exc:
            self.camera_ok = False
            self.get_logger().error(f"camera refused, not acting: {exc}")

    def _on_joints(self, msg: JointState) -> None:
        # joint states come at up to 1 kHz: keep the newest message, parse it only when acting
        self.joint_msg = msg
        self.joints_stamp = ns_from_stamp(msg.header.stamp)
        if self.color is not None and self.depth is not None:
            self._try_act()

    def _on_fingers(self, msg: JointState) -> None:
        self.finger_msg = msg

    def _joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities of the 9 joints (arm from joint_states; fingers from there or, with
        `finger_joint_states`, from the gripper's own topic)."""
        sources = [(self.joint_msg, self.joint_names[:7])]
        if self.fingers_from:
            if self.finger_msg is None:
                raise ValueError(f"no finger joint state on {self.fingers_from} yet")
            sources.append((self.finger_msg, self.joint_names[7:]))
        else:
            sources[0] = (self.joint_msg, self.joint_names)
        q, qd = [], []
        for msg, wanted in sources:
            names = list(msg.name)
            try:
                idx = [names.index(n) for n in wanted]
            except ValueError:
                where = self.fingers_from if msg is self.finger_msg else "joint_states"
                raise ValueError(f"{where} names {names} do not include {wanted}") from None
            q += [msg.position[i] for i in idx]
            qd += [msg.velocity[i] for i in idx] if len(msg.velocity) == len(names) else [0.0] * len(idx)
        return np.array(q), np.array(qd)

    def _on_goal(self, msg: PoseStamped) -> None:
        try:
            self.goal = pose_position(msg, ri.BASE_FRAME)
        except MessageError as exc:
            return self._skip("goal", exc)
        self._try_act()

    def _on_color(self, msg: Image) -> None:
        self.color = msg
        self.pair_since = time.monotonic()
        self._try_act()

    def _on_depth(self, msg: Image) -> None:
        self.depth = msg
        self.pair_since = time.monotonic()
        self._try_act()

    # ------------------------------------------------------------------ acting
    def _try_act(self) -> None:
        if self.color is None or self.depth is None:
            return
        stamp = ns_from_stamp(self.color.header.stamp)
        if stamp != ns_from_stamp(self.depth.header.stamp):
            return   # wait for the matching half of the pair
        if self.acted_stamp is not None and stamp < self.acted_stamp + self.period_ns - self.rate_tolerance_ns:
            self.color = self.depth = None   # between control ticks: this frame is not acted on
            return
        # The pair waits (is not dropped) for camera_info, a goal and a joint state taken at the frame's
        # time: one stamped at most joint_tolerance_s before it, or newer. On a real arm joint_states
        # (250 Hz - 1 kHz) are that close or newer; waiting for a strictly newer one would add up to a
        # joint-state period to every command. A lockstep twin steps 40 ms of sim time at a time and
        # sends the joint state with the frame's stamp, so its previous one is never taken for it.
        # After joint_wait_s the newest joint state is used regardless.
        if not self.camera_ok or self.joint_msg is None or self.goal is None:
            return
        if (self.joints_stamp < stamp - self.joint_tolerance_ns
                and time.monotonic() - self.pair_since < self.joint_wait_s):
            return
        color, depth, self.color, self.depth = self.color, self.depth, None, None
        cam = self.actor.camera
        try:
            rgb = image_to_rgb(color, (cam.height, cam.width))
            depth_mm = image_to_depth_mm(depth, (cam.height, cam.width))
            obs = self.actor.observation(rgb, depth_mm, *self._joint_state(), self.goal)
            v, width = self.actor.command(self.actor.act(obs))
        except (MessageError, ValueError, FloatingPointError) as exc:
            return self._skip("bad input", exc)
        # the arm motion first: it is what the latency budget is for
        self.pub_twist.publish(twist_stamped(v, color.header.stamp, ri.BASE_FRAME))
        self.pub_gripper.publish(gripper_command(width, color.header.stamp))
        self.acted_stamp = stamp
        self.actions += 1


def main(args=None) -> int:
    return run_node(PolicyNode, "aac_policy_node", (ConfigError, ValueError), args, on_close=lambda node: node.actor.close())


if __name__ == "__main__":
    raise SystemExit(main())
