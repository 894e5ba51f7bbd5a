"""aac_foxglove_view: the ROS -> Foxglove mapping (decoded from the real protobuf bytes), the
metrics.jsonl tail, and the node end to end (a sim in its own process, a WebSocket client here)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import time

import numpy as np
import pytest

from ros_helpers import SimProcess, Spinning, wait_for  # noqa: I100 (skips the module without rclpy)

pytest.importorskip("foxglove")
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState as RosJointState  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from aac_policy.ros_env import call_service  # noqa: E402
from aac_robot import ros_interface as ri  # noqa: E402
from aac_sim.foxglove_view import (TRAINING_TOPIC, FoxgloveView, MetricsTail, color_image,  # noqa: E402
                                   depth_image, joint_states, scene_update)
from aac_robot.ros_convert import MessageError, numpy_to_image, pose_stamped, stamp_from_ns  # noqa: E402

STAMP = 12_345_678_901


def decode(obj_or_bytes, cls=None):
    """A foxglove message object (or its wire bytes + class) as a protobuf message, via its own schema."""
    cls = cls or type(obj_or_bytes)
    schema = cls.get_schema()
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(schema.data).file:
        pool.Add(f)
    msg_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name))
    return msg_cls.FromString(obj_or_bytes if isinstance(obj_or_bytes, bytes) else obj_or_bytes.encode())


# ---------------------------------------------------------------------- images
def test_color_image_fields():
    rgb = np.random.default_rng(0).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    out = decode(color_image(numpy_to_image(rgb, "rgb8", STAMP, ri.COLOR_OPTICAL_FRAME)))
    assert (out.width, out.height, out.encoding, out.step) == (6, 4, "rgb8", 18)
    assert out.data == rgb.tobytes() and out.frame_id == ri.COLOR_OPTICAL_FRAME
    assert (out.timestamp.seconds, out.timestamp.nanos) == (12, 345_678_901)
    # bgr8 (a RealSense option) is shown as rgb8 with the channels swapped
    out = decode(color_image(numpy_to_image(rgb, "bgr8", STAMP, "f")))
    assert out.encoding == "rgb8" and out.data == np.ascontiguousarray(rgb[..., ::-1]).tobytes()


def test_depth_image_fields():
    mm = np.array([[0, 1, 2], [400, 1234, 65535]], dtype=np.uint16)
    out = decode(depth_image(numpy_to_image(mm, "16UC1", STAMP, "f")))
    assert (out.width, out.height, out.encoding, out.step) == (3, 2, "16UC1", 6)
    assert np.array_equal(np.frombuffer(out.data, "<u2").reshape(2, 3), mm)
    metres = np.array([[0.4, np.nan], [1.2345, -1.0]], dtype=np.float32)   # 32FC1 -> mm, NaN / <= 0 -> 0
    out = decode(depth_image(numpy_to_image(metres, "32FC1", STAMP, "f")))
    assert out.encoding == "16UC1" and np.frombuffer(out.data, "<u2").tolist() == [400, 0, 1234, 0]


def test_images_refuse_the_wrong_kind():
    with pytest.raises(MessageError):
        color_image(numpy_to_image(np.zeros((2, 2), np.uint16), "16UC1", 0, "f"))
    with pytest.raises(MessageError):
        depth_image(numpy_to_image(np.zeros((2, 2, 3), np.uint8), "rgb8", 0, "f"))


# ---------------------------------------------------------------------- markers, joints
def _marker(kind, ns, id_, pos=(0.0, 0.0, 0.0), quat=(0.0, 0.0, 0.0, 1.0), size=0.1, action=Marker.ADD):
    m = Marker(type=kind, action=action, ns=ns, id=id_)
    m.header.frame_id, m.header.stamp = ri.BASE_FRAME, stamp_from_ns(STAMP)
    m.pose = pose_stamped(pos, 0, "", quat).pose
    m.scale.x = m.scale.y = m.scale.z = size
    m.color.r, m.color.g, m.color.b, m.color.a = 0.85, 0.15, 0.1, 1.0
    return m


def test_markers_become_scene_entities_with_poses_and_sizes():
    q = (0.0, 0.0, np.sin(0.3), np.cos(0.3))
    markers = MarkerArray(markers=[_marker(Marker.SPHERE, "goal", 0, (0.5, -0.1, 0.2), size=0.1),
                                   _marker(Marker.CUBE, "block", 1, (0.45, 0.05, 0.02), q, size=0.04),
                                   _marker(Marker.ARROW, "other", 2)])   # not drawn by the view: skipped
    out = decode(scene_update(markers))
    assert [e.id for e in out.entities] == ["goal/0", "block/1"] and not out.deletions
    goal, block = out.entities
    assert {goal.frame_id, block.frame_id} == {ri.BASE_FRAME}
    assert (block.timestamp.seconds, block.timestamp.nanos) == (12, 345_678_901)
    assert len(goal.spheres) == 1 and not goal.cubes and len(block.cubes) == 1 and not block.spheres
    s, c = goal.spheres[0], block.cubes[0]
    assert [s.pose.position.x, s.pose.position.y, s.pose.position.z] == pytest.approx([0.5, -0.1, 0.2])
    assert [s.size.x, s.size.y, s.size.z] == pytest.approx([0.1] * 3)
    assert [c.pose.position.x, c.pose.position.y, c.pose.position.z] == pytest.approx([0.45, 0.05, 0.02])
    o = c.pose.orientation
    assert [o.x, o.y, o.z, o.w] == pytest.approx(q)
    assert [c.size.x, c.size.y, c.size.z] == pytest.approx([0.04] * 3)
    assert [c.color.r, c.color.g, c.color.b, c.color.a] == pytest.approx([0.85, 0.15, 0.1, 1.0])


def test_marker_deletions():
    out = decode(scene_update(MarkerArray(markers=[_marker(Marker.CUBE, "block", 1, action=Marker.DELETE),
                                                   _marker(Marker.CUBE, "", 0, action=Marker.DELETEALL)])))
    assert not out.entities
    assert [(d.type, d.id) for d in out.deletions] == [(0, "block/1"), (1, "")]   # MatchingId, All


def test_joint_states():
    msg = RosJointState(name=["panda_joint1", "panda_finger_joint1"], position=[0.1, 0.04], velocity=[0.5, 0.0])
    msg.header.stamp = stamp_from_ns(STAMP)
    out = decode(joint_states(msg))
    assert [j.name for j in out.joints] == ["panda_joint1", "panda_finger_joint1"]
    assert [j.position for j in out.joints] == pytest.approx([0.1, 0.04])
    assert out.joints[0].velocity == pytest.approx(0.5) and not out.joints[0].HasField("effort")


# ---------------------------------------------------------------------- metrics.jsonl
def test_metrics_tail_reads_complete_lines_incrementally(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.poll() == []                       # no file yet
    r1 = {"env_steps": 1000, "success_rate": 0.1, "mean_return": -45.0, "wall_time_s": 12.5}
    r2 = {"env_steps": 2000, "success_rate": 0.3, "mean_return": -30.0, "wall_time_s": 25.0}
    text2 = json.dumps(r2) + "\n"
    path.write_text(json.dumps(r1) + "\n" + text2[:10])   # the trainer is half-way through row 2
    assert tail.poll() == [r1]
    assert tail.poll() == []                       # the partial line is not consumed ...
    with open(path, "a") as f:
        f.write(text2[10:])
    assert tail.poll() == [r2]                     # ... until it is complete
    with open(path, "a") as f:
        f.write("not json\n\n")
    assert tail.poll() == [] and tail.bad_lines == 1
    assert tail.rows == [r1, r2]
    path.write_text(json.dumps(r1) + "\n")         # a resumed run rewrote the file: read it again
    assert tail.poll() == [r1] and tail.rows == [r1]


# ---------------------------------------------------------------------- the node, end to end
class WsClient:
    """The smallest WebSocket client for the Foxglove protocol (stdlib only). foxglove-sdk >= 0.30
    servers accept only the subprotocol name `foxglove.sdk.v1` (the same protocol as the older
    `foxglove.websocket.v1`, renamed); like the Foxglove app, offer both and let the server pick."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: foxglove.sdk.v1, foxglove.websocket.v1\r\n\r\n").encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self._read(1)
        lines = head.decode().split("\r\n")
        assert " 101 " in lines[0], lines[0]
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert headers["sec-websocket-accept"] == accept.decode()
        assert headers["sec-websocket-protocol"] == "foxglove.sdk.v1"

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("server closed the connection")
            out += chunk
        return out

    def recv(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next data frame (text 1, binary 2); raises socket.timeout."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)   # the server does not mask
            assert b0 & 0x80, "fragmented frames are not expected from the server"
            if b0 & 0x0F in (1, 2):
                return b0 & 0x0F, payload

    def send_json(self, obj) -> None:
        data, mask = json.dumps(obj).encode(), os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def handshake(self) -> dict:
        """serverInfo, then the advertised channels by topic."""
        info, channels = None, {}
        while info is None or not channels:
            op, payload = self.recv()
            msg = json.loads(payload) if op == 1 else {}
            if msg.get("op") == "serverInfo":
                info = msg
            elif msg.get("op") == "advertise":
                channels.update({c["topic"]: c for c in msg["channels"]})
        return channels

    def messages(self, seconds: float) -> list[tuple[int, bytes]]:
        """(subscription id, payload) of the messageData frames that arrive within `seconds`."""
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                op, payload = self.recv()
            except socket.timeout:
                break
            if op == 2 and payload[0] == 0x01:   # messageData: u8 op, u32 subscription, u64 log time, data
                out.append((struct.unpack("<I", payload[1:5])[0], payload[13:]))
        return out

    def close(self) -> None:
        self.sock.close()


def test_view_serves_a_sim_over_foxglove_websocket(tmp_path):
    from foxglove.messages import RawImage, SceneUpdate

    r1 = {"env_steps": 1000, "success_rate": 0.1, "mean_return": -45.0, "wall_time_s": 12.5}
    (tmp_path / "metrics.jsonl").write_text(json.dumps(r1) + "\n")
    cam = f"/s/{ri.DEFAULT_CAMERA_NAMESPACE}"
    color_topic, depth_topic, scene_topic = f"{cam}/{ri.COLOR_IMAGE}", f"{cam}/{ri.DEPTH_IMAGE}", "/s/" + ri.MARKERS
    spinning = Spinning()
    with SimProcess("s", task="push", image_size=84, seed=3), spinning as client:
        view = FoxgloveView(namespace="s", parameter_overrides=[Parameter("port", value=0),
                                                                Parameter("run_dir", value=str(tmp_path))])
        spinning.executor.add_node(view)
        ws = ws2 = None
        try:
            ws = WsClient(view.port)
            channels = ws.handshake()
            assert {color_topic, depth_topic, scene_topic, "/s/" + ri.JOINT_STATES, TRAINING_TOPIC} <= set(channels)
            assert channels[color_topic]["schemaName"] == "foxglove.RawImage"
            assert channels[color_topic]["encoding"] == "protobuf"
            assert channels[scene_topic]["schemaName"] == "foxglove.SceneUpdate"
            assert channels[TRAINING_TOPIC]["encoding"] == "json"
            subs = {1: color_topic, 2: depth_topic, 3: scene_topic, 4: TRAINING_TOPIC}
            ws.send_json({"op": "subscribe", "subscriptions": [{"id": i, "channelId": channels[t]["id"]}
                                                               for i, t in subs.items()]})

            # the sim publishes on reset (lockstep); reset until the view has forwarded a frame
            reset = client.create_client(Trigger, "/s/" + ri.RESET_SERVICE)
            assert reset.wait_for_service(timeout_sec=30), "sim reset service"
            got: dict[str, list[bytes]] = {t: [] for t in subs.values()}
            end = time.monotonic() + 30
            lost = 0
            while time.monotonic() < end and not (got[color_topic] and got[scene_topic] and got[TRAINING_TOPIC]):
                # a response can be lost right after wait_for_service (the sim has not yet matched this
                # client's response reader; rmw_fastrtps waits 100 ms, then drops it): the next
                # iteration resets again, and the 30 s bound still fails a sim that never answers
                lost += call_service(reset, Trigger.Request(), 5.0, attempts=1) is None
                for sid, data in ws.messages(1.0):
                    got[subs[sid]].append(data)
            assert got[color_topic] and got[scene_topic] and got[TRAINING_TOPIC], \
                f"nothing forwarded within 30 s ({lost} reset calls unanswered)"
            color = decode(got[color_topic][-1], RawImage)
            assert (color.width, color.height, color.encoding, color.step) == (84, 84, "rgb8", 84 * 3)
            assert len(color.data) == 84 * 84 * 3 and color.frame_id == ri.COLOR_OPTICAL_FRAME
            depth = decode(got[depth_topic][-1], RawImage)
            assert (depth.width, depth.encoding, len(depth.data)) == (84, "16UC1", 84 * 84 * 2)
            scene = decode(got[scene_topic][-1], SceneUpdate)
            assert {e.id for e in scene.entities} == {"goal/0", "block/1"}
            assert {e.frame_id for e in scene.entities} == {ri.BASE_FRAME}
            assert json.loads(got[TRAINING_TOPIC][0]) == r1

            # a new eval row reaches the subscribed client; a client that connects later gets the history
            r2 = {**r1, "env_steps": 2000, "success_rate": 0.3}
            with open(tmp_path / "metrics.jsonl", "a") as f:
                f.write(json.dumps(r2) + "\n")
            rows = []
            wait_for(lambda: rows.extend(json.loads(d) for s, d in ws.messages(0.5) if s == 4) or r2 in rows,
                     10, "the new metrics row")
            ws2 = WsClient(view.port)
            ws2.send_json({"op": "subscribe", "subscriptions": [{"id": 7, "channelId": ws2.handshake()[
                TRAINING_TOPIC]["id"]}]})
            rows2 = []
            wait_for(lambda: rows2.extend(json.loads(d) for s, d in ws2.messages(0.5) if s == 7) or
                     rows2 == [r1, r2], 10, "the replayed history")
        finally:
            for c in (ws, ws2):
                if c is not None:
                    c.close()
            spinning.executor.remove_node(view)
            view.destroy_node()
