"""Evaluation episodes (aac_episodes): refused inputs, the report's numbers, and the runner against a live
twin (a realtime sim node in its own process, the arm node and a goal-seeking stand-in policy here)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml

from aac_driver.episodes import (EpisodeInputError, EpisodeRecord, build_report, check_joints, load_goals, markdown,
                                 parse_conditions, wilson_interval)
from aac_driver.safety import SafetyConfig

SAFETY = SafetyConfig()


def test_goals_outside_the_workspace_and_start_poses_outside_the_joint_limits_are_refused(tmp_path):
    good = tmp_path / "goals.yaml"
    good.write_text(yaml.safe_dump({"goals": [[0.55, 0.1, 0.02], {"x": 0.6, "y": -0.05, "z": 0.02}]}))
    goals = load_goals(good, SAFETY.workspace_low, SAFETY.workspace_high)
    assert [g.tolist() for g in goals] == [[0.55, 0.1, 0.02], [0.6, -0.05, 0.02]]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"goals": [[0.55, 0.1, 0.02], [1.4, 0.0, 0.02]]}))
    with pytest.raises(EpisodeInputError, match=r"goal 1 .* outside the workspace box: x = 1.400 not in"):
        load_goals(bad, SAFETY.workspace_low, SAFETY.workspace_high)
    for text, match in (("goals: []", "non-empty list"), ("goals: [[0.5, 0.1]]", "3 finite numbers"),
                        ("goals: [{x: 0.5, y: 0.1}]", "exactly x, y, z"), ("goals: [[a, b, c]]", "not 3 numbers")):
        bad.write_text(text)
        with pytest.raises(EpisodeInputError, match=match):
            load_goals(bad, SAFETY.workspace_low, SAFETY.workspace_high)
    q = np.array(SAFETY.joint_lower) + 0.1
    assert check_joints(q, SAFETY.joint_lower, SAFETY.joint_upper).tolist() == q.tolist()
    q[3] = SAFETY.joint_upper[3] + 0.2
    with pytest.raises(EpisodeInputError, match="joint 4 = .* not in"):
        check_joints(q, SAFETY.joint_lower, SAFETY.joint_upper)
    with pytest.raises(EpisodeInputError, match="TAG=VALUE"):
        parse_conditions(["lighting"])
    assert parse_conditions(["lighting=dim", "background = cloth"]) == {"lighting": "dim", "background": "cloth"}


def test_refused_inputs_exit_2_before_anything_moves(tmp_path, capsys):
    from aac_driver.episode_runner import main
    bad = tmp_path / "bad.yaml"
    bad.write_text("goals: [[0.5, 0.9, 0.02]]")
    assert main(["--goals", str(bad), "--episodes", "1"]) == 2
    assert "refused, nothing moved" in capsys.readouterr().err
    assert main(["--start-joints", "0", "0", "0", "0.5", "0", "2", "0.7"]) == 2   # joint 4 must be < -0.07
    assert "joint 4" in capsys.readouterr().err
    assert main(["--judge", "twin", "--goals", str(bad)]) == 2


def test_wilson_interval_and_the_report_by_condition():
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)        # the textbook value
    lo, hi = wilson_interval(9, 10)
    assert (lo, hi) == (pytest.approx(0.5958, abs=1e-4), pytest.approx(0.9821, abs=1e-4))
    dim, bright = {"lighting": "dim"}, {"lighting": "bright"}
    records = [EpisodeRecord(0, "success", dim, time_to_success_s=4.0, interventions={"workspace": 2}),
               EpisodeRecord(1, "failure", dim, manual_stops=1),
               EpisodeRecord(2, "timeout", dim),
               EpisodeRecord(3, "aborted", dim, interventions={"speed_clipped": 5}),   # not judged
               EpisodeRecord(4, "success", bright, time_to_success_s=6.0, disturbed=True),
               EpisodeRecord(5, "failure", bright, disturbed=True)]
    rep = build_report(records, {"judge": "operator"})
    o, d, b = rep["overall"], rep["by_condition"]["lighting=dim"], rep["by_condition"]["lighting=bright"]
    assert (o["episodes"], o["judged"], o["successes"], o["aborted"], o["timeouts"]) == (6, 5, 2, 1, 1)
    assert o["success_rate"] == pytest.approx(0.4) and o["mean_time_to_success_s"] == pytest.approx(5.0)
    assert o["interventions"] == {"workspace": 2} and o["manual_stops"] == 1
    assert o["after_disturbance"]["success_rate"] == 0.5 and o["after_disturbance"]["episodes"] == 2
    assert d["success_rate"] == pytest.approx(1 / 3) and d["success_rate_ci95"] == pytest.approx(
        list(wilson_interval(1, 3)))
    assert b["success_rate"] == 0.5 and "after_disturbance" in b
    md = markdown(rep)
    assert "| lighting=dim | 3 | 33 % (" in md and "| **all** | 5 | 40 % (" in md
    with pytest.raises(ValueError, match="verdict"):
        EpisodeRecord(0, "maybe")


# ---------------------------------------------------------------------------------------------- live

def _live():
    pytest.importorskip("rclpy")


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    _live()
    from ros_helpers import SimProcess
    cfg = tmp_path_factory.mktemp("twin") / "sim.yaml"
    cfg.write_text("render_images: false\n")
    with SimProcess("e", task="reach", mode="realtime", randomize=False, sim_config=str(cfg)) as sim:
        yield sim


class Deployment:
    """The arm node (servo output to the twin), a fake camera and a goal-seeking stand-in policy that
    publishes on aac/policy/twist all the time (the arm node must drop it while the runner holds)."""

    def __init__(self, spinning, client, goal_topic="aac/goal"):
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.parameter import Parameter
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Float32MultiArray

        from aac_driver.arm_node import ArmNode
        from aac_robot import ros_interface as ri
        from aac_robot.ros_convert import numpy_to_image, unpack_labelled
        self.goal = self.ee = None
        self.joints: list[tuple[float, np.ndarray]] = []
        self.pub_twist = client.create_publisher(TwistStamped, f"/e/{ri.POLICY_TWIST}", 10)
        pub_image = client.create_publisher(Image, f"/e/fake/camera/{ri.COLOR_IMAGE}", 10)
        image = numpy_to_image(np.zeros((4, 4, 3), np.uint8), "rgb8", 0, ri.COLOR_OPTICAL_FRAME)
        client.create_timer(1 / 30, lambda: pub_image.publish(image))
        client.create_subscription(PoseStamped, f"/e/{goal_topic}", lambda m: setattr(
            self, "goal", np.array([m.pose.position.x, m.pose.position.y, m.pose.position.z])), 10)

        def on_proprio(msg):
            self.ee = unpack_labelled(msg)[1]["proprio"][:3].astype(np.float64)
        client.create_subscription(Float32MultiArray, f"/e/{ri.PROPRIO}", on_proprio, 50)
        client.create_subscription(JointState, f"/e/{ri.JOINT_STATES}", lambda m: self.joints.append(
            (time.monotonic(), np.array(m.position[:7]))), 100)
        client.create_timer(0.1, self._policy)
        self.arm = ArmNode(namespace="e", parameter_overrides=[Parameter("camera_namespace", value="fake/camera")])
        spinning.executor.add_node(self.arm)

    def _policy(self):
        from geometry_msgs.msg import TwistStamped
        if self.goal is None or self.ee is None:
            return
        err = self.goal - self.ee
        v = err * min(3.0, 0.2 / max(np.linalg.norm(err), 1e-9))
        msg = TwistStamped()
        msg.header.frame_id = "panda_link0"
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(x) for x in v)
        self.pub_twist.publish(msg)

    def max_joint_speed_ratio(self, t0: float, t1: float) -> float:
        """Largest joint speed between t0 and t1 over the safety layer's joint velocity limit."""
        pts = [(t, q) for t, q in self.joints if t0 <= t <= t1]
        limits = np.array(SAFETY.joint_velocity_limits) * SAFETY.joint_velocity_scale
        ratios = [np.max(np.abs(q1 - q0) / (t1_ - t0_) / limits)
                  for (t0_, q0), (t1_, q1) in zip(pts, pts[1:]) if t1_ - t0_ > 0.02]
        return max(ratios, default=0.0)

    def close(self, spinning):
        spinning.executor.remove_node(self.arm)
        self.arm.destroy_node()


def test_unattended_episodes_on_the_twin_hold_move_release_and_judge(twin, tmp_path):
    from ros_helpers import Spinning

    from aac_driver.episode_runner import EpisodeRunner
    from aac_driver.episodes import build_report, write_report
    from rclpy.parameter import Parameter

    from aac_driver.bags import read_bag
    from aac_driver.recorder import RecorderNode
    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import unpack_labelled
    spinning = Spinning("aac_episodes_test")
    with spinning as client:
        dep = Deployment(spinning, client)
        # the deployment's recorder, here only the twin's privileged state: the report must agree with the bag
        recorder = RecorderNode(namespace="e", parameter_overrides=[
            Parameter("output_dir", value=str(tmp_path / "bags")), Parameter("bag_name", value="run"),
            Parameter("topics", value=[ri.PRIVILEGED_STATE]), Parameter("record_publishers_of", value=[""])])
        spinning.executor.add_node(recorder)
        runner = EpisodeRunner(client, "e", judge="twin")
        try:
            runner.wait_ready()
            start = np.array([0.45, -0.1, 0.15])
            records, moves = [], []
            for i in range(2):
                t0 = time.monotonic()
                runner.set_released(False)
                runner.move_to(start)
                moves.append((t0, time.monotonic()))
                assert np.linalg.norm(runner.grasp_point() - start) < runner.tolerance_m
                records.append(runner.run_episode(i, start, {"lighting": "nominal"}))
            write_report(tmp_path, build_report(records, {"judge": "twin"}))
            assert [r.verdict for r in records] == ["success", "success"], records
            assert all(r.judge == "twin" and r.time_to_success_s > 0 and r.steps >= 50 for r in records)
            # each episode's window for the recorder's bag: release to verdict, in order, not overlapping
            assert all(r.start_ns < r.end_ns for r in records) and records[0].end_ns < records[1].start_ns
            assert abs((records[0].end_ns - records[0].start_ns) / 1e9 - records[0].duration_s) < 1e-3
            for t0, t1 in moves:   # the start-pose moves stay within the safety layer's joint velocity limits
                assert dep.max_joint_speed_ratio(t0, t1) <= 1.05
            # while held, the stand-in policy's twists were dropped and counted, never reported as interventions
            assert dep.arm.filter.counts["held"] > 5
            assert all("held" not in r.interventions for r in records)
            rep = json.loads((tmp_path / "report.json").read_text())
            assert rep["by_condition"]["lighting=nominal"]["success_rate"] == 1.0
        finally:
            runner.close()
            spinning.executor.remove_node(recorder)
            recorder.destroy_node()   # closes the bag
            dep.close(spinning)
    # the report's numbers from the recorded bag: each episode's window holds its twin rows
    for r in records:
        bag = read_bag(tmp_path / "bags" / "run", start_ns=r.start_ns, stop_ns=r.end_ns)
        rows = [unpack_labelled(m)[1] for _, m in bag.messages["/e/" + ri.PRIVILEGED_STATE]]
        by_step = {int(row["step"][0]): row for row in rows}
        assert max(by_step) == r.steps
        first = next(s for s in sorted(by_step) if by_step[s]["is_success"][0] > 0.5)
        assert first == r.first_success_step
        assert ("success" if by_step[r.steps]["is_success"][0] > 0.5 else "failure") == r.verdict


def test_operator_verdicts_refusals_and_abort_mid_episode(twin, tmp_path):
    from ros_helpers import Spinning, call_trigger
    from std_srvs.srv import Trigger

    from aac_driver.episode_runner import EpisodeRunner
    spinning = Spinning("aac_episodes_test")
    with spinning as client:
        # the twin publishes its own goal on aac/goal: the operator's goes where this policy reads it
        dep = Deployment(spinning, client, goal_topic="aac/operator_goal")
        runner = EpisodeRunner(client, "e", judge="operator", goal_topic="aac/operator_goal")
        calls = {v: client.create_client(Trigger, f"/e/aac/episode/{v}") for v in ("success", "abort", "disturbed")}
        try:
            runner.wait_ready()
            refused = call_trigger(calls["success"], 5, what="verdict")
            assert not refused.success and "no episode is running" in refused.message
            # a goal for the stand-in policy: the operator's goal, published by the runner
            start, goal = np.array([0.45, 0.0, 0.15]), np.array([0.55, 0.1, 0.1])

            import threading
            verdicts = []

            def judge(delay, names):   # the operator, `delay` s after the policy was released
                while not runner.running:
                    time.sleep(0.01)
                time.sleep(delay)
                for n in names:
                    verdicts.append(call_trigger(calls[n], 5, what=n))
            threading.Thread(target=judge, args=(3.0, ["disturbed", "success"]), daemon=True).start()
            ok = runner.run_episode(0, start, {"object": "cube"}, goal=goal, timeout_s=20)
            assert ok.verdict == "success" and ok.disturbed and 2.5 < ok.time_to_success_s < 4.5
            assert all(v.success for v in verdicts)
            assert np.linalg.norm(dep.ee - goal) < 0.03   # the policy drove there after the release

            # abort mid-episode: the arm is held at once and stays still; the episode is recorded as aborted
            threading.Thread(target=judge, args=(1.0, ["abort"]), daemon=True).start()
            far = np.array([0.6, -0.2, 0.1])
            aborted = runner.run_episode(1, start, {"object": "cube"}, goal=far, timeout_s=20)
            assert aborted.verdict == "aborted" and 0.8 < aborted.duration_s < 2.0
            at_hold = dep.ee.copy()
            time.sleep(0.8)
            assert np.linalg.norm(dep.ee - at_hold) < 0.004
            assert np.linalg.norm(dep.ee - far) > 0.05                 # it did not go on to the goal
            timeout = runner.run_episode(2, start, {}, goal=goal, timeout_s=1.0)
            assert timeout.verdict == "timeout" and timeout.time_to_success_s is None
        finally:
            runner.close()
            dep.close(spinning)



def test_moveit_start_pose_scene_and_fallback():
    """The planning scene the MoveIt start-pose move plans in (table, camera, its post), and the choice of
    planner: `auto` falls back to twist moves where moveit_py is missing (here), `moveit` says why not."""
    import argparse

    from aac_driver import episode_runner
    from aac_driver.start_pose import moveit_available, scene_boxes
    from aac_robot.camera import CameraExtrinsics

    cam = CameraExtrinsics.from_yaml().translation
    boxes = {b.name: b for b in scene_boxes(cam)}
    assert set(boxes) == {"table", "camera", "camera_post"}
    table, post = boxes["table"], boxes["camera_post"]
    assert table.center[2] + table.size[2] / 2 == pytest.approx(0.0)           # table top at the base
    assert post.center[2] - post.size[2] / 2 == pytest.approx(0.0)             # the post stands on it
    assert post.center[2] + post.size[2] / 2 == pytest.approx(cam[2] - boxes["camera"].size[2] / 2)
    assert boxes["camera"].center == tuple(cam)
    with pytest.raises(ValueError, match="not above the table"):
        scene_boxes((0.9, 0.0, -0.1))
    with pytest.raises(ValueError, match="3 finite"):
        scene_boxes((0.9, float("nan"), 0.5))
    assert not moveit_available()   # no moveit_py on the pip path
    args = argparse.Namespace(start_planner="auto", start_point=None, moveit_group="fr3_arm")
    assert episode_runner.start_planner(args) is None
    args.start_planner = "moveit"
    with pytest.raises(RuntimeError, match="moveit_py"):
        episode_runner.start_planner(args)
    args.start_point = [0.5, 0.0, 0.2]
    with pytest.raises(episode_runner.EpisodeInputError, match="--start-joints"):
        episode_runner.start_planner(args)
