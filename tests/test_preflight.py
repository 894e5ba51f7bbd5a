"""aac_preflight against real rclpy graphs: a franka_ros2 Jazzy stand-in (tests/franka_standin.py, its own
process) and the sim twin (SimProcess). The rules are plain functions, also tested without ROS timing.
"""
from __future__ import annotations

import ast
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from ros_helpers import ROOT, SimProcess, Spinning, wait_for  # noqa: I100 (skips the module without rclpy)

from aac_driver import preflight as pf
from aac_robot.camera import CameraIntrinsics
from aac_robot.motion import MotionLimits
from aac_robot.preprocessing import CropResize

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src" / "aac_sim"), str(ROOT / "src" / "aac_driver"),
                                                   os.environ.get("PYTHONPATH", "")]))
TIMEOUT = "2.5"   # seconds the probe listens in the live tests


def _spec(image_size: int = 84) -> dict:
    d435 = CameraIntrinsics.from_yaml()
    policy = CropResize.center_square(d435, image_size).intrinsics(d435)
    keys = ("width", "height", "fx", "fy", "cx", "cy")
    return {"image_size": image_size, "motion": MotionLimits().to_spec(),
            "camera": {"policy_intrinsics": {k: getattr(policy, k) for k in keys},
                       "source_intrinsics": {k: getattr(d435, k) for k in keys}}}


@pytest.fixture(scope="module")
def actor(tmp_path_factory) -> Path:
    """An exported actor's file as far as the preflight reads it (no torch): the zip torch.jit.save
    writes, with <archive>/extra/obs_spec.json."""
    path = tmp_path_factory.mktemp("actor") / "actor.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("actor/extra/obs_spec.json", json.dumps(_spec()))
    return path


def by_name(checks) -> dict[str, pf.Check]:
    return {c.name: c for c in checks}


# ====================================================================== no ROS graph needed
def test_bad_arguments_exit_2(tmp_path, capsys):
    for argv in (["--robot", "ur5"], ["--output", "moveit"], ["--joint-names", "a", "b"], ["--timeout", "0"]):
        with pytest.raises(SystemExit) as exc:
            pf.main(argv)
        assert exc.value.code == 2, argv
    assert pf.main(["--actor", str(tmp_path / "missing.pt")]) == 2
    assert "cannot read the actor's spec" in capsys.readouterr().err


def test_presets_and_tolerance_match_their_sources():
    """The presets are the contract's (the ones deploy_real uses), and the intrinsics rule is deploy.py's."""
    from aac_bringup import launch_utils as lu
    assert pf.ROBOTS is lu.ROBOTS
    tree = ast.parse((ROOT / "src/aac_policy/aac_policy/deploy.py").read_text())
    values = [n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and any(getattr(t, "id", "") == "INTRINSICS_TOLERANCE" for t in n.targets)]
    assert values == [pf.INTRINSICS_TOLERANCE]


def _obs_with_camera(w: int, h: int, fx=615.0, fy=615.0, cx=320.0, cy=240.0) -> pf.Observation:
    obs = pf.Observation()
    obs.color_info = pf.Stream("/camera/camera/color/camera_info", count=1, sizes=[(w, h)],
                               k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])
    return obs


def test_intrinsics_rule():
    cfg, spec = pf.Config(actor="actor.pt"), _spec()
    assert pf.check_intrinsics(cfg, _obs_with_camera(640, 480), spec).status == pf.PASS
    assert pf.check_intrinsics(cfg, _obs_with_camera(640, 480, fx=640.0), spec).status == pf.PASS   # 4 %
    bad = pf.check_intrinsics(cfg, _obs_with_camera(640, 480, fx=660.0), spec)   # 7 %
    assert bad.status == pf.FAIL and "fx: actor 107.62, camera 115.50" in bad.detail and "fy" not in bad.detail
    # the K of a 640x480 profile in a 1280x720 camera_info: the crop moves the principal point off the image
    bad = pf.check_intrinsics(cfg, _obs_with_camera(1280, 720), spec)
    assert bad.status == pf.FAIL and all(f"{k}: actor" in bad.detail for k in ("fx", "fy", "cx", "cy"))
    assert pf.check_intrinsics(cfg, _obs_with_camera(64, 48), spec).status == pf.FAIL   # smaller than the actor
    assert pf.check_intrinsics(cfg, _obs_with_camera(640, 480), None).status == pf.SKIP


def test_finger_rules():
    """Where the policy reads its fingers decides which finger observations pass."""
    fr3 = pf.Config()
    names = list(fr3.finger_joints)

    def obs(js=None, grip=None):
        o = pf.Observation()
        o.joints = pf.Stream("/joint_states", values={n: js for n in names} if js else {})
        o.fingers = pf.Stream("/franka_gripper/joint_states", values={n: grip for n in names} if grip else {})
        return o

    frozen, live = (0.0, 0.0), (0.03, 0.035)
    from_js = pf.Config(finger_joint_states="")
    from_grip = pf.Config(finger_joint_states="/franka_gripper/joint_states")
    assert pf.check_fingers(from_js, obs(js=live)).status == pf.PASS
    moveit = pf.check_fingers(from_js, obs(js=frozen, grip=live))
    assert moveit.status == pf.FAIL and "moveit.launch.py" in moveit.detail and "fr3_gripper/joint_states" \
        in moveit.detail and "finger_joint_states:=/franka_gripper/joint_states" in moveit.fix
    assert pf.check_fingers(from_grip, obs(js=frozen, grip=live)).status == pf.PASS   # the policy reads the gripper
    assert pf.check_fingers(fr3, obs(js=frozen, grip=live)).status == pf.FAIL        # unknown source: the known bug
    assert pf.check_fingers(fr3, obs(grip=live)).status == pf.PASS
    assert pf.check_fingers(from_js, obs(grip=live)).status == pf.FAIL               # not where the policy reads
    assert pf.check_fingers(from_grip, obs(js=live)).status == pf.FAIL
    assert pf.check_fingers(from_js, obs(js=frozen)).status == pf.WARN               # closed, or never updated?
    assert pf.check_fingers(fr3, obs()).status == pf.FAIL


def test_gripper_action_rule():
    cfg = pf.Config()
    assert pf.check_gripper(cfg, pf.Observation()).status == pf.FAIL
    obs = pf.Observation(actions={"/franka_gripper/gripper_action": [("/franka_gripper",
                                                                       "control_msgs/action/GripperCommand")]})
    want = pf.PASS if pf.importlib.util.find_spec("control_msgs") else pf.WARN   # the pip path has no control_msgs
    assert pf.check_gripper(cfg, obs).status == want
    assert pf.check_gripper(pf.Config(gripper_output="none"), pf.Observation()).status == pf.SKIP


# ====================================================================== the franka_ros2 stand-in
class StandInProcess:
    def __init__(self):
        self.log = tempfile.TemporaryFile("w+")   # not a pipe: a full pipe would stall the stand-in
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "franka_standin.py")], env=ENV,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)
        self.seq = 0
        self.state: dict = {}

    def connect(self, node) -> "StandInProcess":
        self.control = node.create_publisher(String, "/standin/control", LATCHED)
        node.create_subscription(String, "/standin/state", lambda m: setattr(self, "state", json.loads(m.data)),
                                 LATCHED)
        joints: list[float] = []
        node.create_subscription(JointState, "/joint_states", lambda m: joints.append(time.monotonic()), 10)
        wait_for(lambda: self.state or self.proc.poll() is not None, 20, "the stand-in")
        assert self.proc.poll() is None, self.output()
        # running steadily (a loaded machine starts it slowly): a second of joint states
        wait_for(lambda: len(joints) > 30, 20, "the stand-in's joint states")
        return self

    def set(self, **scenario) -> None:
        """Run DEFAULT updated with `scenario` (not cumulative)."""
        self.seq += 1
        self.control.publish(String(data=json.dumps({**scenario, "seq": self.seq})))
        wait_for(lambda: self.state.get("seq") == self.seq, 10, f"stand-in scenario {scenario}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def client():
    with Spinning("preflight_test") as node:
        yield node


@pytest.fixture(scope="module")
def standin(client):
    proc = StandInProcess()
    try:
        yield proc.connect(client)
    finally:
        proc.stop()


def probe(*argv: str) -> dict[str, pf.Check]:
    cfg = pf.parse_args(["--timeout", TIMEOUT, *argv])
    return by_name(pf.evaluate(cfg, pf.collect(cfg), pf.load_spec(cfg)))


def test_camera_pose_rule(tmp_path):
    """--camera-extrinsics: the calibrated pose against the actor's trained pose and range."""
    import numpy as np
    import yaml

    from aac_robot.camera import CameraExtrinsics
    trained = CameraExtrinsics.from_yaml()
    spec = {"camera": {"extrinsics": {"translation": list(trained.translation),
                                      "rotation_xyzw": list(trained.rotation_xyzw)},
                       "pose_range": {"position_m": 0.02, "rotation_deg": 2.0, "focal_rel": 0.03}}}

    def calibrated(dpos, drot_deg):
        pose = trained.perturbed(dpos, np.radians(drot_deg))
        path = tmp_path / "calibrated.yaml"
        path.write_text(yaml.safe_dump({"translation": [float(v) for v in pose.translation],
                                        "rotation_xyzw": [float(v) for v in pose.rotation_xyzw]}))
        return pf.Config(actor="actor.pt", camera_extrinsics=str(path))
    assert pf.check_camera_pose(calibrated([0.005, 0, 0], [0, 0.5, 0]), spec).status == pf.PASS
    bad = pf.check_camera_pose(calibrated([0, 0, -0.04], [0, 0, 0]), spec)
    assert bad.status == pf.FAIL and "OUTSIDE" in bad.detail and "z -4.0" in bad.detail
    assert pf.check_camera_pose(pf.Config(), spec).status == pf.SKIP
    (tmp_path / "broken.yaml").write_text("translation: [1, 2]\nrotation_xyzw: [0, 0, 0, 1]\n")
    broken = pf.check_camera_pose(pf.Config(actor="a", camera_extrinsics=str(tmp_path / "broken.yaml")), spec)
    assert broken.status == pf.FAIL and "translation" in broken.detail


def test_full_standin_passes(standin, actor, tmp_path):
    """The console script's main() in its own process: exit 0, the checklist, the JSON; and it imports
    neither torch, PyBullet, gymnasium nor the simulator (aac_sim)."""
    standin.set(goal=True)
    out = tmp_path / "preflight.json"
    code = ("import json, sys; from aac_driver.preflight import main; rc = main(sys.argv[1:]); "
            "print('MODULES', json.dumps(sorted(m for m in ('torch', 'pybullet', 'gymnasium', 'aac_sim') if m in sys.modules))); "
            "sys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code, "--robot", "fr3", "--actor", str(actor), "--json", str(out),
                          "--timeout", "4"], env=ENV, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RESULT: 0 FAIL" in run.stdout and "[PASS] camera.intrinsics" in run.stdout
    result = json.loads(out.read_text())
    checks = {c["name"]: c for c in result["checks"]}
    assert result["ok"] and result["exit_code"] == 0
    for name in ("camera.color", "camera.depth", "camera.rate", "camera.sync", "camera.intrinsics", "joints.arm",
                 "joints.rate", "joints.fingers", "arm.command", "goal", "graph"):
        assert checks[name]["status"] == pf.PASS, checks[name]
    assert "/franka_gripper/joint_states" in checks["joints.fingers"]["detail"]
    # the stand-in's action has a stand-in type, and control_msgs is not on the pip path: a WARN, never a FAIL
    assert checks["gripper"]["status"] in (pf.PASS, pf.WARN) and "/franka_gripper" in checks["gripper"]["detail"]
    assert checks["frames"]["status"] == pf.INFO and "running" in checks["frames"]["detail"]
    assert result["observed"]["color"]["rate_hz"] > 24
    modules = json.loads(run.stdout.split("MODULES", 1)[1].strip().splitlines()[0])
    assert modules == [], f"the preflight imported {modules}: it needs only aac_robot, rclpy and the messages"


MISSES = {   # scenario, preflight arguments, the check, its status, words of its message
    "no arm controller": ({"arm_controller": False}, [], "arm.command", pf.FAIL,
                          ["/fr3_arm_controller/joint_trajectory has no subscriber", "moveit.launch.py"]),
    "camera stopped": ({"camera": False}, [], "camera.color", pf.FAIL, ["no frame", "camera stopped"]),
    "bgr8": ({"color_encoding": "bgr8"}, [], "camera.color", pf.WARN, ["bgr8", "rgb_camera.color_format:=RGB8"]),
    "best-effort camera": ({"camera_best_effort": True}, [], "camera.depth", pf.FAIL, ["best-effort", "_qos"]),
    "wrong intrinsics": ({"size": [1280, 720], "fps": 15.0}, ["--fps", "15"], "camera.intrinsics", pf.FAIL,
                         ["camera 1280x720", "fx: actor 107.62, camera 71.75", "cx: actor", "cy: actor"]),
    "fingers nowhere": ({"gripper": False}, [], "joints.fingers", pf.FAIL, ["neither in /joint_states nor on"]),
    "fingers frozen": ({"fingers_in_joint_states": "frozen", "policy_node": {"finger_joint_states": ""}}, [],
                       "joints.fingers", pf.FAIL, ["stuck at 0.0", "fr3_gripper/joint_states",
                                                   "/aac_policy_node's finger_joint_states"]),
    "panda names on an fr3": ({}, ["--robot", "panda", "--arm-controller", "fr3_arm_controller"], "joints.arm",
                              pf.FAIL, ["lacks panda_joint1", "--robot fr3"]),
    "servo unitless": ({"servo": {"command_in_type": "unitless", "switch_service": False}}, ["--output", "servo"],
                       "arm.servo", pf.FAIL, ["no service /servo_node/switch_command_type", "'unitless'"]),
}


@pytest.mark.parametrize("case", list(MISSES))
def test_each_miss_is_caught(standin, actor, case):
    scenario, argv, name, status, words = MISSES[case]
    standin.set(**scenario)
    checks = probe("--actor", str(actor), *argv)
    got = checks[name]
    assert got.status == status, got
    for w in words:
        assert w in got.detail + " " + got.fix, (w, got)
    if status == pf.FAIL:
        assert pf.exit_code(list(checks.values())) == 1


def test_deploy_runs_end_to_end_against_the_franka_standin(standin, client, tmp_path):
    """The policy node and the arm node with the fr3 preset, against the stand-in franka_ros2 Jazzy graph:
    640x480 RealSense frames, /joint_states without fingers (read from /franka_gripper/joint_states), a goal;
    joint trajectories with fr3 names reach /fr3_arm_controller/joint_trajectory at the control rate."""
    import torch
    from rclpy.parameter import Parameter

    from aac_bringup import launch_utils as lu
    from aac_driver.arm_node import ArmNode
    from aac_policy.agent import Agent
    from aac_policy.export import build_obs_spec, export_actor
    from aac_policy.policy_node import PolicyNode
    from aac_policy.spec import build_spec
    from aac_policy.config import load_config
    from aac_policy.envs import sim_config_for
    from aac_sim.env import AacPandaEnv
    from trajectory_msgs.msg import JointTrajectory

    standin.set(goal=True)   # /joint_states without fingers (the default scenario)
    cfg = load_config(None, ["sim.task=push"])
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    torch.manual_seed(0)
    agent = Agent(spec, cfg)
    actor_file = export_actor(agent, tmp_path / "actor.pt", build_obs_spec(agent, env))
    env.close()
    fr3 = lu.robot_preset("fr3")
    sent = []
    client.create_subscription(JointTrajectory, f"/{fr3.arm_controller}/joint_trajectory",
                               lambda m: sent.append((time.monotonic(), m)), 50)
    policy = PolicyNode(parameter_overrides=[
        Parameter("actor", value=str(actor_file)),
        Parameter("joint_names", value=list(fr3.arm_joints + fr3.finger_joints)),
        Parameter("finger_joint_states", value=fr3.finger_joint_states)])
    arm = ArmNode(parameter_overrides=[Parameter(k, value=v) for k, v in {
        **fr3.arm_parameters(), "output": "joint_trajectory", "arm_controller": fr3.arm_controller,
        "gripper_output": "none",   # franka_gripper's GripperCommand needs control_msgs: not on the pip path
        "joint_names": list(fr3.arm_joints), "actor": str(actor_file), "dry_run": False}.items()])
    from aac_robot.node_main import ExecutorThread
    try:
        with ExecutorThread(policy), ExecutorThread(arm):
            wait_for(lambda: policy.actions >= 10, 30, "10 policy commands")
            t0 = time.monotonic()
            time.sleep(2.0)
    finally:
        policy.actor.close()
        policy.destroy_node()
        arm.destroy_node()
    assert not policy.skipped, policy.skipped
    late = [m for t, m in sent if t >= t0]
    assert late and all(list(m.joint_names) == list(fr3.arm_joints) for m in late)
    assert all(len(m.points) == 1 and all(math.isfinite(x) for x in m.points[0].positions) for m in late)
    # the policy acts at the trained 10 Hz on a 30 Hz camera (the arm node re-sends within a period too)
    rate = len(late) / 2.0
    assert 7 <= rate <= 25, rate


def test_servo_path_passes(standin, actor):
    standin.set(servo={"command_in_type": "speed_units"})
    checks = probe("--actor", str(actor), "--output", "servo")
    assert checks["arm.command"].status == pf.PASS and "/servo_node" in checks["arm.command"].detail
    assert checks["arm.servo"].status == pf.PASS, checks["arm.servo"]


# ====================================================================== the sim twin
def test_sim_twin(client, actor, standin):
    """The twin (realtime, no randomization, reach, images on) with the sim's names and the servo
    output: the camera and joint checks pass; what differs from a robot is reported, not failed."""
    standin.stop()   # the stand-in's root-namespace graph is not needed (the twin lives in /pft)
    info: list[str] = []
    client.create_subscription(String, "/pft/aac/sim_info", lambda m: info.append(m.data), LATCHED)
    with SimProcess("pft", task="reach", mode="realtime", randomize=False):
        wait_for(lambda: info, 60, "the twin's aac/sim_info")
        argv = ["--twin", "--robot", "panda", "--output", "servo", "--namespace", "/pft", "--actor", str(actor),
                "--timeout", "3"]
        cfg = pf.parse_args(argv)
        obs = pf.collect(cfg)
    checks = by_name(pf.evaluate(cfg, obs, pf.load_spec(cfg)))
    for name in ("camera.color", "camera.depth", "camera.rate", "camera.sync", "camera.intrinsics", "joints.arm",
                 "joints.fingers", "arm.command", "gripper", "goal", "graph"):
        assert checks[name].status == pf.PASS, checks[name]
    assert "/pft/aac_sim_node" in checks["arm.command"].detail
    assert checks["joints.rate"].status == pf.WARN          # the twin publishes at its 10 Hz control rate
    assert checks["arm.servo"].status == pf.SKIP            # no MoveIt Servo on the twin
    assert pf.exit_code(list(checks.values())) == 0
    # the same observation judged as a robot: what a twin lacks is named
    robot = by_name(pf.evaluate(pf.parse_args(argv[1:]), obs, pf.load_spec(cfg)))
    assert robot["arm.servo"].status == pf.FAIL and "switch_command_type" in robot["arm.servo"].detail
    assert robot["camera.rate"].status == pf.FAIL           # 10 Hz frames against the RealSense's 30
    assert robot["graph"].status == pf.WARN and "SIM" in robot["graph"].detail
