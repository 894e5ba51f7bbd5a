"""Message conversions and the sim node's command logic, without running any node."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sensor_msgs")

from aac_sim.env import AacPandaEnv  # noqa: E402
from aac_robot.ros_convert import (MessageError, camera_info_msg, image_to_depth_mm, image_to_labels, image_to_rgb,  # noqa: E402
                                   ns_from_stamp, numpy_to_image, pack_labelled, pose_position, pose_stamped,
                                   stamp_from_ns, trajectory_target, unpack_labelled)
from aac_robot.motion import action_to_command, applied_action  # noqa: E402
from aac_sim.sim_server import CommandError, SimServer  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

RNG = np.random.default_rng(0)


def test_images_round_trip_in_every_supported_encoding():
    rgb = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    depth = RNG.integers(0, 4000, (6, 5), dtype=np.uint16)
    msg = numpy_to_image(rgb, "rgb8", 1_500_000_000, "cam")
    assert (msg.height, msg.width, msg.step, msg.header.frame_id) == (6, 5, 15, "cam")
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)
    np.testing.assert_array_equal(image_to_rgb(numpy_to_image(rgb[..., ::-1].copy(), "bgr8", 0, "")), rgb)
    np.testing.assert_array_equal(image_to_depth_mm(numpy_to_image(depth, "16UC1", 0, "")), depth)
    metres = depth.astype(np.float32) / 1000.0
    metres[0, 0], metres[1, 1], metres[2, 2] = np.nan, -1.0, np.inf   # no readings
    mm = image_to_depth_mm(numpy_to_image(metres, "32FC1", 0, ""))
    expect = depth.copy()
    expect[0, 0] = expect[1, 1] = expect[2, 2] = 0
    np.testing.assert_array_equal(mm, expect)


def test_label_images_round_trip_and_only_as_labels():
    labels = RNG.integers(0, 4, (6, 5), dtype=np.uint8)
    msg = numpy_to_image(labels, "mono8", 7, "cam")
    np.testing.assert_array_equal(image_to_labels(msg, (6, 5)), labels)
    with pytest.raises(MessageError, match="label image must be mono8"):
        image_to_labels(numpy_to_image(np.zeros((6, 5, 3), np.uint8), "rgb8", 0, ""))
    with pytest.raises(MessageError, match="depth image must be 16UC1"):
        image_to_depth_mm(msg)


def test_padded_rows_and_big_endian_are_read_correctly():
    depth = RNG.integers(0, 60000, (3, 4), dtype=np.uint16)
    padded = np.zeros((3, 6), np.uint16)
    padded[:, :4] = depth.byteswap()
    msg = Image(height=3, width=4, encoding="16UC1", is_bigendian=1, step=12, data=padded.tobytes())
    np.testing.assert_array_equal(image_to_depth_mm(msg), depth)


@pytest.mark.parametrize("change, match", [
    (dict(encoding="mono16"), "unsupported image encoding 'mono16'"),
    (dict(encoding="mono8"), "colour image must be rgb8 or bgr8"),
    (dict(encoding="yuv422"), "unsupported image encoding"),
    (dict(step=10), "do not fit"),
    (dict(height=7), "do not fit"),
])
def test_bad_images_are_refused_clearly(change, match):
    msg = numpy_to_image(np.zeros((6, 5, 3), np.uint8), "rgb8", 0, "")
    for k, v in change.items():
        setattr(msg, k, v)
    with pytest.raises(MessageError, match=match):
        image_to_rgb(msg)


def test_wrong_size_and_wrong_kind_of_image_are_refused():
    msg = numpy_to_image(np.zeros((6, 5, 3), np.uint8), "rgb8", 0, "")
    with pytest.raises(MessageError, match="5x6, expected 84x84"):
        image_to_rgb(msg, (84, 84))
    with pytest.raises(MessageError, match="depth image must be 16UC1"):
        image_to_depth_mm(msg)
    with pytest.raises(MessageError, match="millimetres instead of metres"):
        image_to_depth_mm(numpy_to_image(np.full((2, 2), 800.0, np.float32), "32FC1", 0, ""))
    with pytest.raises(MessageError, match="HxWx3 uint8"):
        numpy_to_image(np.zeros((6, 5), np.uint8), "rgb8", 0, "")


def test_labelled_arrays_and_stamps():
    stamp = 12_345_678_901
    assert ns_from_stamp(stamp_from_ns(stamp)) == stamp
    segs = {"state": np.arange(5, dtype=np.float32), "reward": [-1.0], "empty": []}
    t, out = unpack_labelled(pack_labelled(segs, stamp))
    assert t == stamp and list(out) == ["state", "reward", "empty"]
    np.testing.assert_array_equal(out["state"], segs["state"])
    msg = pack_labelled(segs, stamp)
    msg.layout.dim[1].size = 50
    with pytest.raises(MessageError, match="beyond the 6 values"):
        unpack_labelled(msg)
    msg.layout.dim = msg.layout.dim[1:]
    with pytest.raises(MessageError, match="'stamp' dim"):
        unpack_labelled(msg)


def test_goal_pose_and_trajectory_validation():
    msg = pose_stamped((0.5, 0.1, 0.02), 0, "panda_link0")
    np.testing.assert_array_equal(pose_position(msg, "panda_link0"), [0.5, 0.1, 0.02])
    with pytest.raises(MessageError, match="frame 'world'"):
        pose_position(pose_stamped((0, 0, 0), 0, "world"), "panda_link0")
    with pytest.raises(MessageError, match="not finite"):
        pose_position(pose_stamped((np.nan, 0, 0), 0, ""), "panda_link0")
    joints = ("a", "b")
    ok = JointTrajectory(joint_names=["b", "a"], points=[JointTrajectoryPoint(positions=[1.0, 2.0])])
    assert trajectory_target(ok, joints) == {"b": 1.0, "a": 2.0}
    for bad in (JointTrajectory(joint_names=["a", "a"], points=ok.points),
                JointTrajectory(joint_names=["c"], points=[JointTrajectoryPoint(positions=[0.0])]),
                JointTrajectory(joint_names=["a"], points=[]),
                JointTrajectory(joint_names=["a"], points=[JointTrajectoryPoint(positions=[np.nan])]),
                JointTrajectory(joint_names=["a", "b"], points=[JointTrajectoryPoint(positions=[1.0])])):
        with pytest.raises(MessageError):
            trajectory_target(bad, joints)


def test_camera_info_carries_the_policy_intrinsics():
    env = AacPandaEnv(task="reach", render_images=False)
    intr = env.policy_intrinsics
    info = camera_info_msg(intr, 7, "cam")
    assert (info.width, info.height, info.k[0], info.k[2], info.k[4], info.k[5]) == (
        intr.width, intr.height, intr.fx, intr.cx, intr.fy, intr.cy)
    env.close()


@pytest.fixture(scope="module")
def server():
    s = SimServer(AacPandaEnv(task="push", render_images=False))
    yield s
    s.env.close()


def test_commands_from_float32_actions_map_back_exactly(server):
    """What makes ROS training bit-identical to in-process: action -> (twist, width) -> the action the env
    executes in-process (`applied_action`: xyz scaled onto the unit ball), and executing that one again
    changes nothing (the sim steps the env with it)."""
    limits = server.env.cfg.motion
    actions = RNG.uniform(-1, 1, (2000, 4)).astype(np.float32)
    actions[:4] = [[1, -1, 1, -1], [-1, 1, -1, 1], [0, 0, 0, 0], [1e-8, -1e-8, 0.5, 0.999999]]
    actions[4:6] = [[0.6, 0.0, -0.8, 1.0], [0.3, -0.2, 0.1, 0.0]]   # inside the ball: unchanged
    for a in actions:
        b = server.twist_action(*action_to_command(a, limits))
        assert b.dtype == np.float32
        np.testing.assert_array_equal(b, applied_action(a, limits))
        np.testing.assert_array_equal(applied_action(b, limits), b)
        assert np.linalg.norm(b[:3]) <= 1 + 1e-6
        if np.linalg.norm(a[:3].astype(np.float64)) <= 1:
            np.testing.assert_array_equal(b, a)


def test_bad_commands_raise_and_do_not_step(server):
    with pytest.raises(CommandError, match="has not been reset"):
        SimServer(server.env).step(np.zeros(4))
    server.reset(seed=0)
    clock = server.clock_ns
    for v, w, match in (((np.nan, 0, 0), 0.04, "finite"), ((2.0, 0, 0), 0.04, "exceeds the limit"),
                        ((0, 0, 0), 0.09, "gripper width"), ((0, 0, 0), -0.01, "gripper width")):
        with pytest.raises(CommandError, match=match):
            server.twist_action(v, w)
    with pytest.raises(CommandError, match="joint limits"):
        server.step_joints([5.0] * 7, 0.04)
    with pytest.raises(CommandError, match="missing"):
        server.arm_targets({"panda_joint1": 0.0})
    with pytest.raises(CommandError, match="outside"):
        server.gripper_width({"panda_finger_joint1": 0.05})
    assert server.clock_ns == clock   # nothing stepped


def test_stamps_are_unique_and_advance_by_control_dt(server):
    first = server.reset(seed=1)
    steps = [server.step(np.zeros(4, np.float32)) for _ in range(3)]
    again = server.reset()
    stamps = [first.stamp_ns] + [s.stamp_ns for s in steps] + [again.stamp_ns]
    assert np.all(np.diff(stamps) == server.dt_ns) and server.dt_ns == round(server.env.cfg.control_dt * 1e9)
    assert [s.step for s in steps] == [1, 2, 3] and again.step == 0 and again.episode == first.episode + 1
    arm = server.arm_targets({f"fr3_joint{i}": float(i) for i in range(1, 8)},
                             joint_names=[f"fr3_joint{i}" for i in range(1, 8)])
    np.testing.assert_array_equal(arm, np.arange(1, 8))
