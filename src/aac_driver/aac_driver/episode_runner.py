"""`aac_episodes`: run N evaluation episodes of a deployed policy, on the real arm or the sim twin.

    ros2 launch aac_bringup deploy_real.launch.py ...           # the deployment (policy, arm node, camera)
    aac_episodes --episodes 20 --condition lighting=dim --goals goals.yaml --out runs/real_eval
    ros2 service call /aac/episode/success std_srvs/srv/Trigger   # the operator's verdict (or type s/f/a/d)

Per episode: hold the arm (the arm node drops policy commands: `aac/safety/release` false), move it to
the start pose (with `--start-planner moveit`, or `auto` where moveit_py is installed: a collision-free
MoveIt plan to `--start-joints` with the table and camera mount in the planning scene, aac_driver.start_pose),
then align the grasp point with slow twists on `aac/episode/twist` (through the arm node's safety
filter: speed, workspace, joint limits and joint velocities still apply, nothing bypasses it), open the
gripper, publish the goal (next one from `--goals`; the twin draws its own), wait for the operator to
place the block (Enter, when run from a terminal), release the policy, and wait for the verdict:

- `--judge operator`: services `aac/episode/success`, `failure`, `abort`, `disturbed` (std_srvs/Trigger),
  or s / f / a / d + Enter in the terminal; `--timeout-s` without a verdict = timeout (a failure);
- `--judge twin`: the sim twin's privileged state (success at the last control step, as in training).

Then hold the arm again and record verdict, time to success, the safety layer's interventions per kind,
manual stops (`aac/safety/stop` true) and the condition tags; `report.json` + `report.md` (success rate
with a 95 % interval per condition) are rewritten after every episode. Without moveit_py (not installable
from PyPI: never run on these machines) the start pose is reached by the twist moves alone (fine in an
uncluttered workspace; with obstacles, use MoveIt or move the arm there yourself).
"""
from __future__ import annotations

import argparse
import json
import select
import sys
import threading
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float32MultiArray, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from aac_robot import ros_interface as ri
from aac_robot.node_main import BackgroundSpin
from aac_robot.ros_convert import twist_stamped, unpack_labelled
from aac_robot.motion import GRIPPER_MAX_WIDTH
from aac_robot.panda import NEUTRAL_ARM_Q

from .arm_ik import ArmIK
from .episodes import (EpisodeInputError, EpisodeRecord, build_report, check_in_box, check_joints, load_goals,
                       parse_conditions, write_report)
from .safety import SafetyConfig

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
VERDICT_SERVICES = ("success", "failure", "abort", "disturbed")


class EpisodeRunner:
    def __init__(self, node, namespace: str = "", judge: str = "operator", joint_names=ri.ARM_JOINTS,
                 safety: SafetyConfig | None = None, rate_hz: float = 10.0, move_speed: float = 0.1,
                 tolerance_m: float = 0.005, goal_topic: str = ri.GOAL, planner=None, start_joints=None):
        """`planner`: a MoveItStartPose (aac_driver.start_pose) that moves the arm to `start_joints` before
        the twist moves align the grasp point; None: twist moves only."""
        if judge not in ("operator", "twin"):
            raise EpisodeInputError(f"judge must be operator or twin, got {judge!r}")
        self.node, self.judge = node, judge
        self.safety = safety or SafetyConfig()
        if not 0 < move_speed <= self.safety.max_ee_speed_m_s:
            raise EpisodeInputError(f"move speed must be in (0, {self.safety.max_ee_speed_m_s}] m/s, got {move_speed}")
        self.period, self.move_speed, self.tolerance_m = 1.0 / rate_hz, move_speed, tolerance_m
        self.ik = ArmIK(joint_names)
        self.planner, self.start_joints = planner, start_joints
        if planner is not None and start_joints is None:
            raise EpisodeInputError("a MoveIt start-pose move needs start joints (--start-joints, not --start-point)")
        pre = f"/{namespace.strip('/')}/" if namespace.strip("/") else "/"
        self.lock = threading.Condition()
        self.q: np.ndarray | None = None
        self.counts: dict | None = None      # the arm node's latest intervention counts
        self.stops = 0                       # stop requests seen
        self.info: dict | None = None        # the twin's sim_info
        self.rows: list[dict] = []           # the twin's privileged rows of the running episode
        self.twin_episode: int | None = None
        self.running = False                 # an episode is running (between release and verdict)
        self.verdict: str | None = None
        self.verdict_time: float | None = None
        self.disturbed = False
        node.create_subscription(JointState, pre + ri.JOINT_STATES, self._on_joints, 10)
        node.create_subscription(String, pre + ri.INTERVENTIONS, self._on_counts, 10)
        node.create_subscription(Bool, pre + ri.SAFETY_STOP, self._on_stop, 10)
        self.pub_twist = node.create_publisher(TwistStamped, pre + ri.EPISODE_TWIST, 10)
        self.pub_gripper = node.create_publisher(JointTrajectory, pre + ri.EPISODE_GRIPPER, 10)
        self.pub_goal = node.create_publisher(PoseStamped, pre + goal_topic.strip("/"), 10)   # the policy node's goal_topic
        self.release_client = node.create_client(SetBool, pre + ri.SAFETY_RELEASE)
        if judge == "twin":
            node.create_subscription(Float32MultiArray, pre + ri.PRIVILEGED_STATE, self._on_priv, 100)
            node.create_subscription(String, pre + ri.SIM_INFO, self._on_info, LATCHED)
            self.reset_client = node.create_client(Trigger, pre + ri.RESET_SERVICE)
        for name in VERDICT_SERVICES:
            node.create_service(Trigger, f"{pre}aac/episode/{name}", lambda req, res, v=name: self._on_verdict(v, res))

    # ------------------------------------------------------------------ callbacks (executor thread)
    def _on_joints(self, msg) -> None:
        q = self.ik.arm_q(msg.name, msg.position)
        if q is not None:
            with self.lock:
                self.q = q

    def _on_counts(self, msg) -> None:
        self.counts = json.loads(msg.data).get("counts", {})

    def _on_stop(self, msg) -> None:
        if msg.data:
            self.stops += 1

    def _on_info(self, msg) -> None:
        self.info = json.loads(msg.data)

    def _on_priv(self, msg) -> None:
        _, seg = unpack_labelled(msg)
        with self.lock:
            if self.twin_episode is not None and int(seg["episode"][0]) == self.twin_episode:
                self.rows.append(seg)
                self.lock.notify_all()

    def _on_verdict(self, verdict: str, response):
        response.success, response.message = self.give_verdict(verdict)
        return response

    def give_verdict(self, verdict: str) -> tuple[bool, str]:
        """The operator's verdict (service or terminal). Refused when no episode is running."""
        verdict = {"abort": "aborted"}.get(verdict, verdict)
        with self.lock:
            if not self.running:
                return False, f"refused: no episode is running (verdict {verdict!r} ignored)"
            if verdict == "disturbed":
                self.disturbed = True
                return True, "disturbance marked; the episode goes on"
            if self.verdict is None:
                self.verdict, self.verdict_time = verdict, time.monotonic()
                self.lock.notify_all()
            return True, f"verdict {self.verdict}"

    # ------------------------------------------------------------------ arm
    def wait_ready(self, timeout_s: float = 30.0) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.q is not None and self.release_client.service_is_ready() and \
                    (self.judge != "twin" or (self.info is not None and self.reset_client.service_is_ready())):
                return
            time.sleep(0.05)
        missing = [what for what, ok in (("joint_states", self.q is not None),
                                         (f"the arm node's {ri.SAFETY_RELEASE} service", self.release_client.service_is_ready()),
                                         ("the twin (aac/sim_info)", self.judge != "twin" or self.info is not None))
                   if not ok]
        raise RuntimeError(f"not ready after {timeout_s:.0f} s: no {', '.join(missing)}")

    @staticmethod
    def _wait(future, timeout_s: float) -> bool:
        """Wait for a service answer (the executor thread completes the future); False on timeout."""
        end = time.monotonic() + timeout_s
        while not future.done() and time.monotonic() < end:
            time.sleep(0.005)
        return future.done()

    def set_released(self, released: bool) -> None:
        future = self.release_client.call_async(SetBool.Request(data=released))
        if not self._wait(future, 5.0) or not future.result().success:
            raise RuntimeError(f"the arm node did not {'release' if released else 'hold'} the arm "
                               f"({ri.SAFETY_RELEASE} not answered)")

    def grasp_point(self) -> np.ndarray:
        with self.lock:
            q = self.q.copy()
        return self.ik.fk(q)

    def move_to(self, target, timeout_s: float = 30.0) -> float:
        """Slow twists to the start grasp point, through the arm node's filter; returns the final error (m)."""
        target = np.asarray(target, dtype=np.float64)
        end = time.monotonic() + timeout_s
        while True:
            err = target - self.grasp_point()
            dist = float(np.linalg.norm(err))
            if dist < self.tolerance_m or time.monotonic() > end:
                break
            # proportional, capped: slows down over the last few centimetres instead of overshooting
            v = err * min(self.move_speed / dist, 2.0)
            self.pub_twist.publish(twist_stamped(v, self.node.get_clock().now().to_msg(), ri.BASE_FRAME))
            time.sleep(self.period)
        self.pub_twist.publish(twist_stamped(np.zeros(3), self.node.get_clock().now().to_msg(), ri.BASE_FRAME))
        if dist >= self.tolerance_m:
            raise RuntimeError(f"start pose not reached within {timeout_s:.0f} s ({dist * 100:.1f} cm away); the arm "
                               "is held. Check the safety layer's interventions (workspace, joint limits)")
        return dist

    def open_gripper(self) -> None:
        self.pub_gripper.publish(JointTrajectory(joint_names=[ri.FINGER_JOINTS[0]],
                                                 points=[JointTrajectoryPoint(positions=[GRIPPER_MAX_WIDTH / 2])]))

    def publish_goal(self, goal) -> None:
        msg = PoseStamped()
        msg.header.frame_id = ri.BASE_FRAME
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in goal)
        msg.pose.orientation.w = 1.0
        self.pub_goal.publish(msg)

    # ------------------------------------------------------------------ one episode
    def run_episode(self, index: int, start, condition: dict, goal=None, timeout_s: float = 60.0,
                    prompt=None) -> EpisodeRecord:
        self.set_released(False)
        if self.planner is not None:   # collision-free joint move with MoveIt; the twist moves then align
            self.planner.move_to(self.start_joints)
        self.move_to(start)
        self.open_gripper()
        time.sleep(0.5)
        if self.judge == "twin":
            self._reset_twin()
        elif goal is not None:
            self.publish_goal(goal)
        if prompt is not None:
            prompt(index)
        before, stops_before = dict(self.counts or {}), self.stops
        with self.lock:
            self.verdict, self.verdict_time, self.disturbed, self.running = None, None, False, True
        t0, start_ns = time.monotonic(), time.time_ns()
        self.set_released(True)
        try:
            record = self._wait_twin(index, condition, t0) if self.judge == "twin" else \
                self._wait_operator(index, condition, goal, t0, timeout_s)
        finally:
            with self.lock:
                self.running = False
            self.set_released(False)   # the arm holds as soon as the verdict is in
        time.sleep(1.1)                # the arm node reports its counts at 1 Hz
        after = self.counts or {}
        record.interventions = {k: int(v - before.get(k, 0)) for k, v in after.items()
                                if v - before.get(k, 0) > 0 and k != "held"}
        record.manual_stops = self.stops - stops_before
        record.start_ns, record.end_ns = start_ns, start_ns + int(record.duration_s * 1e9)
        return record

    def _wait_operator(self, index, condition, goal, t0, timeout_s) -> EpisodeRecord:
        with self.lock:
            self.lock.wait_for(lambda: self.verdict is not None, timeout_s)
            verdict = self.verdict or "timeout"
            t_end = self.verdict_time or time.monotonic()
            disturbed = self.disturbed
        return EpisodeRecord(index, verdict, dict(condition), time_to_success_s=(t_end - t0) if verdict == "success"
                             else None, duration_s=t_end - t0, disturbed=disturbed,
                             goal=None if goal is None else [float(v) for v in goal], judge="operator")

    def _reset_twin(self) -> None:
        future = self.reset_client.call_async(Trigger.Request())
        if not self._wait(future, 10.0):
            raise RuntimeError("the twin's reset service did not answer")
        with self.lock:
            self.twin_episode, self.rows = json.loads(future.result().message)["episode"], []

    def _wait_twin(self, index, condition, t0) -> EpisodeRecord:
        steps = int(self.info["max_episode_steps"])
        with self.lock:
            while True:
                last = max((int(r["step"][0]) for r in self.rows), default=0)
                if last >= steps or self.verdict == "aborted":
                    break
                if not self.lock.wait(5.0):
                    raise RuntimeError(f"the twin stopped publishing (at step {last})")
            rows, aborted, disturbed = list(self.rows), self.verdict == "aborted", self.disturbed
        t_end = time.monotonic()
        by_step = {int(r["step"][0]): r for r in rows}
        first = next((t for t in sorted(by_step) if by_step[t]["is_success"][0] > 0.5), None)
        if aborted:
            verdict = "aborted"
        else:
            verdict = "success" if by_step[max(by_step)]["is_success"][0] > 0.5 else "failure"
        dt = float(self.info["control_dt"])
        return EpisodeRecord(index, verdict, dict(condition), judge="twin", steps=max(by_step, default=0),
                             first_success_step=first, duration_s=t_end - t0, disturbed=disturbed,
                             time_to_success_s=first * dt if verdict == "success" and first is not None else None)

    def close(self) -> None:
        self.ik.close()


class Terminal:
    """s / f / a / d + Enter give the verdict (as the services do); Enter alone starts an episode when asked."""
    KEYS = {"s": "success", "f": "failure", "a": "aborted", "d": "disturbed"}

    def __init__(self, runner: EpisodeRunner):
        self.runner, self.start = runner, threading.Event()
        self.awaiting_start = False
        self.stop = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([sys.stdin], [], [], 0.2)
            if not ready:
                continue
            line = sys.stdin.readline()
            if not line:
                return   # stdin closed
            if self.awaiting_start:
                self.start.set()
            elif line.strip()[:1].lower() in self.KEYS:
                print(self.runner.give_verdict(self.KEYS[line.strip()[:1].lower()])[1], flush=True)

    def prompt(self, index: int) -> None:
        print(f"episode {index}: place the block (the arm is held), then press Enter; verdict keys: "
              "s(uccess) f(ailure) a(bort) d(isturbed)", flush=True)
        self.start.clear()
        self.awaiting_start = True
        self.start.wait()
        self.awaiting_start = False


def start_planner(args):
    """The MoveIt start-pose planner the arguments ask for, or None (twist moves). `auto` falls back to the
    twist moves, saying why, when moveit_py is missing or its node cannot start."""
    if args.start_planner == "twist":
        return None
    from .start_pose import MoveItStartPose, moveit_available, scene_boxes
    if args.start_planner == "auto" and not moveit_available():
        return None
    if args.start_point is not None:
        if args.start_planner == "moveit":
            raise EpisodeInputError("--start-planner moveit plans to --start-joints; drop --start-point")
        return None
    from aac_robot.camera import CameraExtrinsics
    boxes = scene_boxes(CameraExtrinsics.from_yaml().translation)
    try:
        return MoveItStartPose(args.moveit_group, ri.BASE_FRAME, boxes)
    except Exception as exc:   # noqa: BLE001 (MoveItPy raises RuntimeError / pybind errors on missing parameters)
        if args.start_planner == "moveit":
            raise RuntimeError(f"MoveIt start-pose planner did not start: {exc}") from exc
        print(f"aac_episodes: MoveIt start-pose planner did not start ({exc}); moving with twists instead",
              file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--namespace", default="", help="the robot's (or twin's) namespace ('' = root)")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--judge", choices=("operator", "twin"), default="operator")
    ap.add_argument("--condition", action="append", default=[], metavar="TAG=VALUE",
                    help="condition tags of these episodes (repeatable), e.g. lighting=dim background=cloth")
    ap.add_argument("--goals", default=None, help="goals YAML (one goal per episode, cycled)")
    ap.add_argument("--start-joints", type=float, nargs=7, default=list(NEUTRAL_ARM_Q),
                    help="start pose as 7 arm joint positions (rad); default: the sim's neutral pose")
    ap.add_argument("--start-point", type=float, nargs=3, default=None,
                    help="start grasp point (m, base frame) instead of --start-joints")
    ap.add_argument("--timeout-s", type=float, default=60.0, help="operator judge: no verdict by then = timeout")
    ap.add_argument("--move-speed", type=float, default=0.1, help="start-pose moves, m/s (<= the safety limit)")
    ap.add_argument("--start-planner", choices=("auto", "moveit", "twist"), default="auto",
                    help="moveit: plan + execute to --start-joints with moveit_py (table and camera mount in the "
                         "planning scene; needs MoveIt's parameters: --ros-args --params-file); twist: slow twists "
                         "through the arm node's filter; auto: moveit when moveit_py imports and its node starts")
    ap.add_argument("--moveit-group", default="fr3_arm", help="MoveIt planning group of the 7 arm joints "
                    "(franka_fr3_moveit_config: <robot_type>_arm)")
    ap.add_argument("--joint-names", nargs=7, default=list(ri.ARM_JOINTS))
    ap.add_argument("--goal-topic", default=ri.GOAL, help="where the policy node reads its goal (its goal_topic)")
    ap.add_argument("--actor", default="", help="recorded in the report: the actor the deployment runs")
    ap.add_argument("--no-prompt", action="store_true", help="do not wait for Enter before each episode")
    ap.add_argument("--out", default="runs/episodes")
    args = ap.parse_args(argv)
    safety = SafetyConfig()
    try:
        conditions = parse_conditions(args.condition)
        if args.judge == "twin" and args.goals:
            raise EpisodeInputError("--goals with --judge twin: the twin draws its own goals on reset")
        goals = load_goals(args.goals, safety.workspace_low, safety.workspace_high) if args.goals else None
        if args.start_point is None:
            check_joints(args.start_joints, safety.joint_lower, safety.joint_upper, "--start-joints")
        planner = start_planner(args)
        with BackgroundSpin("aac_episodes") as node:
            runner = EpisodeRunner(node, args.namespace, args.judge, args.joint_names, safety,
                                   move_speed=args.move_speed, goal_topic=args.goal_topic, planner=planner,
                                   start_joints=args.start_joints if planner is not None else None)
            terminal = None
            try:
                start = check_in_box(args.start_point if args.start_point is not None else
                                     runner.ik.fk(args.start_joints), safety.workspace_low, safety.workspace_high,
                                     "start grasp point")
                runner.wait_ready()
                if sys.stdin.isatty() and args.judge == "operator":
                    terminal = Terminal(runner)
                prompt = terminal.prompt if terminal and not args.no_prompt else None
                records = []
                meta = {"judge": args.judge, "actor": args.actor, "namespace": args.namespace.strip("/"),
                        "task": (runner.info or {}).get("task"), "start_grasp_point": start.round(4).tolist(),
                        "timeout_s": args.timeout_s}
                for i in range(args.episodes):
                    goal = goals[i % len(goals)] if goals else None
                    rec = runner.run_episode(i, start, conditions, goal, args.timeout_s, prompt)
                    records.append(rec)
                    write_report(args.out, build_report(records, meta))
                    print(f"episode {i}: {rec.verdict}", flush=True)
            finally:
                if terminal:
                    terminal.stop.set()
                runner.close()
                if planner is not None:
                    planner.close()
    except EpisodeInputError as exc:
        print(f"aac_episodes: refused, nothing moved: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"aac_episodes: {exc}", file=sys.stderr)
        return 1
    print((Path(args.out) / "report.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
