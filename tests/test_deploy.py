"""Deploy path: exported actor + camera + joint states -> command; parity with the sim, over real rclpy."""
from __future__ import annotations

import time

import numpy as np
import pytest

from aac_policy.agent import Agent
from aac_policy.deploy import DeployedActor
from aac_policy.actor_runtime import load_runtime
from aac_policy.export import build_obs_spec, export_actor, export_onnx
from aac_policy.spec import build_spec
from aac_policy.config import load_config
from aac_policy.envs import sim_config_for
from aac_robot.camera import CameraIntrinsics
from aac_sim.config import ConfigError, RandomizationConfig
from aac_sim.env import AacPandaEnv
from aac_robot.preprocessing import FrameError

SEED = 5


@pytest.fixture(scope="module")
def actor_file(tmp_path_factory):
    """An exported push actor (untrained weights: parity needs determinism, not skill)."""
    cfg = load_config(None, ["sim.task=push"])
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    __import__("torch").manual_seed(0)
    agent = Agent(spec, cfg)
    d = tmp_path_factory.mktemp("actor")
    path = export_actor(agent, d / "actor.pt", build_obs_spec(agent, env))
    export_onnx(agent, d / "actor.onnx", build_obs_spec(agent, env))   # the same actor for ONNX Runtime
    env.close()
    return path


def twin_env(camera_render="policy"):
    return AacPandaEnv(task="push", randomization=RandomizationConfig.off(), camera_render=camera_render)


def reference_episode(actor_file, steps=50, camera_render="policy"):
    """The same actor file run in-process on the twin's config: per-step grasp point and block position."""
    run, spec = load_runtime(actor_file)

    def policy(obs):
        return run({k: obs[k][None] for k in spec["inputs"]})[0]
    env = twin_env(camera_render)
    obs, _ = env.reset(seed=SEED)
    out = []
    for _ in range(steps):
        obs, *_ = env.step(policy(obs))
        out.append(np.concatenate([obs["proprio"], obs["achieved_goal"]]))
    env.close()
    return np.array(out)


def record_privileged_rows(client, ns: str) -> dict:
    """step -> the lockstep sim's privileged state segment, as it publishes them."""
    from std_msgs.msg import Float32MultiArray

    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import unpack_labelled
    rows = {}

    def on_priv(msg):
        _, seg = unpack_labelled(msg)
        rows[int(seg["step"][0])] = seg

    client.create_subscription(Float32MultiArray, f"/{ns}/{ri.PRIVILEGED_STATE}", on_priv, 100)
    return rows


def drive_lockstep_episode(client, ns: str, readers_matched, rows: dict, steps: int) -> None:
    """Reset the lockstep sim once the policy node's image readers are matched, and wait for `steps` steps.
    A frame the sim publishes before it has matched those readers is lost and nothing steps again (seen
    once in a full suite run); the sim's side of the matching gets a moment too (this process sees only
    its own view)."""
    from std_srvs.srv import Trigger

    from aac_robot import ros_interface as ri
    from ros_helpers import wait_for
    reset = client.create_client(Trigger, f"/{ns}/{ri.RESET_SERVICE}")
    assert reset.wait_for_service(timeout_sec=30)
    images = [f"/{ns}/camera/camera/{t}" for t in (ri.COLOR_IMAGE, ri.DEPTH_IMAGE)]
    wait_for(lambda: all(readers_matched(t) for t in images), 30, "the policy node's image readers matched")
    time.sleep(0.5)
    reset.call_async(Trigger.Request())
    wait_for(lambda: len(rows) >= steps + 1, 60, f"{steps} steps driven by the policy node")


def assert_same_episode(rows: dict, ref: np.ndarray, steps: int) -> None:
    got = np.array([np.concatenate([rows[t]["state"][18:21], rows[t]["achieved_goal"]]) for t in range(1, steps + 1)])
    np.testing.assert_array_equal(got[:, :3], ref[:steps, :3])      # grasp point, every step
    np.testing.assert_array_equal(got[:, 3:], ref[:steps, 7:])      # block


def test_deploy_observation_equals_the_sims_own(actor_file):
    """Preprocessing + FK parity: a sim frame at the camera's resolution and the joint state give
    bit-for-bit the observation the sim hands the actor."""
    dep = DeployedActor(str(actor_file))
    env = twin_env()
    obs, _ = env.reset(seed=SEED)
    dep.set_camera(env.episode.intrinsics)
    for t in range(20):
        q, qd = env.joint_state()
        mine = dep.observation(obs["rgb"], obs["depth"], q, qd, env.goal)
        for k, v in mine.items():
            np.testing.assert_array_equal(v, obs[k], err_msg=f"{k} at step {t}")
        obs, *_ = env.step(dep.act(mine))
    env.close()
    dep.close()


def test_camera_mismatch_and_bad_inputs_are_refused(actor_file):
    dep = DeployedActor(str(actor_file))
    d435 = CameraIntrinsics.from_yaml()
    dep.set_camera(d435)   # the full-size camera the actor was trained for: crop + resize
    assert (dep.crop.out_w, dep.crop.w) == (84, 480)
    wide = CameraIntrinsics(width=640, height=480, fx=d435.fx * 0.8, fy=d435.fy * 0.8, cx=d435.cx, cy=d435.cy)
    with pytest.raises(ConfigError, match="fx: actor trained with"):
        dep.set_camera(wide)
    with pytest.raises(ConfigError, match="cannot feed a 84px actor"):
        dep.set_camera(CameraIntrinsics(width=64, height=48, fx=60, fy=60, cx=32, cy=24))
    q = np.zeros(9)
    rgb, depth = np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.uint16)
    with pytest.raises(FrameError, match="uint16"):
        dep.observation(rgb, depth.astype(np.float32), q, q, np.zeros(3))
    with pytest.raises(FrameError, match="480x640x3"):
        dep.observation(rgb[:100], depth, q, q, np.zeros(3))
    with pytest.raises(ValueError, match="goal"):
        dep.observation(rgb, depth, q, q, np.array([np.nan, 0, 0]))
    with pytest.raises(ValueError, match="9 finite"):
        dep.observation(rgb, depth, np.full(9, np.nan), q, np.zeros(3))
    obs = dep.observation(rgb, depth, np.array([0, -0.2, 0, -2.5, 0, 2.3, 0.8, 0.02, 0.02]), q, np.zeros(3))
    assert obs["rgb"].shape == (84, 84, 3) and obs["depth"].shape == (84, 84)
    v, width = dep.command(np.array([1.0, -1.0, 0.0, 1.0]))   # scaled onto the unit ball: the speed limit
    speed = dep.motion.max_ee_speed_m_s
    np.testing.assert_allclose(v, [speed / np.sqrt(2), -speed / np.sqrt(2), 0.0])
    np.testing.assert_allclose(dep.command(np.array([0.5, 0.0, 0.0, 1.0]))[0], [0.5 * speed, 0.0, 0.0])
    assert width == pytest.approx(0.08)
    dep.close()


@pytest.mark.parametrize("suffix,camera", [(".pt", "policy"), (".onnx", "policy"), (".onnx", "native")])
def test_policy_node_drives_a_lockstep_twin_exactly_like_in_process(actor_file, suffix, camera, tmp_path):
    """Over real rclpy: the twin publishes RealSense-style topics, the policy node answers each frame,
    the twin steps on it. The episode equals running the same actor file in-process, step by step
    (torch.export on torch, or ONNX Runtime: the robot PC's runtime). `native`: the twin sends the camera's full
    640x480 frames with their camera_info, as the RealSense does, and the policy node crops and resizes
    them itself; in-process the env renders the same full frame (camera_render: native). Bit-identical:
    the policy node's real image path (decode, size checks, crop + resize) computes exactly what the env
    feeds, so a trained actor meets the statistics it was evaluated on in the deploy_camera_path condition."""
    actor_file = actor_file.with_suffix(suffix)
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float32MultiArray

    from aac_policy.policy_node import PolicyNode
    from aac_robot.node_main import ExecutorThread
    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import unpack_labelled
    from ros_helpers import SimProcess, Spinning

    ref = reference_episode(actor_file, camera_render=camera)
    sim_yaml = tmp_path / "sim.yaml"
    sim_yaml.write_text(f"camera_render: {camera}\n")
    with SimProcess("s", task="push", randomize=False, seed=SEED, sim_config=str(sim_yaml), camera_resolution=camera), \
            Spinning("aac_test_deploy") as client:
        rows = record_privileged_rows(client, "s")
        proprio = {}
        client.create_subscription(Float32MultiArray, "/s/" + ri.PROPRIO,
                                   lambda m: proprio.__setitem__(unpack_labelled(m)[0], m), 100)
        node = PolicyNode(cli_args=["--ros-args", "-r", "__ns:=/s",
                                    "-r", f"{ri.POLICY_TWIST}:={ri.TWIST_COMMAND}",
                                    "-r", f"{ri.POLICY_GRIPPER}:={ri.DEFAULT_GRIPPER_CONTROLLER}/{ri.JOINT_TRAJECTORY}"],
                          parameter_overrides=[Parameter("actor", Parameter.Type.STRING, str(actor_file))])
        # its own executor thread: leaving the `with` joins it, so no callback still runs when the
        # actor is closed (executor.remove_node does not wait for one in flight)
        with ExecutorThread(node):
            drive_lockstep_episode(client, "s", lambda t: node.count_publishers(t) > 0, rows, 50)
        node.actor.close()
        node.destroy_node()
    assert node.actions >= 50 and not node.skipped
    assert (node.actor.camera.width, node.actor.camera.height) == ((640, 480) if camera == "native" else (84, 84))
    assert_same_episode(rows, ref, 50)


def test_policy_node_pairs_a_frame_with_the_joint_state_taken_at_its_time(actor_file):
    """A joint state stamped up to joint_tolerance_s before the frame is its own (a 250 Hz - 1 kHz arm):
    act at once. An older one (a lockstep twin's previous step) is not: wait for a newer one.
    The node acts at the actor's control rate: of 30 Hz frames, only those a control period apart."""
    import rclpy
    from rclpy.parameter import Parameter

    from aac_policy.policy_node import PolicyNode
    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import camera_info_msg, joint_state_msg, numpy_to_image, pose_stamped

    rclpy.init()
    try:
        node = PolicyNode(parameter_overrides=[Parameter("actor", Parameter.Type.STRING, str(actor_file)),
                                               Parameter("joint_wait_s", Parameter.Type.DOUBLE, 10.0)])
        env = twin_env()
        obs, _ = env.reset(seed=SEED)
        node._on_info(camera_info_msg(env.episode.intrinsics, 0, "cam"))
        node._on_goal(pose_stamped(env.goal, 0, ri.BASE_FRAME))
        q, qd = env.joint_state()
        names = list(ri.ARM_JOINTS + ri.FINGER_JOINTS)

        def frame(t_ns):
            node._on_depth(numpy_to_image(obs["depth"], "16UC1", t_ns, "cam"))
            node._on_color(numpy_to_image(obs["rgb"], "rgb8", t_ns, "cam"))

        t = 1_000_000_000
        node._on_joints(joint_state_msg(names, q, qd, t - 3_000_000))    # 3 ms before the frame
        frame(t)
        assert node.actions == 1, "a joint state 3 ms older than the frame is the frame's own"
        period = node.period_ns
        assert period == round(1e9 / node.actor.spec["motion"]["control_rate_hz"])
        t += period
        node._on_joints(joint_state_msg(names, q, qd, t - period))   # the previous step's
        frame(t)
        assert node.actions == 1, "a joint state one step older than the frame must not be used for it"
        node._on_joints(joint_state_msg(names, q, qd, t))
        assert node.actions == 2 and not node.skipped
        camera = 33_333_333   # a 30 Hz camera: between control ticks its frames are not acted on
        for k in (1, 2):
            node._on_joints(joint_state_msg(names, q, qd, t + k * camera))
            frame(t + k * camera)
        assert node.actions == 2
        node._on_joints(joint_state_msg(names, q, qd, t + 3 * camera))
        frame(t + 3 * camera)
        assert node.actions == 3 and not node.skipped
        env.close()
        node.actor.close()
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_policy_node_image_qos_sets_its_image_subscriptions_and_refuses_unknown_names(actor_file):
    """image_qos: the colour + depth subscriptions reliable (default) or best effort (sensor data QoS); the
    state topics stay reliable; a name it does not know stops the node with the choices."""
    import rclpy
    from rclpy.parameter import Parameter
    from rclpy.qos import ReliabilityPolicy

    from aac_policy.policy_node import PolicyNode
    from aac_robot import ros_interface as ri

    rclpy.init()
    try:
        for qos, expect in (("reliable", ReliabilityPolicy.RELIABLE), ("sensor_data", ReliabilityPolicy.BEST_EFFORT)):
            node = PolicyNode(parameter_overrides=[Parameter("actor", Parameter.Type.STRING, str(actor_file)),
                                                   Parameter("image_qos", Parameter.Type.STRING, qos)])
            got = {sub.topic_name: sub.qos_profile.reliability for sub in node.subscriptions}
            got = {k: next(v for t, v in got.items() if t.endswith("/" + topic))
                   for k, topic in (("color", ri.COLOR_IMAGE), ("depth", ri.DEPTH_IMAGE), ("joints", ri.JOINT_STATES))}
            node.actor.close()
            node.destroy_node()
            assert got["color"] == got["depth"] == expect, got
            assert got["joints"] == ReliabilityPolicy.RELIABLE
        with pytest.raises(ConfigError, match="image_qos must be one of"):
            PolicyNode(parameter_overrides=[Parameter("actor", Parameter.Type.STRING, str(actor_file)),
                                            Parameter("image_qos", Parameter.Type.STRING, "best_effort")])
    finally:
        rclpy.shutdown()


def test_the_policy_node_process_drives_the_twin_like_in_process_and_stops_on_sigint(actor_file):
    """`aac_policy_node` as launched (its own process and main(), ONNX Runtime): the same episode as in-process,
    and Ctrl-C ends it with exit code 0."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    from aac_robot import ros_interface as ri
    from ros_helpers import ROOT, SimProcess, Spinning

    onnx = actor_file.with_suffix(".onnx")
    ref = reference_episode(onnx, steps=30)
    ns = "proc"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / "src" / p) for p in ("aac_robot", "aac_policy")))
    with SimProcess(ns, task="push", randomize=False, seed=SEED), Spinning("aac_test_policy_process") as client, \
            tempfile.TemporaryFile("w+") as log:
        rows = record_privileged_rows(client, ns)
        proc = subprocess.Popen(
            [sys.executable, "-m", "aac_policy.policy_node", "--ros-args", "-r", f"__ns:=/{ns}",
             "-r", f"{ri.POLICY_TWIST}:={ri.TWIST_COMMAND}",
             "-r", f"{ri.POLICY_GRIPPER}:={ri.DEFAULT_GRIPPER_CONTROLLER}/{ri.JOINT_TRAJECTORY}",
             "-p", f"actor:={onnx}"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            drive_lockstep_episode(client, ns, lambda t: client.count_subscribers(t) > 0, rows, 30)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            log.seek(0)
            print(log.read()[-3000:])
    assert_same_episode(rows, ref, 30)
