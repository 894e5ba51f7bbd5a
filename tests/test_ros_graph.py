"""The ROS 2 graph for real: sim nodes in separate processes over Fast DDS, a client / trainer here."""
from __future__ import annotations

import json
import time

import gymnasium as gym
import numpy as np
import pytest

from ros_helpers import SimProcess, Spinning, call_trigger, wait_for  # noqa: I100 (skips the module without rclpy)

from aac_policy.ros_env import RosVectorEnv, SimIncompatible
from aac_policy.config import load_config
from aac_policy.envs import sim_config_for
from aac_policy.train import Trainer
from aac_robot import ros_interface as ri
from aac_sim.config import SEG_BLOCK, SEG_FLOOR, SEG_KEY, SEG_OTHER, SEG_TABLE, ConfigError, SimConfig
from aac_sim.env import AacPandaEnv
from aac_robot.ros_convert import image_to_depth_mm, image_to_rgb, ns_from_stamp, stamp_from_ns, unpack_labelled

from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import Float32MultiArray, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
CAM = "/s/" + ri.DEFAULT_CAMERA_NAMESPACE


class Recorder:
    """Subscribes to everything one sim publishes and keeps the messages."""

    TOPICS = {f"{CAM}/{ri.COLOR_IMAGE}": Image, f"{CAM}/{ri.COLOR_INFO}": CameraInfo,
              f"{CAM}/{ri.DEPTH_IMAGE}": Image, f"{CAM}/{ri.DEPTH_INFO}": CameraInfo,
              "/s/" + ri.JOINT_STATES: JointState, "/s/" + ri.PRIVILEGED_STATE: Float32MultiArray,
              "/s/" + ri.PROPRIO: Float32MultiArray, "/s/" + ri.GOAL: PoseStamped,
              "/s/" + ri.MARKERS: MarkerArray, ri.CLOCK: Clock}

    def __init__(self, node):
        self.msgs = {t: [] for t in self.TOPICS}
        for topic, typ in self.TOPICS.items():
            node.create_subscription(typ, topic, lambda m, t=topic: self.msgs[t].append(m), 50)
        self.latched = {}
        for topic in ("/s/" + ri.SIM_INFO, "/s/" + ri.ROBOT_DESCRIPTION):
            node.create_subscription(String, topic, lambda m, t=topic: self.latched.__setitem__(t, m.data), LATCHED)

    def count(self, topic):
        return len(self.msgs[topic])

    def last(self, topic):
        return self.msgs[topic][-1]


def _call(node, client, timeout=10.0):
    return json.loads(call_trigger(client, timeout, what="reset service").message)


def _commands(node):
    twist = node.create_publisher(TwistStamped, "/s/" + ri.TWIST_COMMAND, 10)
    grip = node.create_publisher(JointTrajectory, f"/s/{ri.DEFAULT_GRIPPER_CONTROLLER}/{ri.JOINT_TRAJECTORY}", 10)
    arm = node.create_publisher(JointTrajectory, f"/s/{ri.DEFAULT_ARM_CONTROLLER}/{ri.JOINT_TRAJECTORY}", 10)
    return twist, grip, arm


def _send_gripper(grip_pub, stamp_ns, finger=0.04, names=None):
    g = JointTrajectory(joint_names=names or [ri.FINGER_JOINTS[0]], points=[JointTrajectoryPoint(positions=[finger])])
    g.header.stamp = stamp_from_ns(stamp_ns)
    grip_pub.publish(g)


def _send_twist(twist_pub, stamp_ns, v=(0.0, 0.0, 0.0), frame=ri.BASE_FRAME):
    t = TwistStamped()
    t.header.stamp, t.header.frame_id = stamp_from_ns(stamp_ns), frame
    t.twist.linear.x, t.twist.linear.y, t.twist.linear.z = (float(x) for x in v)
    twist_pub.publish(t)


def _send(twist_pub, grip_pub, stamp_ns, v=(0.0, 0.0, 0.0)):
    _send_gripper(grip_pub, stamp_ns)
    _send_twist(twist_pub, stamp_ns, v)


def test_sim_node_publishes_the_real_robot_interfaces_and_steps_in_lockstep():
    with SimProcess("s", task="push", image_size=84, seed=3), Spinning() as node:
        rec = Recorder(node)
        twist, grip, arm = _commands(node)
        reset = node.create_client(Trigger, "/s/" + ri.RESET_SERVICE)
        wait_for(lambda: "/s/" + ri.SIM_INFO in rec.latched, 30, "sim_info (transient local)")
        info = json.loads(rec.latched["/s/" + ri.SIM_INFO])
        assert info["task"] == "push" and info["image_size"] == 84 and info["mode"] == "lockstep"
        wait_for(lambda: node.count_subscribers("/s/" + ri.TWIST_COMMAND) > 0, 10, "sim command subscriptions")
        assert [i.qos_profile.reliability for i in node.get_subscriptions_info_by_topic("/s/" + ri.TWIST_COMMAND)] \
            == [ReliabilityPolicy.BEST_EFFORT]   # default step_reliability
        color_topic = f"{CAM}/{ri.COLOR_IMAGE}"
        stamp0 = _call(node, reset)["stamp_ns"]
        wait_for(lambda: all(rec.count(t) >= 1 for t in rec.TOPICS), 10, "every topic after reset")

        # types, encodings, sizes, stamps, frames
        color, depth = rec.last(color_topic), rec.last(f"{CAM}/{ri.DEPTH_IMAGE}")
        assert (color.encoding, color.height, color.width) == ("rgb8", 84, 84)
        assert (depth.encoding, depth.height, depth.width) == ("16UC1", 84, 84)
        assert color.header.frame_id == depth.header.frame_id == ri.COLOR_OPTICAL_FRAME
        cinfo = rec.last(f"{CAM}/{ri.COLOR_INFO}")
        assert (cinfo.width, cinfo.height) == (84, 84) and cinfo.k[8] == 1.0 and cinfo.k[0] > 0
        js = rec.last("/s/" + ri.JOINT_STATES)
        assert list(js.name) == list(ri.ARM_JOINTS + ri.FINGER_JOINTS) and len(js.position) == 9
        stamp_p, priv = unpack_labelled(rec.last("/s/" + ri.PRIVILEGED_STATE))
        assert {"state", "achieved_goal", "reward"} <= set(priv)
        goal = rec.last("/s/" + ri.GOAL)
        assert goal.header.frame_id == ri.BASE_FRAME
        stamps = {ns_from_stamp(m.header.stamp) for m in (color, depth, cinfo, js, goal)} | {stamp_p}
        assert stamps == {stamp0}
        assert ns_from_stamp(rec.last(ri.CLOCK).clock) == stamp0
        assert {m.ns for m in rec.last("/s/" + ri.MARKERS).markers} == {"goal", "block"}
        if "/s/" + ri.ROBOT_DESCRIPTION in rec.latched:   # the URDF generator is optional for the sim
            assert "panda_joint7" in rec.latched["/s/" + ri.ROBOT_DESCRIPTION]

        # the images are exactly the in-process env's (same seed): depth in mm round-trips bit for bit
        env = AacPandaEnv(config=SimConfig(task="push"))
        obs, _ = env.reset(seed=3)
        np.testing.assert_array_equal(image_to_rgb(color), obs["rgb"])
        np.testing.assert_array_equal(image_to_depth_mm(depth), obs["depth"])
        env.close()

        # lockstep: N commands -> exactly N new observations, stamps advancing by control_dt
        n0, stamp, dt_ns = rec.count(color_topic), stamp0, int(round(info["control_dt"] * 1e9))
        for k in range(5):
            _send(twist, grip, stamp, v=(0.2, 0.0, 0.0))
            wait_for(lambda: rec.count(color_topic) == n0 + k + 1, 10, f"observation {k + 1}")
            stamp = ns_from_stamp(rec.last(color_topic).header.stamp)
            assert stamp == stamp0 + (k + 1) * dt_ns
        time.sleep(0.3)
        assert rec.count(color_topic) == n0 + 5

        # malformed or stale commands are refused and move nothing
        before = np.array(rec.last("/s/" + ri.JOINT_STATES).position)
        for bad in (dict(v=(np.nan, 0, 0)), dict(v=(5.0, 0, 0)), dict(frame="world")):
            _send_twist(twist, stamp, **bad)
        for bad in (dict(finger=0.2), dict(finger=float("inf")), dict(names=["panda_joint1"])):
            _send_gripper(grip, stamp, **bad)
        _send(twist, grip, stamp - dt_ns)   # stale stamp
        wrong = JointTrajectory(joint_names=["fr3_joint1"], points=[JointTrajectoryPoint(positions=[0.0])])
        wrong.header.stamp = stamp_from_ns(stamp)
        arm.publish(wrong)
        time.sleep(0.5)
        assert rec.count(color_topic) == n0 + 5
        np.testing.assert_array_equal(np.array(rec.last("/s/" + ri.JOINT_STATES).position), before)

        # a joint_trajectory_controller command steps too (targets in joint space)
        target = JointTrajectory(joint_names=list(ri.ARM_JOINTS),
                                 points=[JointTrajectoryPoint(positions=(before[:7] + 0.05).tolist())])
        target.header.stamp = stamp_from_ns(stamp)
        arm.publish(target)
        wait_for(lambda: rec.count(color_topic) == n0 + 6, 10, "observation after a joint trajectory")
        moved = np.array(rec.last("/s/" + ri.JOINT_STATES).position)[:7] - before[:7]
        assert (moved > 0.005).all(), moved


def test_ros_training_fills_replay_identically_to_in_process(tmp_path):
    """Same seed: two sim nodes over DDS give the trainer the same transitions as two in-process envs."""
    cfg = load_config(None, ["sim.task=push", "num_envs=2", "random_steps=100000", "save_replay=false",
                             "replay_capacity=1000"])
    ref = Trainer(cfg, tmp_path / "inproc", progress=False)
    envs = gym.vector.SyncVectorEnv([lambda: AacPandaEnv(config=sim_config_for(cfg))] * 2,
                                    autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    for seed in (11, None):
        ref.collect(envs, seed)
    envs.close()

    with SimProcess("sim0"), SimProcess("sim1"), Spinning("aac_test_trainer") as node:
        ros = Trainer(cfg, tmp_path / "ros", progress=False)
        venv = RosVectorEnv(node, ["sim0", "sim1"], ros.eval_env.unwrapped.cfg.to_dict(), ros.T, image_keys=True)
        for seed in (11, None):
            out = ros.collect(venv, seed)
            assert out["dropped"] == 0
    assert ros.replay.size == ref.replay.size == 4 and ros.env_steps == ref.env_steps == 200
    np.testing.assert_array_equal(ros.replay.actions, ref.replay.actions)
    for k in ref.replay.keys:
        np.testing.assert_array_equal(ros.replay.obs[k], ref.replay.obs[k], err_msg=k)


def test_trainer_survives_a_sim_killed_mid_episode_inside_collect_and_readmits_it(tmp_path):
    """sim1 dies at step 10 of an episode while `Trainer.collect` runs: its partial episode is not in
    replay (checked by content against an in-process run with the same seeds and actions), sim0's is; the
    restarted sim is re-admitted and its transitions equal those of an in-process env with the same seed."""
    cfg = load_config(None, ["sim.task=reach", "num_envs=2", "random_steps=100000", "save_replay=false",
                             "replay_capacity=2000"])
    ref = Trainer(cfg, tmp_path / "inproc", progress=False)    # same seed: the same random actions
    envs = gym.vector.SyncVectorEnv([lambda: AacPandaEnv(config=sim_config_for(cfg))] * 2,
                                    autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    for seed in (0, 100):
        ref.collect(envs, seed)
    envs.close()
    assert ref.replay.size == 4   # slots: round 1 env 0, env 1; round 2 env 0, env 1

    sim1 = SimProcess("sim1", task="reach")
    with SimProcess("sim0", task="reach"), sim1, Spinning("aac_test_trainer") as node:
        tr = Trainer(cfg, tmp_path / "ros", progress=False)
        venv = RosVectorEnv(node, ["sim0", "sim1"], tr.eval_env.unwrapped.cfg.to_dict(), tr.T, image_keys=True,
                            step_timeout_s=1.5, connect_timeout_s=3.0)
        wait_for(lambda: all(c.info is not None for c in venv.clients), 30, "both sims announced")
        step, steps = venv.step, [0]

        def step_killing_sim1_at_10(actions):
            steps[0] += 1
            if steps[0] == 10:
                sim1.kill()                                    # inside collect, mid-episode
            return step(actions)
        venv.step = step_killing_sim1_at_10
        out = tr.collect(venv, 0)
        venv.step = step
        assert out["dropped"] == 1 and out["steps"] == tr.T and tr.replay.size == 1

        version = venv.clients[1].info_version
        sim1.start()
        wait_for(lambda: venv.clients[1].info_version > version, 30, "sim1 restart (a new sim_info)")
        out = tr.collect(venv, 100)
        assert out["dropped"] == 0 and venv.readmissions == 1 and tr.replay.size == 3

    def episode(rb, slot):
        return {**{k: rb.obs[k][slot] for k in rb.keys}, "actions": rb.actions[slot]}
    for ros_slot, ref_slot in ((0, 0), (1, 2), (2, 3)):   # sim0's first episode; both of round 2
        for k, v in episode(ref.replay, ref_slot).items():
            np.testing.assert_array_equal(episode(tr.replay, ros_slot)[k], v, err_msg=f"slot {ros_slot} {k}")
    partial = episode(ref.replay, 1)                      # what sim1's killed episode would have been
    for slot in range(3):
        assert not np.array_equal(tr.replay.obs["achieved_goal"][slot], partial["achieved_goal"])


def test_the_trainers_ros_env_has_the_observation_space_of_an_in_process_env_of_its_config():
    """The trainer checks what a run stores against its training envs' space: over ROS that space is the one an
    in-process env of the same sim config has, less what the trainer does not read (images for a state run)."""
    cfg = SimConfig(task="pick", image_size=48, segmentation=True).to_dict()
    local = AacPandaEnv(config=cfg)
    with Spinning() as node:
        pixels = RosVectorEnv(node, ["s"], cfg, 50, image_keys=True)
        state = RosVectorEnv(node, ["t"], cfg, 50, image_keys=False)
        plain = RosVectorEnv(node, ["u"], {**cfg, "segmentation": False}, 50, image_keys=True)
        assert pixels.single_observation_space == local.observation_space and SEG_KEY in local.observation_space.spaces
        assert set(state.single_observation_space.spaces) == {"proprio", "desired_goal", "state", "achieved_goal"}
        assert state.single_observation_space["state"] == local.observation_space["state"]
        assert set(plain.single_observation_space.spaces) == set(local.observation_space.spaces) - {SEG_KEY}
        # a pixel env over sims whose config renders no images would wait for frames that never come: refused
        blind = RosVectorEnv(node, ["v"], {**cfg, "render_images": False}, 50, image_keys=True)
        with pytest.raises(ConfigError, match=r"waits for \['rgb', 'depth', 'seg.*render_images: False"):
            blind.single_observation_space
        for env in (pixels, state, plain, blind):
            env.close()
    local.close()


def test_the_trainer_hands_its_sim_config_to_a_lockstep_sim_and_refuses_a_realtime_one():
    """One source for the sims' config: a lockstep sim launched with another one (64 px, no textures) runs the
    trainer's once connected (84 px frames, textures on); a realtime twin is not reconfigured but refused
    naming the field, and a config the sim cannot run is refused with the sim's reason."""
    trainer_cfg = SimConfig(task="push", image_size=84).to_dict()
    trainer_cfg["randomization"]["textures"], trainer_cfg["randomization"]["texture_prob"] = True, 1.0
    with SimProcess("s", image_size=64), Spinning() as node:
        venv = RosVectorEnv(node, ["s"], trainer_cfg, 50, image_keys=True)
        obs, _ = venv.reset(seed=0)
        assert obs["rgb"].shape == (1, 84, 84, 3)
        info = venv.clients[0].info
        assert info["trainer_config"] and info["config"]["randomization"]["textures"] is True
        assert info["config"]["image_size"] == 84
        venv.step(np.zeros((1, 4), np.float32))
        # the in-process sim's training curricula (knocks, starting in the hand) cannot reach a sim node
        with pytest.raises(NotImplementedError, match=r"reset options \['knock_prob'\] .* do not reach sims"):
            venv.reset(seed=1, options={"knock_prob": 0.3})
        venv.close()
    with SimProcess("s", image_size=64, mode="realtime"), Spinning() as node:
        venv = RosVectorEnv(node, ["s"], SimConfig(task="push", image_size=84).to_dict(), 50, image_keys=True)
        with pytest.raises(SimIncompatible, match="image_size: trainer 84, sim 64"):
            venv.reset(seed=0)
    with SimProcess("s", image_size=64), Spinning() as node:
        bad = {**trainer_cfg, "image_size": 4}   # smaller than the sim's crop allows
        venv = RosVectorEnv(node, ["s"], bad, 50, image_keys=True)
        with pytest.raises(SimIncompatible, match="trainer's sim config refused: .*image"):
            venv.reset(seed=0)


def test_full_camera_frames_need_native_rendering_and_are_refused_for_training(tmp_path):
    """camera_resolution:=native (the twin sends 640x480 frames as a RealSense) needs the env to render them
    (camera_render: native); a trainer, which reads policy-size frames, refuses such a sim by name."""
    from rclpy.parameter import Parameter

    from aac_sim.sim_node import SimNode
    with Spinning():
        with pytest.raises(ConfigError, match="camera_render: native"):
            SimNode(parameter_overrides=[Parameter("camera_resolution", value="native")])
        with pytest.raises(ConfigError, match="camera_resolution must be one of"):
            SimNode(parameter_overrides=[Parameter("camera_resolution", value="4k")])
    sim_yaml = tmp_path / "sim.yaml"
    sim_yaml.write_text("camera_render: native\n")
    with SimProcess("s", sim_config=str(sim_yaml), camera_resolution="native"), Spinning() as node:
        venv = RosVectorEnv(node, ["s"], SimConfig(task="push", camera_render="native").to_dict(), 50, image_keys=True)
        with pytest.raises(SimIncompatible, match="camera_resolution"):
            venv.reset(seed=0)


def test_realtime_twin_steps_on_its_own_and_stops_without_commands():
    with SimProcess("s", task="reach", mode="realtime", randomize=False), Spinning() as node:
        rec = Recorder(node)
        twist, grip, _ = _commands(node)
        wait_for(lambda: rec.count("/s/" + ri.PROPRIO) >= 5, 30, "realtime observations")
        t0, n0 = time.monotonic(), rec.count("/s/" + ri.PROPRIO)
        time.sleep(1.0)
        rate = (rec.count("/s/" + ri.PROPRIO) - n0) / (time.monotonic() - t0)
        hz = 1.0 / SimConfig().control_dt
        assert 0.5 * hz <= rate <= 1.3 * hz, rate   # the control rate (with slack for a loaded CI machine)
        ee = lambda: unpack_labelled(rec.last("/s/" + ri.PROPRIO))[1]["proprio"][:3]  # noqa: E731
        start = ee()
        for _ in range(10):   # move +y at 0.2 m/s for ~0.4 s
            _send(twist, grip, 0, v=(0.0, 0.2, 0.0))
            time.sleep(0.04)
        time.sleep(0.6)       # no more twists: stale after command_timeout_s -> the arm stops
        stopped = ee()
        assert stopped[1] - start[1] > 0.03
        time.sleep(0.5)
        np.testing.assert_allclose(ee(), stopped, atol=0.005)


def test_trainer_node_trains_from_a_sim_node_end_to_end(tmp_path):
    """The `aac_trainer_node` as launched: parameters in, checkpoint + exported actor + report out.
    Both nodes with `step_reliability: reliable` (the default best-effort path runs in the tests above)."""
    import rclpy
    from rclpy.parameter import Parameter

    from aac_policy.trainer_node import TrainerNode, run_trainer

    overrides = ["sim.task=reach", "total_env_steps=100", "random_steps=50", "batch_size=32",
                 "eval_every_steps=100", "eval_episodes=1", "checkpoint_every_steps=100",
                 "final_eval_episodes=1", "video_episodes=1"]
    with SimProcess("sim0", task="reach", step_reliability="reliable"):
        rclpy.init()
        try:
            node = TrainerNode(parameter_overrides=[
                Parameter("sim_namespaces", Parameter.Type.STRING_ARRAY, ["sim0"]),
                Parameter("run_dir", Parameter.Type.STRING, str(tmp_path)),
                Parameter("overrides", Parameter.Type.STRING_ARRAY, overrides),
                Parameter("step_reliability", Parameter.Type.STRING, "reliable")])
            out = run_trainer(node, progress=False)
            assert [i.qos_profile.reliability for i in node.get_subscriptions_info_by_topic(
                "/sim0/" + ri.TWIST_COMMAND)] == [ReliabilityPolicy.RELIABLE]   # the sim's (the trainer's env is closed)
            node.destroy_node()
        finally:
            rclpy.shutdown()
    assert out["env_steps"] == 100
    for name in ("actor.pt", "learning_curve.png", "eval/report.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert list((tmp_path / "checkpoints").glob("checkpoint_*.pt"))


def test_trainer_node_runs_the_staged_pipeline(tmp_path):
    """`pipeline=staged` over ROS: stage 1 (privileged teacher, no images) in the trainer process, stage 2
    (the pixel student) from a sim node launched with its defaults: the trainer hands it the student's sim
    config (training textures on), as train_sim.launch.py's sims get it."""
    import rclpy
    from rclpy.parameter import Parameter

    from aac_policy.trainer_node import TrainerNode, run_trainer

    overrides = ["pipeline=staged", "sim.task=reach", "random_steps=50", "batch_size=32", "final_eval_episodes=1",
                 "video_episodes=0", "teacher.total_env_steps=100", "teacher.eval_every_steps=100",
                 "teacher.eval_episodes=1", "student.total_env_steps=100", "student.eval_every_steps=100",
                 "student.eval_episodes=1", "student.teacher_collect_decay_steps=50"]
    with SimProcess("sim0", task="reach"):
        rclpy.init()
        try:
            node = TrainerNode(parameter_overrides=[
                Parameter("sim_namespaces", Parameter.Type.STRING_ARRAY, ["sim0"]),
                Parameter("run_dir", Parameter.Type.STRING, str(tmp_path)),
                Parameter("overrides", Parameter.Type.STRING_ARRAY, overrides)])
            out = run_trainer(node, progress=False)
            node.destroy_node()
        finally:
            rclpy.shutdown()
    stages = json.loads((tmp_path / "stages.json").read_text())
    assert stages["teacher"]["env_steps"] == 100 and stages["student"]["env_steps"] == 100
    assert (tmp_path / "actor.pt").stat().st_size > 0 and out["report"]["conditions"]["train"]["episodes"] == 1
    assert (tmp_path / "teacher" / "replay").is_dir()   # stage 1 ran in-process (its replay saved to disk)
    # the student re-textures by default: the sim sent its surface classes with every frame, stored with them
    episode = np.load(sorted((tmp_path / "student" / "replay").glob("episode_*.npz"))[0])
    seg = episode[f"obs/{SEG_KEY}"]
    assert seg.shape[1:] == episode["obs/rgb"].shape[1:3] and seg.dtype == np.uint8
    assert set(np.unique(seg)) <= {SEG_OTHER, SEG_TABLE, SEG_FLOOR, SEG_BLOCK} and (seg == SEG_TABLE).any()
