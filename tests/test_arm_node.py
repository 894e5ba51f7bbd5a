"""aac_arm_node for real: a realtime sim twin in its own process (Fast DDS), the arm node in-process.

The test is the policy (publishes aac/policy/twist at 25 Hz) and the camera (fake colour frames on
a camera namespace only it publishes, so it can stop them); it reads where the twin's grasp point
goes from aac/proprio.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from ros_helpers import SimProcess, Spinning, call_trigger, wait_for  # noqa: I100 (skips the module without rclpy)

from aac_driver.arm_node import ArmNode
from aac_robot import ros_interface as ri
from aac_robot.motion import MotionLimits
from aac_robot.ros_convert import numpy_to_image, unpack_labelled

from geometry_msgs.msg import TwistStamped  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Bool, Float32MultiArray, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

NS = "/s"
FAKE_CAMERA = "fake_camera/camera"
PERIOD = MotionLimits().control_dt   # the arm node's default rate_hz: the trained control rate


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("twin") / "sim.yaml"
    cfg.write_text("render_images: false\n")       # the camera is faked by the test: no rendering needed
    with SimProcess("s", task="reach", mode="realtime", randomize=False, sim_config=str(cfg)) as sim:
        yield sim


class Harness:
    """Policy + camera + recorders on a client node; the arm node on the same executor."""

    def __init__(self, spinning, client, policy_hz: float | None = None, relay_joint_states: bool = False,
                 **params):
        self.spinning, self.client = spinning, client
        self.v = None                      # policy twist to publish every period (None = policy silent)
        self.grip = None                   # policy gripper opening to publish every period (None = silent)
        self.camera_on = True
        self.state_on = True               # relay the twin's joint states to the arm node (relay_joint_states)
        self.last_frame = self.last_policy = self.last_state = None
        self.grip_out: list[tuple[float, JointTrajectory]] = []
        self.ee: list[tuple[float, np.ndarray]] = []
        self.servo: list[tuple[float, np.ndarray]] = []
        self.arm_cmds: list[tuple[float, JointTrajectory]] = []
        self.report: dict = {}
        self.pub_twist = client.create_publisher(TwistStamped, f"{NS}/{ri.POLICY_TWIST}", 10)
        self.pub_gripper = client.create_publisher(JointTrajectory, f"{NS}/{ri.POLICY_GRIPPER}", 10)
        self.pub_stop = client.create_publisher(Bool, f"{NS}/{ri.SAFETY_STOP}", 10)
        self.pub_image = client.create_publisher(Image, f"{NS}/{FAKE_CAMERA}/{ri.COLOR_IMAGE}", 10)
        self.reset = client.create_client(Trigger, f"{NS}/{ri.SAFETY_RESET}")
        client.create_subscription(Float32MultiArray, f"{NS}/{ri.PROPRIO}", self._on_proprio, 50)
        client.create_subscription(TwistStamped, f"{NS}/{ri.TWIST_COMMAND}", self._on_servo, 50)
        client.create_subscription(JointTrajectory, f"{NS}/{ri.DEFAULT_ARM_CONTROLLER}/{ri.JOINT_TRAJECTORY}",
                                   lambda m: self.arm_cmds.append((time.monotonic(), m)), 50)
        client.create_subscription(String, f"{NS}/{ri.INTERVENTIONS}",
                                   lambda m: setattr(self, "report", json.loads(m.data)), 10)
        client.create_subscription(JointTrajectory, f"{NS}/{ri.DEFAULT_GRIPPER_CONTROLLER}/{ri.JOINT_TRAJECTORY}",
                                   lambda m: self.grip_out.append((time.monotonic(), m)), 50)
        cli_args = None
        if relay_joint_states:   # the arm node reads joint states through the test, which can cut them
            relayed = f"{NS}/relayed_{ri.JOINT_STATES}"
            pub_state = client.create_publisher(JointState, relayed, 10)

            def relay(msg):
                if self.state_on:
                    pub_state.publish(msg)
                    self.last_state = time.monotonic()
            client.create_subscription(JointState, f"{NS}/{ri.JOINT_STATES}", relay, 10)
            cli_args = ["--ros-args", "-r", f"{ri.JOINT_STATES}:={relayed}"]
        self.image = numpy_to_image(np.zeros((4, 4, 3), np.uint8), "rgb8", 0, ri.COLOR_OPTICAL_FRAME)
        client.create_timer(1 / 30, self._camera_tick)
        client.create_timer(1.0 / policy_hz if policy_hz else PERIOD, self._policy_tick)
        overrides = [Parameter("camera_namespace", value=FAKE_CAMERA)] + \
            [Parameter(k, value=v) for k, v in params.items()]
        self.arm = ArmNode(namespace=NS, parameter_overrides=overrides, cli_args=cli_args)
        spinning.executor.add_node(self.arm)
        wait_for(lambda: self.arm.joint is not None and self.arm.last_camera is not None and len(self.ee) > 3,
                 30, "joint_states, fake camera frames and proprio at the arm node / test")
        out = f"{NS}/{ri.TWIST_COMMAND}" if params.get("output", "servo") == "servo" else \
            f"{NS}/{ri.DEFAULT_ARM_CONTROLLER}/{ri.JOINT_TRAJECTORY}"
        wait_for(lambda: self.client.count_subscribers(out) >= 2, 10, "the twin's command subscription")
        # a gripper command first: a known opening, where the realtime twin otherwise holds the measured one
        # (in a dry run nothing reaches the twin: the opening is whatever the previous test left)
        if not params.get("dry_run"):
            wait_for(lambda: self._grip(0.03) and abs(self.width() - 0.06) < 0.004, 10, "gripper at 6 cm")

    def _grip(self, finger: float) -> bool:
        self.pub_gripper.publish(JointTrajectory(joint_names=[ri.FINGER_JOINTS[0]],
                                                 points=[JointTrajectoryPoint(positions=[finger])]))
        time.sleep(0.05)
        return True

    def close(self):
        self.spinning.executor.remove_node(self.arm)
        self.arm.destroy_node()

    # ------------------------------------------------------------------ callbacks (executor thread)
    def _on_proprio(self, msg):
        _, seg = unpack_labelled(msg)
        self.ee.append((time.monotonic(), seg["proprio"]))

    def _on_servo(self, msg):
        lin = msg.twist.linear
        self.servo.append((time.monotonic(), np.array([lin.x, lin.y, lin.z])))

    def _camera_tick(self):
        if self.camera_on:
            self.pub_image.publish(self.image)
            self.last_frame = time.monotonic()

    def _policy_tick(self):
        if self.v is not None:
            msg = TwistStamped()
            msg.header.frame_id = ri.BASE_FRAME
            msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(x) for x in self.v)
            self.pub_twist.publish(msg)
            self.last_policy = time.monotonic()
        if self.grip is not None:
            self.pub_gripper.publish(JointTrajectory(joint_names=[ri.FINGER_JOINTS[0]],
                                                     points=[JointTrajectoryPoint(positions=[self.grip])]))
            self.last_policy = time.monotonic()

    # ------------------------------------------------------------------ helpers (test thread)
    def pos(self) -> np.ndarray:
        return self.ee[-1][1][:3].astype(np.float64)

    def width(self) -> float:
        return float(self.ee[-1][1][6])

    def move(self, v, seconds: float) -> np.ndarray:
        """Command v for `seconds`; returns the grasp point's displacement."""
        start = self.pos()
        self.v = v
        time.sleep(seconds)
        return self.pos() - start

    def still(self, seconds: float) -> float:
        start = self.pos()
        time.sleep(seconds)
        return float(np.linalg.norm(self.pos() - start))

    def counts_after(self, kind: str, before: int) -> int:
        wait_for(lambda: self.report.get("counts", {}).get(kind, 0) > before, 3, f"{kind} in the report")
        return self.report["counts"][kind]

    def call_reset(self) -> dict:
        result = call_trigger(self.reset, 5, what="safety reset")
        assert result.success
        return json.loads(result.message)


def _direction_ok(d, axis, sign, min_m):
    print(f"moved {np.round(d * 1e3, 1).tolist()} mm")
    assert sign * d[axis] > min_m, d
    others = [i for i in range(3) if i != axis]
    assert np.abs(d[others]).max() < 0.4 * abs(d[axis]), d


def test_servo_output_moves_clips_stops_and_watchdog(twin):
    spinning = Spinning("aac_arm_test")
    with spinning as client:
        h = Harness(spinning, client, output="servo", command_timeout_s=0.5)
        try:
            # moves in the commanded direction
            _direction_ok(h.move((0.1, 0.0, 0.0), 0.8), 0, +1, 0.04)
            # too fast: every sent twist is clipped to 0.25 m/s (direction kept), and it is counted
            t0, clipped_before = time.monotonic(), h.report.get("counts", {}).get("speed_clipped", 0)
            d = h.move((-1.0, 0.0, 0.0), 0.6)
            sent = [v for t, v in h.servo if t > t0 + 0.1]
            assert sent and max(np.linalg.norm(v) for v in sent) <= 0.25 + 1e-6
            assert min(v[0] for v in sent) == pytest.approx(-0.25)
            assert -(0.25 * 0.6 + 0.04) < d[0] < -0.03, d     # 1 m/s would have gone 0.6 m
            h.counts_after("speed_clipped", clipped_before)
            # gripper: half the opening in, the twin's opening out
            h._grip(0.01)
            wait_for(lambda: abs(h.width() - 0.02) < 0.004, 5, "gripper opening 2 cm")

            # stop topic: frozen while the policy keeps commanding, until the reset service
            h.v = (0.0, 0.1, 0.0)
            time.sleep(0.2)
            h.pub_stop.publish(Bool(data=True))
            wait_for(lambda: h.arm.filter.stopped, 3, "stop latched")
            t_stop = time.monotonic()
            time.sleep(0.3)
            assert h.still(0.6) < 0.004
            assert all(not v.any() for t, v in h.servo if t > t_stop + 0.05)
            refused = call_trigger(h.reset, 5, what="safety reset")   # the stop request is still asserted
            assert not refused.success and "still asserted" in refused.message and h.arm.filter.stopped
            assert h.arm.stop_asserted_by.endswith("aac_arm_test"), h.arm.stop_asserted_by   # who sent it
            h.pub_stop.publish(Bool(data=False))               # false withdraws the request but does not clear it
            wait_for(lambda: h.arm.stop_asserted_by is None, 3, "stop request withdrawn")
            assert h.arm.filter.stopped
            report = h.call_reset()
            assert report["stopped"] is False and report["counts"]["stopped"] > 0
            _direction_ok(h.move((0.0, 0.1, 0.0), 0.8), 1, +1, 0.04)

            # watchdog: the camera and the policy go silent together; the arm node's timer sends a
            # zero twist within one control period of the camera timeout (the command is still fresh)
            stale_before = h.report["counts"]["camera_stale"]
            h.v = (0.0, -0.1, 0.0)
            time.sleep(0.5)
            h.camera_on, h.v = False, None
            time.sleep(0.1)
            t_last = h.last_frame
            time.sleep(0.6)
            zeros = [t for t, v in h.servo if t > t_last and not v.any()]
            assert zeros, "no zero twist after the camera stopped"
            delay = zeros[0] - t_last
            print(f"watchdog: zero twist {delay * 1e3:.0f} ms after the last camera frame")
            assert delay <= 0.2 + PERIOD + 0.05, f"zero twist {delay:.3f} s after the last frame"
            assert all(not v.any() for t, v in h.servo if t > zeros[0])   # and keeps sending zero
            assert h.still(0.5) < 0.004
            h.counts_after("camera_stale", stale_before)
            # frames again: no latch, it moves again
            h.camera_on = True
            time.sleep(0.2)
            _direction_ok(h.move((0.0, -0.1, 0.0), 0.8), 1, -1, 0.04)
        finally:
            h.v = None
            h.close()


def test_joint_trajectory_output_moves_stops_and_watchdog(twin):
    spinning = Spinning("aac_arm_test")
    with spinning as client:
        h = Harness(spinning, client, output="joint_trajectory")
        try:
            t0 = time.monotonic()
            _direction_ok(h.move((0.0, 0.1, 0.0), 0.8), 1, +1, 0.04)
            _direction_ok(h.move((0.0, 0.0, 0.1), 0.8), 2, +1, 0.04)
            msgs = [m for t, m in h.arm_cmds if t > t0]
            assert msgs and list(msgs[-1].joint_names) == list(ri.ARM_JOINTS)
            tfs = msgs[-1].points[0].time_from_start
            assert len(msgs[-1].points) == 1 and tfs.sec == 0 and tfs.nanosec == int(PERIOD * 1e9)

            # stop: the node holds one target, the arm stays put; reset: moves again
            h.v = (0.0, -0.1, 0.0)
            time.sleep(0.2)
            h.pub_stop.publish(Bool(data=True))
            wait_for(lambda: h.arm.filter.stopped, 3, "stop latched")
            t_stop = time.monotonic()
            time.sleep(0.3)
            assert h.still(0.6) < 0.004
            held = {tuple(m.points[0].positions) for t, m in h.arm_cmds if t > t_stop + 0.05}
            assert len(held) == 1
            h.pub_stop.publish(Bool(data=False))
            wait_for(lambda: h.arm.stop_asserted_by is None, 3, "stop request withdrawn")
            h.call_reset()
            _direction_ok(h.move((0.0, -0.1, 0.0), 0.8), 1, -1, 0.04)

            # watchdog while the policy keeps commanding: the arm stops, and moves on with frames again
            h.camera_on = False
            time.sleep(0.1)
            t_last = h.last_frame
            time.sleep(0.5 - (time.monotonic() - t_last))
            assert h.still(0.5) < 0.004
            assert h.report["counts"]["camera_stale"] > 0 or h.counts_after("camera_stale", 0)
            h.camera_on = True
            time.sleep(0.2)
            _direction_ok(h.move((0.0, -0.1, 0.0), 0.6), 1, -1, 0.03)
        finally:
            h.v = None
            h.close()


# Watchdogs, measured live. Each stops its output within the watchdog's timeout plus one control period
# (the arm node's timer re-checks every period) plus this scheduling allowance: the twin's physics, DDS
# and this process's executor share 2 cores, and a timer callback or a message can be late by a few ms.
SCHEDULING_ALLOWANCE_S = 0.05
TIMEOUT_S = 0.2   # SafetyConfig's camera / command / state timeouts (the defaults)
CUT = {"camera": ("camera_on", "last_frame"), "command": ("v", "last_policy"), "state": ("state_on", "last_state")}


def _toward_centre(h, speed=0.05):
    """A slow twist along y towards y = 0: tests that run after each other do not walk the arm away."""
    return (0.0, -speed if h.pos()[1] > 0 else speed, 0.0)


def _first_stop(h, output: str, after: float) -> float:
    """When the output first said 'stop' after `after`: the first zero twist (servo), or the first joint
    target that every later one repeats (joint_trajectory: a hold)."""
    if output == "servo":
        zeros = [t for t, v in h.servo if t > after and not v.any()]
        assert zeros, "no zero twist"
        assert all(not v.any() for t, v in h.servo if t > zeros[0]), "a non-zero twist after the stop"
        return zeros[0]
    msgs = [(t, tuple(m.points[0].positions)) for t, m in h.arm_cmds if t > after]
    assert len(msgs) >= 3, "too few joint targets after the cut to see a hold"
    i = len(msgs) - 1
    while i > 0 and msgs[i - 1][1] == msgs[-1][1]:
        i -= 1
    assert i < len(msgs) - 2, "the joint targets never settled on a hold"
    return msgs[i][0]


@pytest.mark.parametrize("output", ["servo", "joint_trajectory"])
@pytest.mark.parametrize("watchdog", ["camera", "command", "state"])
def test_each_watchdog_stops_each_arm_output_within_one_period(twin, output, watchdog):
    """The input goes silent while the arm moves (the others keep coming; for the camera and the state
    watchdogs the policy keeps commanding the motion): the output stops between the timeout and the
    timeout + one period + the allowance after the last input, stays stopped, the arm stands still, the
    intervention is counted; and with the input back it moves again (no latch)."""
    spinning = Spinning("aac_arm_test")
    with spinning as client:
        h = Harness(spinning, client, output=output, relay_joint_states=True)
        try:
            v = _toward_centre(h)
            before = h.report.get("counts", {}).get(f"{watchdog}_stale", 0)
            h.v = v
            time.sleep(0.6)
            flag, stamp = CUT[watchdog]
            setattr(h, flag, None if flag == "v" else False)
            time.sleep(0.1)
            t_last = getattr(h, stamp)
            time.sleep(TIMEOUT_S + PERIOD + 0.4 - (time.monotonic() - t_last))
            delay = _first_stop(h, output, t_last) - t_last
            print(f"{watchdog} watchdog, {output}: stopped {delay * 1e3:.0f} ms after the last input")
            assert TIMEOUT_S - 0.01 <= delay <= TIMEOUT_S + PERIOD + SCHEDULING_ALLOWANCE_S, delay
            assert h.still(0.4) < 0.003
            h.counts_after(f"{watchdog}_stale", before)
            setattr(h, flag, v if flag == "v" else True)
            time.sleep(0.2)
            h.v = v
            d = h.move(v, 0.6)
            assert abs(d[1]) > 0.01 and np.sign(d[1]) == np.sign(v[1]), d
        finally:
            h.v = None
            h.close()


@pytest.mark.parametrize("watchdog", ["camera", "state"])
def test_gripper_commands_stop_within_the_timeout_of_the_last_input(twin, watchdog):
    """Gripper commands are forwarded when they arrive, never re-sent (so a stale one cannot reach the
    gripper: one forwarded per command); once the camera or the joint states are silent for the timeout,
    none is forwarded although the policy keeps sending them."""
    spinning = Spinning("aac_arm_test")
    with spinning as client:
        h = Harness(spinning, client, output="servo", relay_joint_states=True)
        try:
            t0 = time.monotonic()
            h.grip = 0.02
            time.sleep(0.5)
            sent_while_fresh = len([t for t, _ in h.grip_out if t > t0])
            assert sent_while_fresh >= 3
            flag, stamp = CUT[watchdog]
            setattr(h, flag, False)
            time.sleep(0.1)
            t_last = getattr(h, stamp)
            time.sleep(TIMEOUT_S + 0.6 - (time.monotonic() - t_last))
            forwarded = [t for t, _ in h.grip_out if t > t_last]
            last = forwarded[-1] - t_last if forwarded else 0.0
            print(f"{watchdog} watchdog, gripper: last command forwarded {last * 1e3:.0f} ms after the last input")
            assert last <= TIMEOUT_S + SCHEDULING_ALLOWANCE_S, last
            assert h.grip is not None and time.monotonic() - h.last_policy < 2 * PERIOD   # the policy kept sending
            setattr(h, flag, True)
            time.sleep(0.4)
            assert [t for t, _ in h.grip_out if t > time.monotonic() - 0.3], "no gripper command with inputs back"
        finally:
            h.grip = None
            h.close()


def test_dry_run_filters_and_counts_but_sends_nothing(twin):
    spinning = Spinning("aac_arm_test")
    with spinning as client:
        filtered = []
        client.create_subscription(TwistStamped, f"{NS}/{ri.FILTERED_TWIST}",
                                   lambda m: filtered.append(m.twist.linear.x), 50)
        h = Harness(spinning, client, output="servo", dry_run=True)
        try:
            n_sent = len(h.servo)
            d = h.move((0.0, 0.0, 1.0), 0.6)
            assert np.abs(d).max() < 0.004 and len(h.servo) == n_sent == 0
            h.counts_after("speed_clipped", 0)
            assert h.report["dry_run"] is True
            wait_for(lambda: len(filtered) > 5, 3, "filtered twists")
        finally:
            h.v = None
            h.close()


@pytest.mark.parametrize("policy_hz", [15, 30, 60])
def test_joint_targets_hold_the_speed_limit_at_any_command_rate(twin, policy_hz):
    """Policy commands at a camera's rate, not the control rate: the streamed joint targets advance by
    the time that really passed (capped at one period), so the commanded grasp-point speed, measured
    from the targets sent, never exceeds max_ee_speed_m_s (one period per message would move the arm
    policy_hz / rate_hz times too fast)."""
    spinning = Spinning("aac_arm_rate")
    with spinning as client:
        h = Harness(spinning, client, policy_hz=policy_hz, output="joint_trajectory")
        try:
            limit = h.arm.filter.config.max_ee_speed_m_s
            t0 = time.monotonic()
            toward_middle = -1.0 if h.pos()[1] > 0 else 1.0   # the twin is shared: stay inside the box
            h.move((0.0, 0.5 * toward_middle, 0.0), 1.2)   # asks for twice the limit: clipped to it
            h.v = None
            sent = [(t, np.array(m.points[0].positions)) for t, m in h.arm_cmds if t > t0 + 0.3]
            assert len(sent) >= 10, len(sent)
            from aac_driver.arm_ik import ArmIK
            fk = ArmIK()   # its own model: the node's is in use on the executor thread
            try:
                pts = np.array([fk.fk(q) for _, q in sent])
            finally:
                fk.close()
            assert h.arm.filter.counts["workspace"] == 0
            times = np.array([t for t, _ in sent])
            speed = np.linalg.norm(pts[-1] - pts[0]) / (times[-1] - times[0])
            print(f"{policy_hz} Hz commands: targets advance at {speed:.3f} m/s (limit {limit})")
            assert 0.5 * limit < speed <= 1.1 * limit, speed
            # the speed each new target commands: its distance from the previous one over the time between
            # them (one period per message would make it policy_hz / rate_hz x the limit at 30 and 60 Hz)
            implied = np.linalg.norm(np.diff(pts, axis=0), axis=1) / np.diff(times)
            print(f"  per target: median {np.median(implied):.3f}, 90th pct {np.percentile(implied, 90):.3f} m/s")
            assert np.median(implied) <= 1.1 * limit and np.percentile(implied, 90) <= 1.5 * limit, implied
        finally:
            h.v = None
            h.close()


def test_safety_parameters_are_read_only_and_the_limits_in_force_are_published(twin):
    """A set request on any arm-node parameter is refused with a reason (the filter is built once: a
    changed value would not be the one in force); the limits in force are published once, latched."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    spinning = Spinning("aac_arm_params")
    with spinning as client:
        h = Harness(spinning, client, output="none", max_ee_speed_m_s=0.2)
        try:
            limits = {}
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                                 reliability=ReliabilityPolicy.RELIABLE)
            client.create_subscription(String, f"{NS}/{ri.SAFETY_LIMITS}", lambda m: limits.update(json.loads(m.data)),
                                       latched)   # subscribed after the node started: transient local delivers it
            wait_for(lambda: limits, 5, "the latched limits")
            assert limits["max_ee_speed_m_s"] == 0.2 and limits["rate_hz"] == 1 / PERIOD
            assert limits["workspace_low"] == list(h.arm.filter.config.workspace_low)
            setp = client.create_client(SetParameters, f"{NS}/aac_arm_node/set_parameters")
            assert setp.wait_for_service(timeout_sec=10)
            for name, value in (("max_ee_speed_m_s", 2.0), ("workspace_high", [2.0, 2.0, 2.0]), ("dry_run", True)):
                req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
                fut = setp.call_async(req)
                wait_for(lambda: fut.done(), 10, f"set {name}")
                result = fut.result().results[0]
                assert not result.successful and "read-only" in result.reason, (name, result.reason)
            assert h.arm.get_parameter("max_ee_speed_m_s").value == 0.2 == h.arm.filter.config.max_ee_speed_m_s
        finally:
            h.close()
