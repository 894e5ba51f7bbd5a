"""ROS 2 sim node: a PyBullet Panda + RealSense that looks like the real robot stack on the wire.

Thin rclpy adapter over `SimServer`. Publishes (relative names, so a namespace per sim):
  <camera_namespace>/color/image_raw (rgb8) + camera_info, <camera_namespace>/aligned_depth_to_color/
  image_raw (16UC1 mm) + camera_info, joint_states, robot_description (transient local), /clock,
  aac/privileged_state + aac/proprio (labelled Float32MultiArray), aac/goal (PoseStamped),
  aac/markers (MarkerArray), aac/sim_info (JSON, transient local).
Accepts: servo_node/delta_twist_cmds (TwistStamped, m/s), /<arm_controller>/joint_trajectory,
  /<gripper_controller>/joint_trajectory (panda_finger_joint1 = half the opening), the
  aac/reset service (std_srvs/Trigger), and aac/perturb (Vector3Stamped: knock the block, evals).

Modes
- lockstep (training): one control step per command. A step happens when a twist AND a gripper
  command stamped with the current observation's stamp have both arrived (or one arm trajectory
  with that stamp). Commands with any other stamp are stale and refused.
  Its command subscriptions are best effort unless `step_reliability` is `reliable`.
- realtime (digital twin): steps at wall-clock control rate with the newest commands; a twist older
  than command_timeout_s is treated as zero velocity (the arm stops).
Every refused command is logged and leaves the robot where it is.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped, Vector3Stamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float32MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from aac_robot import ros_interface as ri
from aac_robot.config_base import apply_overrides
from aac_robot.node_main import QUIET_PUB, QUIET_SUB, ExecutorThread, declare_parameters, run_node
from aac_robot.ros_convert import (MessageError, camera_info_msg, joint_state_msg, ns_from_stamp, numpy_to_image,
                                   pack_labelled, pose_stamped, stamp_from_ns, trajectory_target)

from .config import SEG_KEY, ConfigError, RandomizationConfig, SimConfig, load_yaml
from .env import AacPandaEnv
from .scene import GRIPPER_MAX_WIDTH
from .sim_server import CommandError, SimServer, SimStep
from .take_loop import TakeLoop, step_qos

NODE_NAME = "aac_sim_node"
PARAMETERS = {   # name: default (the contract with aac_bringup's config/*.yaml)
    "task": "push", "image_size": 84, "mode": "lockstep", "seed": -1, "randomize": True,
    "sim_config": "", "sim_overrides": [""], "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE,
    "arm_controller": ri.DEFAULT_ARM_CONTROLLER, "gripper_controller": ri.DEFAULT_GRIPPER_CONTROLLER,
    "camera_intrinsics": "", "camera_extrinsics": "", "command_timeout_s": 0.2, "publish_clock": True,
    "step_reliability": "best_effort",   # lockstep command subscriptions: best_effort | reliable
    # what the camera topics carry: the policy-size frames (policy), or the camera's full frames (native: as a
    # RealSense, e.g. 640x480, with their camera_info; needs sim camera_render: native)
    "camera_resolution": "policy",
    # a printed calibration board bolted to the hand, as a PNG (aac_calibrate --write-board) and its size in
    # metres: the twin then shows it to its camera for an eye-to-hand calibration ('' = none)
    "calibration_board_image": "", "calibration_board_size_m": [0.15, 0.21],
    # the trainer's SimConfig (JSON), handed over at run time through the parameter service by the trainer
    # (aac_policy.ros_env): a lockstep sim then runs exactly the trainer's config ('' = the parameters above)
    "trainer_sim_config": "",
}
# what a trainer's config does not set on a sim: the sim's own camera files and whether it renders
SIM_OWN_FIELDS = ("render_images", "camera_intrinsics", "camera_extrinsics")
CAMERA_RESOLUTIONS = ("policy", "native")
MODES = ("lockstep", "realtime")
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)


def _locked(callback):
    """Callbacks run in two threads (commands in the main one, services/timer in the executor's):
    one at a time touches the simulator."""
    @functools.wraps(callback)
    def run(self, *args):
        with self.lock:
            return callback(self, *args)
    return run


def sim_config_from_parameters(values: dict) -> SimConfig:
    """SimConfig from the node parameters: an optional strict YAML, then the simple overrides, then
    `sim_overrides` (KEY=VALUE strings on the SimConfig, e.g. randomization.textures=true: a trainer's
    `sim.` settings, so the sims run the trainer's exact config)."""
    base = load_yaml(SimConfig, values["sim_config"]) if values["sim_config"] else SimConfig()
    changes = {"task": values["task"], "image_size": int(values["image_size"])}
    if not values["randomize"]:
        changes["randomization"] = dataclasses.asdict(RandomizationConfig.off())
    for key in ("camera_intrinsics", "camera_extrinsics"):
        if values[key]:
            changes[key] = values[key]
    data = {**base.to_dict(), **changes}
    return SimConfig.from_dict(apply_overrides(data, [o for o in values["sim_overrides"] if o], "sim_overrides"))


class SimNode(Node):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        values = declare_parameters(self, PARAMETERS)
        self.mode = values["mode"]
        if self.mode not in MODES:
            raise ConfigError(f"parameter mode must be one of {MODES}, got {self.mode!r}")
        step_qos(values["step_reliability"])   # refused here in either mode (only lockstep uses it)
        self.cfg = sim_config_from_parameters(values)
        self.camera_resolution = values["camera_resolution"]
        if self.camera_resolution not in CAMERA_RESOLUTIONS:
            raise ConfigError(f"parameter camera_resolution must be one of {CAMERA_RESOLUTIONS}, "
                              f"got {self.camera_resolution!r}")
        if self.camera_resolution == "native" and (self.cfg.camera_render != "native" or not self.cfg.render_images):
            raise ConfigError("camera_resolution:=native publishes the camera's full frames, which the sim renders "
                              "only with camera_render: native (sim_overrides: ['camera_render=native'])")
        self.server = SimServer(AacPandaEnv(config=self.cfg))
        self.board = (values["calibration_board_image"], values["calibration_board_size_m"])
        if self.board[0]:
            self._add_board(*self.board)
        self.pending_seed = values["seed"] if values["seed"] >= 0 else None
        self._next: tuple[SimConfig, AacPandaEnv | None] | None = None   # a handed-over config, checked
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._on_parameters)
        self.command_timeout_s = float(values["command_timeout_s"])

        cam = values["camera_namespace"].strip("/")
        self.color_frame = ri.COLOR_OPTICAL_FRAME
        quiet, quiet_sub = {"event_callbacks": QUIET_PUB}, {"event_callbacks": QUIET_SUB}   # per-step topics
        self.pub_color = self.create_publisher(Image, f"{cam}/{ri.COLOR_IMAGE}", 10, **quiet)
        self.pub_color_info = self.create_publisher(CameraInfo, f"{cam}/{ri.COLOR_INFO}", 10, **quiet)
        self.pub_depth = self.create_publisher(Image, f"{cam}/{ri.DEPTH_IMAGE}", 10, **quiet)
        self.pub_depth_info = self.create_publisher(CameraInfo, f"{cam}/{ri.DEPTH_INFO}", 10, **quiet)
        self.pub_joints = self.create_publisher(JointState, ri.JOINT_STATES, 10, **quiet)
        self.pub_priv = self.create_publisher(Float32MultiArray, ri.PRIVILEGED_STATE, 10, **quiet)
        self.pub_seg = self.create_publisher(Image, ri.PRIVILEGED_SEGMENTATION, 10, **quiet)
        self.pub_proprio = self.create_publisher(Float32MultiArray, ri.PROPRIO, 10, **quiet)
        self.pub_goal = self.create_publisher(PoseStamped, ri.GOAL, 10, **quiet)
        self.pub_markers = self.create_publisher(MarkerArray, ri.MARKERS, 10, **quiet)
        self.pub_clock = self.create_publisher(Clock, ri.CLOCK, 10, **quiet) if values["publish_clock"] else None
        self.pub_info = self.create_publisher(String, ri.SIM_INFO, LATCHED)
        self.pub_description = self.create_publisher(String, ri.ROBOT_DESCRIPTION, LATCHED)

        # lockstep: every step waits for the commands, so the main thread takes them without an
        # executor (spin_sim). realtime: everything on the executor, one thread (its timer steps).
        self.lock = threading.Lock()
        self.commands = (TakeLoop(self, "commands", values["step_reliability"]) if self.mode == "lockstep"
                         else None)
        subscribe = self.commands.subscribe if self.commands else \
            (lambda kind, topic, callback: self.create_subscription(kind, topic, callback, 10, **quiet_sub))
        subscribe(TwistStamped, ri.TWIST_COMMAND, self._on_twist)
        arm, grip = values["arm_controller"].strip("/"), values["gripper_controller"].strip("/")
        # relative: /<namespace>/<controller>/joint_trajectory, as with a namespaced controller_manager
        subscribe(JointTrajectory, f"{arm}/{ri.JOINT_TRAJECTORY}", self._on_arm)
        subscribe(JointTrajectory, f"{grip}/{ri.JOINT_TRAJECTORY}", self._on_gripper)
        self.create_service(Trigger, ri.RESET_SERVICE, self._on_reset)
        self.create_subscription(Vector3Stamped, ri.PERTURB, self._on_perturb, 10)

        # newest commands; in lockstep they are keyed by the stamp they answer
        self.twist: tuple[int, np.ndarray, float] | None = None       # (stamp, linear m/s, wall time)
        self.gripper: tuple[int, float] | None = None                 # (stamp, width m)
        self.arm_q: np.ndarray | None = None                          # realtime: held joint targets
        self.refused = 0
        self.tick_timer = None

        self.camera_namespace = cam
        self.trainer_config = False   # True once it runs a config a trainer handed over
        self._publish_info()
        self._publish_description()
        if self.mode == "realtime":   # a twin runs from the start; lockstep waits for the trainer's reset,
            self._publish(self.server.reset(self._take_seed()))   # so its env's history equals a fresh in-process env's
            self.tick_timer = self.create_timer(self.cfg.control_dt, self._on_tick)
        self.get_logger().info(f"{self.cfg.task} sim ready ({self.mode}, {self.cfg.image_size}px)")

    def _publish_info(self) -> None:
        info = {**self.server.info(), "config": self.cfg.to_dict(), "mode": self.mode,
                "node": self.get_fully_qualified_name(), "camera_namespace": self.camera_namespace,
                "camera_resolution": self.camera_resolution, "trainer_config": self.trainer_config}
        self.pub_info.publish(String(data=json.dumps(info)))

    # ------------------------------------------------------------------ parameters / reset
    def _trainer_config(self, text: str) -> SimConfig:
        """The config a trainer hands over (JSON of its SimConfig), with this sim's own camera files and
        rendering; ConfigError when it is not a valid SimConfig or this sim cannot take one."""
        if self.mode != "lockstep":
            raise ConfigError("only a lockstep sim (a trainer's) takes a trainer's config; this one runs realtime")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"trainer_sim_config is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError("trainer_sim_config must be a JSON object (a SimConfig)")
        own = self.cfg.to_dict()
        cfg = SimConfig.from_dict({**data, **{k: own[k] for k in SIM_OWN_FIELDS}})
        if self.camera_resolution == "native" and cfg.camera_render != "native":
            raise ConfigError("this sim publishes full camera frames (camera_resolution native): the config "
                              "must keep camera_render: native")
        return cfg

    def _check_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """A handed-over config is taken only if its env can be built (built here, swapped in after)."""
        for prm in params:
            if prm.name == "trainer_sim_config" and prm.value:
                try:
                    cfg = self._trainer_config(prm.value)
                    self._next = (cfg, None if cfg == self.cfg else AacPandaEnv(config=cfg))
                except Exception as exc:   # any failure to build it: refused, the sim keeps running its config
                    return SetParametersResult(successful=False, reason=f"{type(exc).__name__}: {exc}")
        return SetParametersResult(successful=True)

    def _on_parameters(self, params: list[Parameter]) -> None:
        for prm in params:
            if prm.name == "seed":
                self.pending_seed = int(prm.value) if prm.value >= 0 else None
            elif prm.name == "trainer_sim_config" and prm.value:
                self._take_trainer_config(*self._next)
                self._next = None

    @_locked
    def _take_trainer_config(self, cfg: SimConfig, env: AacPandaEnv | None) -> None:
        """Run the trainer's config from the next reset on (its env replaces the old one), announced on
        sim_info so the trainer sees the config it handed over."""
        self.trainer_config = True
        if env is not None:
            old, self.cfg = self.server.env, cfg
            self.server = SimServer(env)
            old.close()
            if self.board[0]:
                self._add_board(*self.board)
            self.twist = self.gripper = None
            self.get_logger().info(f"running the trainer's sim config ({cfg.task}, {cfg.image_size}px)")
        self._publish_info()

    def _take_seed(self) -> int | None:
        seed, self.pending_seed = self.pending_seed, None
        return seed

    @_locked
    def _on_reset(self, request, response):
        step = self.server.reset(self._take_seed())
        self.twist = self.gripper = None
        self.arm_q = None
        if self.tick_timer is not None:   # realtime: the first step comes a whole control period after the
            self.tick_timer.reset()       # reset observation (as every later one does), not at the old phase
        self._publish(step)
        response.success = True
        response.message = json.dumps({"stamp_ns": step.stamp_ns, "episode": step.episode})
        return response

    # ------------------------------------------------------------------ commands
    def _refuse(self, what: str, why) -> None:
        self.refused += 1
        self.get_logger().warning(f"refused {what}: {why} (robot not moved; {self.refused} refused so far)")

    def _stamp_ok(self, what: str, stamp_ns: int) -> bool:
        """Lockstep: a command must answer the newest observation, otherwise it is stale."""
        if self.server.last is None:
            self._refuse(what, "the sim has not been reset yet (call the reset service)")
            return False
        if self.mode == "realtime" or stamp_ns == self.server.last.stamp_ns:
            return True
        self._refuse(what, f"stale stamp {stamp_ns} ns, the current observation is {self.server.last.stamp_ns} ns")
        return False

    @_locked
    def _on_twist(self, msg: TwistStamped) -> None:
        if msg.header.frame_id not in ("", ri.BASE_FRAME):
            return self._refuse("twist", f"frame {msg.header.frame_id!r} is not {ri.BASE_FRAME!r}")
        v = np.array([msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z])
        stamp = ns_from_stamp(msg.header.stamp)
        try:   # validate now (speed, NaN), apply on the step
            self.server.twist_action(v, 0.0)
        except CommandError as exc:
            return self._refuse("twist", exc)
        if self._stamp_ok("twist", stamp):
            self.twist = (stamp, v, time.monotonic())
            self.arm_q = None
            self._lockstep_try()

    @_locked
    def _on_perturb(self, msg: Vector3Stamped) -> None:
        """A disturbance for robustness evals: the block is knocked across the table (sim only)."""
        if msg.header.frame_id not in ("", ri.BASE_FRAME) or self.server.last is None:
            return self._refuse("perturbation", f"frame {msg.header.frame_id!r} / sim not reset")
        try:
            pos = self.server.env.displace_object([msg.vector.x, msg.vector.y])
        except ValueError as exc:
            return self._refuse("perturbation", exc)
        self.get_logger().info(f"block displaced to {np.round(pos, 3).tolist()}")

    @_locked
    def _on_gripper(self, msg: JointTrajectory) -> None:
        try:
            width = self.server.gripper_width(trajectory_target(msg, ri.FINGER_JOINTS))
        except (MessageError, CommandError) as exc:
            return self._refuse("gripper command", exc)
        stamp = ns_from_stamp(msg.header.stamp)
        if self._stamp_ok("gripper command", stamp):
            self.gripper = (stamp, width)
            self._lockstep_try()

    @_locked
    def _on_arm(self, msg: JointTrajectory) -> None:
        try:
            # checked on arrival too: a bad target is refused without replacing a held one (realtime)
            q = self.server.env.check_arm_targets(self.server.arm_targets(trajectory_target(msg, ri.ARM_JOINTS)))
        except (MessageError, ValueError) as exc:   # CommandError is a ValueError
            return self._refuse("arm trajectory", exc)
        if not self._stamp_ok("arm trajectory", ns_from_stamp(msg.header.stamp)):
            return
        self.arm_q, self.twist = q, None
        if self.mode == "lockstep":
            self._step_joints()

    def _width(self) -> float:
        """Commanded opening, or (none yet) the measured one, which can exceed the range by ~1e-8."""
        if self.gripper:
            return self.gripper[1]
        return float(np.clip(self.server.last.joint_positions[7:9].sum(), 0.0, GRIPPER_MAX_WIDTH))

    def _lockstep_try(self) -> None:
        if self.mode != "lockstep" or self.twist is None or self.gripper is None:
            return
        stamp = self.server.last.stamp_ns
        if self.twist[0] == stamp and self.gripper[0] == stamp:
            try:
                step = self.server.step(self.server.twist_action(self.twist[1], self.gripper[1]))
            except CommandError as exc:
                return self._refuse("step", exc)
            self.twist = self.gripper = None
            self._publish(step)

    def _step_joints(self) -> None:
        try:
            step = self.server.step_joints(self.arm_q, self._width())
        except CommandError as exc:
            self.arm_q = None
            return self._refuse("arm trajectory", exc)
        self._publish(step)

    @_locked
    def _on_tick(self) -> None:
        """Realtime mode: one control step with the newest commands (stale twist = stop)."""
        if not self.context.ok():   # shutting down (Ctrl-C): publishers are gone
            return
        if self.arm_q is not None:
            return self._step_joints()
        v = np.zeros(3)
        if self.twist is not None and time.monotonic() - self.twist[2] <= self.command_timeout_s:
            v = self.twist[1]
        try:
            action = self.server.twist_action(v, self._width())
        except CommandError as exc:   # commands are validated on arrival; this is a last line of defence
            self._refuse("step", exc)
            action = self.server.twist_action(np.zeros(3), self._width())
        self._publish(self.server.step(action))

    # ------------------------------------------------------------------ publishing
    def _publish_description(self) -> None:
        try:
            from .robot_description import robot_description
        except ImportError:   # the generator is optional for the sim itself
            return
        self.pub_description.publish(String(data=robot_description(self.cfg.camera_extrinsics)))

    def _publish(self, step: SimStep) -> None:
        """Everything of one observation, all with the same stamp. Messages nobody subscribes to are
        not built (in lockstep training without RViz that is half of them; every publish costs time
        the round trip waits for)."""
        t, obs, env = step.stamp_ns, step.obs, self.server.env
        wanted = lambda pub: pub is not None and pub.get_subscription_count() > 0  # noqa: E731
        if wanted(self.pub_clock):
            self.pub_clock.publish(Clock(clock=stamp_from_ns(t)))
        # state, goal and camera_info before the images: a consumer that acts on a frame has them
        if wanted(self.pub_joints):
            self.pub_joints.publish(joint_state_msg(ri.ARM_JOINTS + ri.FINGER_JOINTS, step.joint_positions,
                                                    step.joint_velocities, t))
        if wanted(self.pub_goal):
            self.pub_goal.publish(pose_stamped(env.goal, t, ri.BASE_FRAME))
        if wanted(self.pub_proprio):
            self.pub_proprio.publish(pack_labelled({"proprio": obs["proprio"]}, t))
        if wanted(self.pub_priv):
            self.pub_priv.publish(pack_labelled(
                # proprio and desired_goal again, so a trainer needs 3 messages per step, not 5
                {"state": obs["state"], "achieved_goal": obs["achieved_goal"], "proprio": obs["proprio"],
                 "desired_goal": obs["desired_goal"], "reward": [step.reward],
                 "is_success": [step.is_success], "truncated": [float(step.truncated)],
                 "episode": [step.episode], "step": [step.step]}, t))
        if SEG_KEY in obs and wanted(self.pub_seg):   # before the images, like the state: part of the frame
            self.pub_seg.publish(numpy_to_image(obs[SEG_KEY], "mono8", t, self.color_frame))
        if "rgb" in obs:
            # native: the full frame the policy images were cropped and resized from (the env's last render,
            # taken for this observation), as a RealSense would send it
            rgb, depth, intr = env.last_native if self.camera_resolution == "native" else \
                (obs["rgb"], obs["depth"], env.episode.intrinsics)
            info_pubs = [pub for pub in (self.pub_color_info, self.pub_depth_info) if wanted(pub)]
            if info_pubs:   # aligned depth has the colour camera's intrinsics: one message for both
                info = camera_info_msg(intr, t, self.color_frame)
                for pub in info_pubs:
                    pub.publish(info)
            if wanted(self.pub_depth):
                self.pub_depth.publish(numpy_to_image(depth, "16UC1", t, self.color_frame))
            if wanted(self.pub_color):
                self.pub_color.publish(numpy_to_image(rgb, "rgb8", t, self.color_frame))
        if wanted(self.pub_markers):
            self.pub_markers.publish(self._markers(step))

    def _add_board(self, image_path: str, size) -> None:
        import cv2

        from .calibration_board import SimBoard, board_mount
        image = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ConfigError(f"calibration_board_image {image_path!r}: not a readable image")
        size = [float(v) for v in size]
        if len(size) != 2 or min(size) <= 0:
            raise ConfigError(f"calibration_board_size_m must be [width, height] > 0, got {size}")
        env = self.server.env
        if env.episode is None:
            env.reset(seed=0)
        board = SimBoard(env.client, image, *size)
        mount = board_mount(env, tuple(size))   # facing the nominal camera in the neutral pose
        env.render_hooks.append(lambda: board.follow(env.scene.robot, env.scene.ee_link, mount))

    def _markers(self, step: SimStep) -> MarkerArray:
        out = MarkerArray()
        goal = Marker(type=Marker.SPHERE, action=Marker.ADD, ns="goal", id=0)
        goal.pose = pose_stamped(self.server.env.goal, 0, "").pose
        goal.scale.x = goal.scale.y = goal.scale.z = 2 * self.cfg.distance_threshold_m
        goal.color.r, goal.color.g, goal.color.b, goal.color.a = 0.1, 0.8, 0.1, 0.4
        out.markers.append(goal)
        if step.object_pose is not None:
            block = Marker(type=Marker.CUBE, action=Marker.ADD, ns="block", id=1)
            block.pose = pose_stamped(step.object_pose[0], 0, "", step.object_pose[1]).pose
            block.scale.x = block.scale.y = block.scale.z = float(self.server.env.episode.object_size)
            block.color.r, block.color.g, block.color.b, block.color.a = 0.85, 0.15, 0.1, 1.0
            out.markers.append(block)
        for m in out.markers:
            m.header.frame_id = ri.BASE_FRAME
            m.header.stamp = stamp_from_ns(step.stamp_ns)
        return out


def spin_sim(node: SimNode) -> None:
    """Lockstep: reset/perturb/parameter services on an executor thread, the per-step commands in
    this thread (TakeLoop: the training round trip waits for them). Realtime: rclpy.spin."""
    if node.commands is None:
        return rclpy.spin(node)
    with ExecutorThread(node) as spin:
        while node.context.ok() and spin.alive():
            node.commands.spin_once(0.1)


def _close(node: SimNode) -> None:
    if node.commands is not None:
        node.commands.destroy()
    node.server.env.close()


def main(args=None) -> int:
    return run_node(SimNode, "aac_sim_node", (ConfigError, ValueError), args, on_close=_close, run=spin_sim)


if __name__ == "__main__":
    raise SystemExit(main())
