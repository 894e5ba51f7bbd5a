"""`aac_arm_node`: policy commands -> always-on safety filter -> the arm (thin rclpy adapter).

Subscribes (relative names): aac/policy/twist (TwistStamped, m/s of the grasp point, panda_link0),
aac/policy/gripper (JointTrajectory, panda_finger_joint1 = half the opening), joint_states,
<camera_namespace>/color/image_raw (only its arrival time: the camera watchdog), aac/safety/stop
(Bool, true latches a stop). Service aac/safety/reset (Trigger) clears the latch.
Hold / release (service aac/safety/release, SetBool; released at start): while held, policy commands are
dropped (counted `held`) and the episode runner's (aac/episode/twist, aac/episode/gripper: start-pose
moves) go through the same filter instead; the timer then holds the arm when nothing comes.
Publishes, by the `output` parameter:
  servo             the filtered twist on servo_node/delta_twist_cmds (MoveIt Servo / sim twin)
  joint_trajectory  IK of the filtered twist -> <arm_controller>/joint_trajectory, one point
                    reached one control period from now (ros2_control joint_trajectory_controller)
  none              nothing to the arm (the filter still runs and counts)
and the gripper on <gripper_controller>/joint_trajectory (or a control_msgs GripperCommand action
when `gripper_output` is gripper_command and control_msgs is installed), aac/safety/filtered_twist
(what the filter let through, also in dry run) and aac/safety/interventions (JSON counts, 1 Hz).

Timing: a policy twist is filtered and sent when it arrives; a timer at rate_hz re-sends the newest
command when nothing was sent for a control period, and while a stop is latched or the camera is
stale it sends a zero command (servo) or a hold target (joint_trajectory) every period. So when
colour frames stop, a zero command goes out within one control period of the watchdog timeout.
`dry_run`: everything runs and is counted, nothing is sent to the arm or gripper.
"""
from __future__ import annotations

import json
import time

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from aac_robot import ros_interface as ri
from aac_robot.actor_spec import limit_mismatches, read_actor_spec, trained_limits
from aac_robot.config_base import ConfigError
from aac_robot.node_main import apply_thread_priority, declare_parameters, run_node
from aac_robot.ros_convert import MessageError, gripper_command, trajectory_target, twist_stamped

from .arm_ik import IK_TOLERANCE_M, ArmIK
from .gripper import GripperGoals
from .safety import TRAINED, SafetyConfig, SafetyFilter, config_fields

try:   # only on a full ROS install (not on the pip wheels); used for gripper_output:=gripper_command
    from action_msgs.msg import GoalStatus
    from control_msgs.action import GripperCommand
    from rclpy.action import ActionClient
except ImportError:
    GripperCommand = GoalStatus = None
    ActionClient = None
try:   # MoveIt's messages (full ROS install): switch Servo to twist commands at start
    from moveit_msgs.srv import ServoCommandType
except ImportError:
    ServoCommandType = None

OUTPUTS = ("servo", "joint_trajectory", "none")
GRIPPER_OUTPUTS = ("joint_trajectory", "gripper_command", "none")
# control_dt is not a parameter: it is 1 / rate_hz
SAFETY_PARAMETERS = {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in config_fields().items() if k != "control_dt"}
NODE_NAME = ri.ARM_NODE_NAME
PARAMETERS = {   # name: default (the contract with the launch files / config YAML)
    "output": "servo", "arm_controller": ri.DEFAULT_ARM_CONTROLLER,
    "gripper_controller": ri.DEFAULT_GRIPPER_CONTROLLER, "joint_names": list(ri.ARM_JOINTS),
    "gripper_joint": ri.FINGER_JOINTS[0], "gripper_output": "joint_trajectory",
    "gripper_action": "gripper_controller/gripper_cmd", "gripper_max_effort": 20.0,
    "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE, "command_frame": ri.BASE_FRAME,
    "dry_run": False, "rate_hz": TRAINED.control_rate_hz, "actor": "",
    "servo_command_type_service": "servo_node/switch_command_type",
    "thread_priority": 0,   # SCHED_FIFO priority of the node's threads (0 = the OS default); aac_robot.node_main
    **SAFETY_PARAMETERS,
}
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
GRIPPER_DEADBAND_M = 0.002   # gripper action goals are sent only when the opening changes by more
TRACKING_TOLERANCE_M = 0.02  # joint targets continue from the last one while the arm is this close to it


def _duration(seconds: float) -> Duration:
    ns = int(round(seconds * 1e9))
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _plain(value):
    return [float(v) for v in value] if hasattr(value, "__len__") and not isinstance(value, str) else value


class ArmNode(Node):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        # read-only: a limit changed at run time would not be the one in force (the filter is built
        # once), so a set request is refused with rclpy's reason instead of being silently ignored
        values = declare_parameters(self, PARAMETERS, ParameterDescriptor(read_only=True))
        self.output, self.gripper_output = values["output"], values["gripper_output"]
        if self.output not in OUTPUTS:
            raise ConfigError(f"parameter output must be one of {OUTPUTS}, got {self.output!r}")
        if self.gripper_output not in GRIPPER_OUTPUTS:
            raise ConfigError(f"parameter gripper_output must be one of {GRIPPER_OUTPUTS}, got {self.gripper_output!r}")
        if self.gripper_output == "gripper_command" and GripperCommand is None:
            raise ConfigError("gripper_output:=gripper_command needs control_msgs (not installed here); "
                              "use gripper_output:=joint_trajectory")
        rate = float(values["rate_hz"])
        if not 1.0 <= rate <= 1000.0:
            raise ConfigError(f"parameter rate_hz must be in [1, 1000], got {rate}")
        self.period = 1.0 / rate
        safety = {k: _plain(values[k]) for k in SAFETY_PARAMETERS}
        self.filter = SafetyFilter(SafetyConfig.from_dict({**safety, "control_dt": self.period}),
                                   dry_run=bool(values["dry_run"]))
        self.joint_names = tuple(values["joint_names"])
        self.ik = ArmIK(self.joint_names)   # FK for the workspace check in every output mode
        self.command_frame = values["command_frame"]
        self.gripper_joint = values["gripper_joint"]
        self.gripper_max_effort = float(values["gripper_max_effort"])

        # newest inputs, with their arrival times on the monotonic clock
        self.twist_cmd: tuple[np.ndarray, float] | None = None
        self.joint: tuple[np.ndarray, float] | None = None
        self.last_camera: float | None = None
        self.last_output = -np.inf
        self.q_hold: np.ndarray | None = None
        self.q_cmd: tuple[np.ndarray, float] | None = None   # last joint target sent, when
        self.last_events: tuple = ()
        self.gripper_goals = GripperGoals(float(values["gripper_max_width_m"]), GRIPPER_DEADBAND_M)
        self.gripper_goal_handle = None
        self.released = True   # the policy drives; false: the episode runner holds / moves the arm

        cam = values["camera_namespace"].strip("/")
        self.create_subscription(TwistStamped, ri.POLICY_TWIST, lambda m: self._on_twist(m, "policy"), 10)
        self.create_subscription(JointTrajectory, ri.POLICY_GRIPPER, lambda m: self._on_gripper(m, "policy"), 10)
        self.create_subscription(TwistStamped, ri.EPISODE_TWIST, lambda m: self._on_twist(m, "episode"), 10)
        self.create_subscription(JointTrajectory, ri.EPISODE_GRIPPER, lambda m: self._on_gripper(m, "episode"), 10)
        self.create_service(SetBool, ri.SAFETY_RELEASE, self._on_release)
        self.create_subscription(JointState, ri.JOINT_STATES, self._on_joint_state, 10)
        # raw: only the arrival time matters, the image is never deserialised
        self.create_subscription(Image, f"{cam}/{ri.COLOR_IMAGE}", self._on_camera, qos_profile_sensor_data, raw=True)
        self.stop_asserted_by: str | None = None   # who last published `true` on the stop topic, until a `false`
        self.create_subscription(Bool, ri.SAFETY_STOP, self._on_stop, 10)
        self.create_service(Trigger, ri.SAFETY_RESET, self._on_reset)

        self.pub_twist = self.pub_arm = self.pub_gripper = self.gripper_client = None
        self.servo_switch = None
        if self.output == "servo":
            self.pub_twist = self.create_publisher(TwistStamped, ri.TWIST_COMMAND, 10)
            self._switch_servo_to_twist(values["servo_command_type_service"])
        elif self.output == "joint_trajectory":
            arm = values["arm_controller"].strip("/")
            self.pub_arm = self.create_publisher(JointTrajectory, f"{arm}/{ri.JOINT_TRAJECTORY}", 10)
        if self.gripper_output == "joint_trajectory":
            grip = values["gripper_controller"].strip("/")
            self.pub_gripper = self.create_publisher(JointTrajectory, f"{grip}/{ri.JOINT_TRAJECTORY}", 10)
        elif self.gripper_output == "gripper_command":
            self.gripper_client = ActionClient(self, GripperCommand, values["gripper_action"])
        self.pub_filtered = self.create_publisher(TwistStamped, ri.FILTERED_TWIST, 10)
        # the limits in force, once, latched (transient local): what `ros2 param get` may not be trusted for
        self.pub_limits = self.create_publisher(String, ri.SAFETY_LIMITS, LATCHED)
        self.pub_report = self.create_publisher(String, ri.INTERVENTIONS, 10)
        self.create_timer(self.period, self._on_tick)
        self.create_timer(1.0, self._publish_report)
        self.get_logger().info(
            f"arm output {self.output!r}, gripper {self.gripper_output!r}, {rate:g} Hz"
            f"{' (DRY RUN: nothing is sent)' if self.filter.dry_run else ''}; safety "
            f"{json.dumps(self.filter.config.to_dict())}")
        self.limit_warnings = self._compare_with_trained(values["actor"], rate)
        self.limits_in_force = {**self.filter.config.to_dict(), "rate_hz": rate, "output": self.output,
                                "dry_run": self.filter.dry_run, "trained_vs_safety": self.limit_warnings}
        self.pub_limits.publish(String(data=json.dumps(self.limits_in_force)))
        apply_thread_priority(self, values["thread_priority"])   # last: every thread the node needs exists now

    def _switch_servo_to_twist(self, service: str) -> None:
        """MoveIt Servo (jazzy) accepts twists only after `~/switch_command_type` set TWIST (1); until
        then our commands are dropped. Retried every second until Servo answers (it may start after
        us); the sim twin has no such service and needs none ('' = do not switch)."""
        if not service:
            return
        if ServoCommandType is None:
            self.get_logger().warning(
                f"moveit_msgs is not installed: cannot switch MoveIt Servo to twist commands; with a real Servo run "
                f"`ros2 service call /{service} moveit_msgs/srv/ServoCommandType \"{{command_type: 1}}\"` once")
            return
        client = self.create_client(ServoCommandType, service)

        def attempt():
            if self.servo_switch is None or not client.service_is_ready():
                return
            self.servo_switch.cancel()
            self.servo_switch = None
            req = ServoCommandType.Request()
            req.command_type = ServoCommandType.Request.TWIST
            client.call_async(req).add_done_callback(lambda f: self.get_logger().info(
                f"MoveIt Servo command type -> TWIST: {'ok' if f.result() and f.result().success else 'REFUSED'}"))
        self.servo_switch = self.create_timer(1.0, attempt)

    def _compare_with_trained(self, actor: str, rate: float) -> list[str]:
        """Say at start where the safety limits are tighter than what the policy was trained with
        (the safety limits still win: nothing is loosened). '' = no actor named: nothing to compare."""
        if not actor:
            return []
        trained, unknown = trained_limits(read_actor_spec(actor))
        cfg = self.filter.config
        out = limit_mismatches(trained, cfg.max_ee_speed_m_s, rate, cfg.workspace_low, cfg.workspace_high,
                               cfg.gripper_max_width_m)
        if unknown:
            out.append(f"{actor} records no trained {', '.join(unknown)} (an older export): not compared")
        for line in out:
            self.get_logger().warning(f"trained vs safety limits: {line}")
        if not out:
            self.get_logger().info(f"safety limits cover the policy's trained motion limits "
                                   f"({json.dumps(trained.to_spec())})")
        return out

    # ------------------------------------------------------------------ inputs
    def _on_camera(self, _raw) -> None:
        self.last_camera = time.monotonic()

    def _on_joint_state(self, msg: JointState) -> None:
        q = self.ik.arm_q(msg.name, msg.position)
        if q is not None:   # messages without the arm joints (e.g. a gripper's own) are not ours
            self.joint = (q, time.monotonic())

    def _from_driver(self, source: str) -> bool:
        """Is `source` the one that drives now? A policy command while held is counted `held`; an episode
        command while released is ignored (the policy drives)."""
        if source == ("policy" if self.released else "episode"):
            return True
        if source == "policy":
            self.filter.record("held")
        return False

    def _on_release(self, request, response):
        if bool(request.data) != self.released:
            self.released = bool(request.data)
            self.twist_cmd, self.q_hold = None, None   # the other source's last command is not re-sent
            self._send_arm(from_policy=False)          # hold at once until the new source commands
            self.get_logger().info("policy released: it drives the arm" if self.released else
                                   "arm held: policy commands dropped, episode runner commands accepted")
        response.success = True
        response.message = json.dumps({"released": self.released, "stopped": self.filter.stopped})
        return response

    def _on_twist(self, msg: TwistStamped, source: str = "policy") -> None:
        if not self._from_driver(source):
            return
        if msg.header.frame_id not in ("", ri.BASE_FRAME):
            self.filter.record("refused_message")
            self.get_logger().warning(f"refused policy twist: frame {msg.header.frame_id!r} is not "
                                      f"{ri.BASE_FRAME!r} (nothing sent)")
            return
        lin = msg.twist.linear
        self.twist_cmd = (np.array([lin.x, lin.y, lin.z], dtype=np.float64), time.monotonic())
        self._send_arm(from_policy=True, stamp=msg.header.stamp)

    def _on_gripper(self, msg: JointTrajectory, source: str = "policy") -> None:
        if not self._from_driver(source):
            return
        try:
            target = trajectory_target(msg, ri.FINGER_JOINTS)
        except MessageError as exc:
            self.filter.record("refused_message")
            self.get_logger().warning(f"refused policy gripper command: {exc} (nothing sent)")
            return
        width = 2.0 * float(np.mean(list(target.values())))
        now = time.monotonic()
        w, events = self.filter.filter_gripper(width, now, self.last_camera, check_state=True,
                                               state_time=None if self.joint is None else self.joint[1])
        if events:
            self.get_logger().warning(f"gripper command {width:.4f} m: {', '.join(events)} -> "
                                      f"{'not sent' if w is None else f'{w:.4f} m'}")
        if w is None or self.filter.dry_run:
            return
        if self.pub_gripper is not None:
            self.pub_gripper.publish(gripper_command(w, joint=self.gripper_joint,
                                                     time_from_start=_duration(self.period)))
        elif self.gripper_client is not None:
            self._send_gripper_goal(w)

    def _send_gripper_goal(self, width: float) -> None:
        """franka_gripper's GripperCommand action (see aac_driver.gripper for why goals go this way)."""
        w = self.gripper_goals.next_goal(width)
        if w is None:
            return
        if not self.gripper_client.server_is_ready():
            self.gripper_goals.last_sent_m = None   # not sent: try again on the next command
            self.get_logger().warning(f"gripper action server {self.gripper_client._action_name!r} not available; "
                                      "gripper command not sent", throttle_duration_sec=5.0)
            return
        if self.gripper_goal_handle is not None:   # one goal at a time: the gripper runs each to its end
            self.gripper_goal_handle.cancel_goal_async()
            self.gripper_goal_handle = None
        goal = GripperCommand.Goal()
        goal.command.position = w / 2.0      # finger joint position = half the width (franka_gripper: width = 2 x position)
        goal.command.max_effort = self.gripper_max_effort
        self.gripper_client.send_goal_async(goal).add_done_callback(lambda f, w=w: self._on_gripper_goal(f, w))

    def _on_gripper_goal(self, future, width: float) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.gripper_goals.last_sent_m = None
            self.get_logger().warning(f"gripper goal {width:.4f} m rejected by the server")
            return
        self.gripper_goal_handle = handle
        handle.get_result_async().add_done_callback(lambda f, w=width: self._on_gripper_result(f, w))

    def _on_gripper_result(self, future, width: float) -> None:
        res = future.result()
        if res is None or res.status != GoalStatus.STATUS_ABORTED:
            return
        measured = 2.0 * float(res.result.position) if res.result is not None else None
        again, why = self.gripper_goals.on_aborted(width, measured)
        self.get_logger().warning(f"gripper goal aborted: {why}")
        if again is not None and not self.filter.stopped:
            self._send_gripper_goal(again)

    def _publisher_name(self, topic: str, info) -> str:
        """The node that published a message (matched by the publisher's GID, where the middleware
        gives it), else 'unknown'."""
        gid = (info or {}).get("publisher_gid") or {}
        data = list(gid.get("data", [])) if isinstance(gid, dict) else []
        if data:
            for endpoint in self.get_publishers_info_by_topic(topic):
                if list(endpoint.endpoint_gid)[:len(data)] == data[:len(endpoint.endpoint_gid)]:
                    ns = endpoint.node_namespace.rstrip("/")
                    return f"{ns}/{endpoint.node_name}"
        return "unknown"

    def _on_stop(self, msg: Bool, info) -> None:   # two arguments: rclpy passes the message info (publisher GID)
        who = self._publisher_name(self.resolve_topic_name(ri.SAFETY_STOP), info)
        if not msg.data:
            if self.stop_asserted_by is not None:
                self.get_logger().info(f"stop request withdrawn by {who}; the stop stays latched until the reset "
                                       "service")
            self.stop_asserted_by = None
            return
        self.stop_asserted_by = who
        self.filter.stop(f"stop topic ({who})")
        self.get_logger().warning(f"STOP latched (stop topic, from {who}); publish false there, then call the "
                                  "reset service to resume")
        self._send_arm(from_policy=False)

    def _on_reset(self, request, response):
        if self.stop_asserted_by is not None:   # the stop request is still asserted: it wins
            response.success = False
            response.message = (f"refused: a stop is still asserted on {ri.SAFETY_STOP} (last true from "
                                f"{self.stop_asserted_by}); publish false there first")
            self.get_logger().warning(f"safety reset {response.message}")
            return response
        was = self.filter.stop_reason
        self.filter.reset()
        # rclpy's service callbacks do not say who called: logged without a caller
        self.get_logger().warning(f"safety reset by the reset service (caller not reported by rclpy)"
                                  f"{f'; cleared: {was}' if was else ''}")
        response.success = True
        response.message = json.dumps(self.filter.report())
        return response

    # ------------------------------------------------------------------ output
    def _hazard(self, now: float) -> bool:
        stale = self.last_camera is None or now - self.last_camera > self.filter.config.camera_timeout_s
        return self.filter.stopped or stale

    def _on_tick(self) -> None:
        now = time.monotonic()
        if self._hazard(now) or (self.twist_cmd is not None and now - self.last_output >= 0.9 * self.period):
            self._send_arm(from_policy=False)

    def _send_arm(self, from_policy: bool, stamp=None) -> None:
        """`stamp`: a policy command keeps the stamp of the camera frame it was computed from, so
        what reaches the arm can be traced to its frame (recording, latency); timer ticks use now."""
        now = time.monotonic()
        v, command_time = self.twist_cmd if self.twist_cmd is not None else (np.zeros(3), None)
        q, state_time = self.joint if self.joint is not None else (None, None)
        usable = q is not None and np.isfinite(q).all()
        base, step_s = self._joint_base(q, now) if usable and self.output == "joint_trajectory" else (q, self.period)
        # the workspace check looks one period ahead of where the next command starts from
        ee = None if q is None else (self.ik.fk(base) if usable else np.full(3, np.nan))
        v_safe, events = self.filter.filter_twist(now, v, ee, self.last_camera, command_time, state_time)
        stamp = stamp if stamp is not None else self.get_clock().now().to_msg()
        sent = "nothing"
        if self.output == "servo":
            # stamped now: MoveIt Servo halts on a twist older than incoming_command_timeout (0.1 s by
            # default), and the camera frame's stamp can be that old by the time the command is sent
            self._publish(self.pub_twist, self._twist_msg(v_safe, self.get_clock().now().to_msg()))
            sent = f"v {np.round(v_safe, 3).tolist()} m/s"
        elif self.output == "joint_trajectory" and usable:
            target, ev = self._joint_targets(q, base, v_safe, step_s)
            events += ev
            point = JointTrajectoryPoint(positions=target.tolist(), time_from_start=_duration(self.period))
            self._publish(self.pub_arm, JointTrajectory(joint_names=list(self.joint_names), points=[point]))
            self.q_cmd = (target, now)
            sent = f"q {np.round(target, 3).tolist()}"
        self.pub_filtered.publish(self._twist_msg(v_safe, stamp))   # after the command: display/recording only
        self.last_output = now
        self._log(events, from_policy, v, sent)

    def _joint_base(self, q: np.ndarray, now: float) -> tuple[np.ndarray, float]:
        """Where the next joint target starts from and how far it advances (seconds of motion).

        While the arm tracks the previous target, the new one continues from it by the time that
        really passed since it was sent, capped at one control period: streamed targets then advance
        at exactly v whatever the rate of the commands (a 30 Hz stream of targets each one period
        ahead would otherwise move the arm 30/rate_hz times faster than v; starting from the
        measured state, which lags, would move it slower). Otherwise: the measured state, one period."""
        if self.q_cmd is None or now - self.q_cmd[1] > 2.5 * self.period:
            return q, self.period
        last, sent = self.q_cmd
        if np.linalg.norm(self.ik.fk(last) - self.ik.fk(q)) > TRACKING_TOLERANCE_M:
            return q, self.period
        return last, min(max(now - sent, 0.0), self.period)

    def _joint_targets(self, q: np.ndarray, base: np.ndarray, v_safe: np.ndarray,
                       step_s: float) -> tuple[np.ndarray, list[str]]:
        if not v_safe.any():   # stop / watchdog / zero command: hold where the arm was when it began
            if self.q_hold is None:
                self.q_hold = q.copy()
            return self.q_hold, []
        self.q_hold = None
        target = self.ik.targets(base, v_safe, step_s)
        if self.ik.last_residual_m > IK_TOLERANCE_M:
            self.q_hold = q.copy()
            return self.q_hold, self.filter.record("ik_failed")
        # joint velocity of the commanded trajectory: from the target it continues
        safe, events = self.filter.filter_joint_targets(base, target, max(step_s, 1e-3))
        return (base if safe is None else safe), events

    def _publish(self, pub, msg) -> None:
        if pub is not None and not self.filter.dry_run:
            pub.publish(msg)

    def _twist_msg(self, v, stamp) -> TwistStamped:
        return twist_stamped(v, stamp, self.command_frame)

    def _log(self, events: list[str], from_policy: bool, v, sent: str) -> None:
        """One line per clipped/refused policy command; watchdog ticks log when their events change;
        one line when commands go through unchanged again."""
        previous, self.last_events = self.last_events, tuple(events)
        if not events:
            if previous:
                self.get_logger().info(f"arm command unrestricted again: sending {sent}")
            return
        if not from_policy and tuple(events) == previous:
            return
        what = f"policy twist {np.round(v, 3).tolist()} m/s" if from_policy else "watchdog tick"
        extra = f" (stop: {self.filter.stop_reason})" if self.filter.stopped else ""
        self.get_logger().warning(f"{what}: {', '.join(events)}{extra} -> "
                                  f"{'dry run, not sent: ' if self.filter.dry_run else 'sent '}{sent}")

    def _publish_report(self) -> None:
        report = {**self.filter.report(), "output": self.output, "node": self.get_fully_qualified_name(),
                  "released": self.released}
        self.pub_report.publish(String(data=json.dumps(report)))

    def destroy_node(self):
        self.ik.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(ArmNode, "aac_arm_node", (ConfigError, ValueError), args)


if __name__ == "__main__":
    raise SystemExit(main())
