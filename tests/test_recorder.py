"""Deployment recording: BagRecorder (rosbags, no rclpy) and aac_recorder_node against a real sim over DDS."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ros_helpers import ROOT, SimProcess, wait_for  # noqa: I100 (skips the module without rclpy)

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402
from rosbags.rosbag2 import Reader  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402

from aac_driver.bags import BagRecorder, RecorderError, read_bag  # noqa: E402
from aac_driver.recorder import RecorderNode  # noqa: E402
from aac_robot import ros_interface as ri  # noqa: E402

JOINTS = list(ri.ARM_JOINTS + ri.FINGER_JOINTS)
KILTED = get_typestore(Stores.ROS2_KILTED)


def _image(i: int) -> Image:
    rng = np.random.default_rng(i)
    msg = Image(height=6, width=5, encoding="rgb8", is_bigendian=0, step=15)
    msg.data = rng.integers(0, 256, 6 * 5 * 3, dtype=np.uint8).tobytes()
    msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id = 100 + i, 40_000_000 * i, "cam"
    return msg


def _joints(i: int) -> JointState:
    # no efforts: rclpy's CDR buffer then ends in spare bytes, which the reader must tolerate
    msg = JointState(name=JOINTS, position=[0.1 * i + k for k in range(9)], velocity=[float(-k) for k in range(9)])
    msg.header.stamp.sec = 100 + i
    return msg


def _write_run(path: Path, storage: str = "mcap", n: int = 4) -> dict[str, list[tuple[int, bytes]]]:
    raw = {"/s/image": [], "/s/joint_states": []}
    with BagRecorder(path, {"/s/image": "sensor_msgs/msg/Image", "/s/joint_states": "sensor_msgs/JointState"},
                     storage=storage) as bag:
        assert bag.partial_path.is_dir() and not path.exists()
        for i in range(n):
            for topic, msg in (("/s/image", _image(i)), ("/s/joint_states", _joints(i))):
                data = serialize_message(msg)
                t = 1_700_000_000_000_000_000 + i * 40_000_000 + (topic == "/s/joint_states")
                bag.write(topic, data, t)
                raw[topic].append((t, data))
    return raw


# ---------------------------------------------------------------------- BagRecorder (no rclpy in it)
@pytest.mark.parametrize("storage,ext", [("mcap", ".mcap"), ("sqlite3", ".db3")])
def test_bag_round_trip(tmp_path, storage, ext):
    path = tmp_path / "run"
    raw = _write_run(path, storage, n=4)
    assert not (tmp_path / "run.partial").exists()
    assert sorted(p.name for p in path.iterdir()) == sorted(["metadata.yaml", f"run_0{ext}"])

    info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == storage and info["version"] == 9
    assert info["message_count"] == 8
    assert info["relative_file_paths"] == [f"run_0{ext}"] and info["files"][0]["path"] == f"run_0{ext}"
    counts = {t["topic_metadata"]["name"]: t["message_count"] for t in info["topics_with_message_count"]}
    assert counts == {"/s/image": 4, "/s/joint_states": 4}
    hashes = {t["topic_metadata"]["name"]: t["topic_metadata"]["type_description_hash"]
              for t in info["topics_with_message_count"]}
    assert hashes["/s/image"] == KILTED.hash_rihs01("sensor_msgs/msg/Image")

    # the bytes in the bag are the bytes rclpy produced (no re-serialization)
    with Reader(path) as reader:
        stored = {c.topic: [] for c in reader.connections}
        for conn, t, data in reader.messages():
            stored[conn.topic].append((t, bytes(data)))
    assert stored == raw

    bag = read_bag(path)
    assert bag.types == {"/s/image": "sensor_msgs/msg/Image", "/s/joint_states": "sensor_msgs/msg/JointState"}
    assert bag.message_count == 8
    for i, (t, img) in enumerate(bag.messages["/s/image"]):
        ref = _image(i)
        assert t == raw["/s/image"][i][0]
        assert (img.height, img.width, img.encoding, img.step) == (6, 5, "rgb8", 15)
        assert img.header.frame_id == "cam" and img.header.stamp.sec == 100 + i
        assert img.header.stamp.nanosec == 40_000_000 * i
        assert bytes(img.data) == bytes(ref.data)
    for i, (_, js) in enumerate(bag.messages["/s/joint_states"]):
        assert js.name == JOINTS
        np.testing.assert_allclose(js.position, [0.1 * i + k for k in range(9)])
        np.testing.assert_allclose(js.velocity, [-k for k in range(9)])
        assert len(js.effort) == 0
    # one episode's window of a run (aac_episodes' report.json gives start_ns / end_ns): [start, stop)
    times = [t for t, _ in raw["/s/image"]]
    window = read_bag(path, start_ns=times[1], stop_ns=times[3])
    assert [t for t, _ in window.messages["/s/image"]] == times[1:3]
    if storage == "mcap":   # one self-contained file, as Foxglove opens it
        single = read_bag(path / "run_0.mcap")
        assert single.message_count == 8 and len(single.messages["/s/image"]) == 4


def test_killed_recorder_leaves_only_a_partial_directory(tmp_path):
    """SIGKILL before close: no `run/`, only `run.partial/` with the flushed MCAP data, no metadata.yaml."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path[:0] = {[str(ROOT / 'src' / 'aac_driver'), str(ROOT / 'src' / 'aac_sim')]!r}
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_recorder import _image
        from rclpy.serialization import serialize_message
        from aac_driver.bags import BagRecorder
        bag = BagRecorder({str(tmp_path / 'run')!r}, {{"/s/image": "sensor_msgs/msg/Image"}})
        for i in range(5):
            bag.write("/s/image", serialize_message(_image(i)), 1000 + i)
        bag.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.partial"]
    files = sorted(p.name for p in (tmp_path / "run.partial").iterdir())
    assert files == ["run.partial.mcap"]                       # no metadata.yaml: not a bag
    data = (tmp_path / "run.partial" / "run.partial.mcap").read_bytes()
    assert data.startswith(b"\x89MCAP0\r\n") and len(data) > 5 * 90   # the flushed chunk reached the file
    with pytest.raises(FileNotFoundError):
        read_bag(tmp_path / "run.partial")
    with pytest.raises(RecorderError, match="did not finish"):   # never merged into / overwritten
        BagRecorder(tmp_path / "run", {"/s/image": "sensor_msgs/msg/Image"})


def test_types_from_installed_msg_files_and_refusals(tmp_path):
    empty = get_typestore(Stores.EMPTY)      # forces Image -> Header -> Time from share/*/msg/*.msg
    with BagRecorder(tmp_path / "a", {"/img": "sensor_msgs/Image"}, typestore=empty) as bag:
        bag.write("/img", serialize_message(_image(0)), 1)
    assert read_bag(tmp_path / "a").digests["/img"] == KILTED.hash_rihs01("sensor_msgs/msg/Image")
    with pytest.raises(RecorderError, match="exists already"):
        BagRecorder(tmp_path / "a")
    with pytest.raises(RecorderError, match="storage"):
        BagRecorder(tmp_path / "b", storage="rosbag1")
    with BagRecorder(tmp_path / "c") as bag:
        with pytest.raises(RecorderError, match="unknown message type"):
            bag.add_topic("/x", "no_such_msgs/msg/Thing")
        with pytest.raises(RecorderError, match="was not added"):
            bag.write("/x", b"\x00\x01\x00\x00", 1)
    assert yaml.safe_load((tmp_path / "c" / "metadata.yaml").read_text())[
        "rosbag2_bagfile_information"]["message_count"] == 0


# ---------------------------------------------------------------------- aac_recorder_node, real DDS
CAM = "/s/" + ri.DEFAULT_CAMERA_NAMESPACE
COLOR, DEPTH, JOINT_STATES = f"{CAM}/{ri.COLOR_IMAGE}", f"{CAM}/{ri.DEPTH_IMAGE}", "/s/" + ri.JOINT_STATES


@pytest.fixture(scope="module")
def sim():
    # randomize=False: a steady scene for the recorded frames. (It once also avoided a realtime sim
    # exit on a measured gripper width a hair above 0.08 m; sim_node._width clips that since 76e4517.)
    with SimProcess("s", task="reach", mode="realtime", randomize=False) as proc:
        yield proc
    assert proc.proc.returncode in (0, -signal.SIGINT), f"the sim died during the test:\n{proc.log_tail()}"


def _check_sim_bag(path: Path, min_frames: int = 5):
    bag = read_bag(path)
    assert bag.types[COLOR] == bag.types[DEPTH] == "sensor_msgs/msg/Image"
    assert bag.types[JOINT_STATES] == "sensor_msgs/msg/JointState"
    for topic in (COLOR, DEPTH, JOINT_STATES):
        assert len(bag.messages[topic]) >= min_frames, (topic, len(bag.messages[topic]))
        stamps = [t for t, _ in bag.messages[topic]]
        headers = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in bag.messages[topic]]
        assert all(b > a for a, b in zip(stamps, stamps[1:])), f"{topic}: receive stamps not increasing"
        assert all(b > a for a, b in zip(headers, headers[1:])), f"{topic}: header stamps not increasing"
    for _, img in bag.messages[COLOR]:
        assert (img.encoding, img.height, img.width, img.step, len(img.data)) == ("rgb8", 84, 84, 252, 84 * 84 * 3)
    for _, img in bag.messages[DEPTH]:
        assert (img.encoding, img.height, img.width, img.step, len(img.data)) == ("16UC1", 84, 84, 168, 84 * 84 * 2)
        assert np.frombuffer(bytes(img.data), np.uint16).max() > 0
    for _, js in bag.messages[JOINT_STATES]:
        assert list(js.name) == JOINTS and len(js.position) == 9
    return bag


def test_recorder_node_records_a_realtime_sim(sim, tmp_path):
    if not rclpy.ok():
        rclpy.init()
    node = RecorderNode(namespace="s", parameter_overrides=[
        Parameter("output_dir", value=str(tmp_path)), Parameter("bag_name", value="run")])
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        assert set(node.wanted) >= {COLOR, DEPTH, JOINT_STATES, "/s/aac/goal", "/s/aac/policy/twist"}
        wait_for(lambda: all(node.bag.counts.get(t, 0) > 0 for t in (COLOR, DEPTH, JOINT_STATES)), 40,
                 "first sim messages in the bag")
        assert (tmp_path / "run.partial").is_dir() and not (tmp_path / "run").exists()
        time.sleep(1.5)
        hashes = {t: str(node.get_publishers_info_by_topic(t)[0].topic_type_hash) for t in (COLOR, JOINT_STATES)}
    finally:
        executor.shutdown(timeout_sec=2.0)
        thread.join(5)
        node.destroy_node()                   # closes the bag
        rclpy.shutdown()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    bag = _check_sim_bag(tmp_path / "run")
    assert {t: bag.digests[t] for t in hashes} == hashes      # the type hashes ROS itself advertises
    assert f"{CAM}/{ri.COLOR_INFO}" in bag.types and "/s/aac/goal" in bag.types
    assert "/s/aac/policy/twist" not in bag.types             # nobody published it: not in the bag
    info = yaml.safe_load((tmp_path / "run" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    offered = {t["topic_metadata"]["name"]: t["topic_metadata"]["offered_qos_profiles"]
               for t in info["topics_with_message_count"]}
    assert offered[COLOR] and offered[COLOR][0]["reliability"] == "reliable"


def test_recorder_records_what_the_arm_node_publishes(tmp_path):
    """`record_publishers_of` (default: aac_arm_node): whatever the arm node publishes is recorded, here a
    joint_trajectory controller topic that is not among the default topics (the launch files no longer
    compute the arm's command topics); other nodes' topics outside the list are not."""
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
    if not rclpy.ok():
        rclpy.init()
    arm = rclpy.create_node(ri.ARM_NODE_NAME, namespace="a")
    other = rclpy.create_node("someone_else", namespace="a")
    pub = arm.create_publisher(JointTrajectory, "fr3_arm_controller/joint_trajectory", 10)
    pub_other = other.create_publisher(JointTrajectory, "not_recorded/joint_trajectory", 10)
    node = RecorderNode(namespace="a", parameter_overrides=[
        Parameter("output_dir", value=str(tmp_path)), Parameter("bag_name", value="arm")])
    executor = SingleThreadedExecutor()
    for n in (node, arm, other):
        executor.add_node(n)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    topic = "/a/fr3_arm_controller/joint_trajectory"
    try:
        wait_for(lambda: topic in node.subscribed, 20, "the arm node's topic discovered")
        msg = JointTrajectory(joint_names=["fr3_joint1"], points=[JointTrajectoryPoint(positions=[0.1])])
        wait_for(lambda: (pub.publish(msg), pub_other.publish(msg), node.bag.counts.get(topic, 0) >= 3)[-1], 20,
                 "arm commands in the bag")
    finally:
        executor.shutdown(timeout_sec=2.0)
        thread.join(5)
        node.destroy_node()
        arm.destroy_node()
        other.destroy_node()
        rclpy.shutdown()
    bag = read_bag(tmp_path / "arm")
    assert bag.types[topic] == "trajectory_msgs/msg/JointTrajectory" and len(bag.messages[topic]) >= 3
    assert "/a/not_recorded/joint_trajectory" not in bag.types
    assert list(bag.messages[topic][0][1].joint_names) == ["fr3_joint1"]


def test_recorder_console_node_closes_the_bag_on_sigint(sim, tmp_path):
    """The console script in its own process, sqlite3 storage, stopped with Ctrl-C."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src" / "aac_driver"), str(ROOT / "src" / "aac_robot"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "aac_driver.recorder", "--ros-args", "-r", "__ns:=/s",
                             "-p", f"output_dir:={tmp_path}", "-p", "bag_name:=sig", "-p", "storage:=sqlite3",
                             "-p", f"topics:=['{ri.DEFAULT_CAMERA_NAMESPACE}/{ri.COLOR_IMAGE}', '{ri.JOINT_STATES}']",
                             "-p", "types:=['', 'sensor_msgs/msg/JointState']"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db = tmp_path / "sig.partial" / "sig.partial.db3"

    def committed() -> int:   # what a kill would leave: rows committed by the periodic flush, per topic
        if not db.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                rows = conn.execute("SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id").fetchall()
        except sqlite3.Error:
            return 0
        return min([n for _, n in rows] + [0] * (2 - len(rows)))
    try:
        wait_for(lambda: committed() >= 5 or proc.poll() is not None, 40, "committed messages on both topics")
        assert proc.poll() is None, proc.stdout.read()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig"]
    assert sorted(p.name for p in (tmp_path / "sig").iterdir()) == ["metadata.yaml", "sig_0.db3"]
    bag = read_bag(tmp_path / "sig")
    assert set(bag.types) == {f"{CAM}/{ri.COLOR_IMAGE}", JOINT_STATES}
    assert len(bag.messages[JOINT_STATES]) >= 3 and len(bag.messages[f"{CAM}/{ri.COLOR_IMAGE}"]) >= 3
    assert list(bag.messages[JOINT_STATES][-1][1].name) == JOINTS
