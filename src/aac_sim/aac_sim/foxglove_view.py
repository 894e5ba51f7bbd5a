"""Browser view of one sim (or the real robot) for the pip path, where RViz does not exist.

`aac_foxglove_view` is an rclpy node that forwards what a person wants to look at to a Foxglove
WebSocket server (the `foxglove-sdk` package); open the Foxglove app (web or desktop), "Open
connection" -> Foxglove WebSocket -> ws://localhost:8765. The server (foxglove-sdk 0.30) speaks
WebSocket subprotocol `foxglove.sdk.v1` only (the renamed foxglove.websocket.v1): current Foxglove
apps offer it; older clients that offer only foxglove.websocket.v1 get HTTP 400.

Subscribes (relative names, so it follows its namespace, e.g. `-r __ns:=/sim0`):
  <camera_namespace>/color/image_raw, <camera_namespace>/aligned_depth_to_color/image_raw
      -> foxglove.RawImage (rgb8, 16UC1 mm) on channels named like the resolved ROS topics
  aac/markers (MarkerArray: CUBE / SPHERE / DELETE / DELETEALL) -> foxglove.SceneUpdate
  joint_states -> foxglove.JointStates
and, with `run_dir` set, polls <run_dir>/metrics.jsonl (the trainer's evals) and logs every new
row as a JSON message on /aac/training (plot `/aac/training.success_rate` against `.env_steps`).
A client that subscribes to /aac/training gets the rows seen so far again (a live server keeps no
history). The view sends nothing back to ROS.

The ROS -> Foxglove mapping is plain functions (`color_image`, `depth_image`, `scene_update`,
`joint_states`, `MetricsTail`), testable without a server; `FoxgloveView` only wires them up.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import foxglove
from foxglove.channels import JointStatesChannel, RawImageChannel, SceneUpdateChannel
from foxglove.messages import (Color, CubePrimitive, Duration, JointState, JointStates, Pose, Quaternion,
                               RawImage, SceneEntity, SceneEntityDeletion, SceneEntityDeletionType,
                               SceneUpdate, SpherePrimitive, Timestamp, Vector3)
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState as RosJointState
from visualization_msgs.msg import Marker, MarkerArray

from aac_robot import ros_interface as ri
from aac_robot.node_main import run_node
from aac_robot.ros_convert import MessageError, image_to_depth_mm, image_to_rgb

PARAMETERS = {"camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE, "port": 8765, "host": "127.0.0.1",
              "run_dir": ""}
TRAINING_TOPIC = "/aac/training"
METRICS_FILE = "metrics.jsonl"
METRICS_PERIOD_S = 2.0
TRAINING_SCHEMA = {   # a JSON schema, so the app's Plot panel offers the fields; other keys pass through
    "title": "aac.TrainingEval", "type": "object",
    "properties": {k: {"type": "number"} for k in ("env_steps", "success_rate", "mean_return", "wall_time_s")},
}


# ---------------------------------------------------------------------- ROS message -> Foxglove
def timestamp(stamp) -> Timestamp:
    return Timestamp(int(stamp.sec), int(stamp.nanosec))


def color_image(msg: Image) -> RawImage:
    """rgb8 / bgr8 -> rgb8 RawImage (validated by ros_convert)."""
    rgb = image_to_rgb(msg)
    return RawImage(timestamp=timestamp(msg.header.stamp), frame_id=msg.header.frame_id, width=rgb.shape[1],
                    height=rgb.shape[0], encoding="rgb8", step=rgb.strides[0], data=rgb.tobytes())


def depth_image(msg: Image) -> RawImage:
    """16UC1 mm / 32FC1 m -> 16UC1 millimetres RawImage (little-endian, 0 = no reading)."""
    mm = image_to_depth_mm(msg).astype("<u2", copy=False)
    return RawImage(timestamp=timestamp(msg.header.stamp), frame_id=msg.header.frame_id, width=mm.shape[1],
                    height=mm.shape[0], encoding="16UC1", step=mm.strides[0], data=mm.tobytes())


def entity_id(marker: Marker) -> str:
    return f"{marker.ns}/{marker.id}"


def _pose(p) -> Pose:
    return Pose(position=Vector3(x=p.position.x, y=p.position.y, z=p.position.z),
                orientation=Quaternion(x=p.orientation.x, y=p.orientation.y, z=p.orientation.z, w=p.orientation.w))


def scene_update(msg: MarkerArray) -> SceneUpdate:
    """CUBE and SPHERE markers become one SceneEntity each (id `ns/id`); DELETE / DELETEALL become
    deletions. Other marker types are skipped (the sim publishes only these two)."""
    entities, deletions = [], []
    for m in msg.markers:
        if m.action == Marker.DELETEALL:
            deletions.append(SceneEntityDeletion(timestamp=timestamp(m.header.stamp), type=SceneEntityDeletionType.All))
        elif m.action == Marker.DELETE:
            deletions.append(SceneEntityDeletion(timestamp=timestamp(m.header.stamp), id=entity_id(m)))
        elif m.type in (Marker.CUBE, Marker.SPHERE):
            shape = dict(pose=_pose(m.pose), size=Vector3(x=m.scale.x, y=m.scale.y, z=m.scale.z),
                         color=Color(r=m.color.r, g=m.color.g, b=m.color.b, a=m.color.a))
            prim = ({"cubes": [CubePrimitive(**shape)]} if m.type == Marker.CUBE
                    else {"spheres": [SpherePrimitive(**shape)]})
            entities.append(SceneEntity(timestamp=timestamp(m.header.stamp), frame_id=m.header.frame_id,
                                        id=entity_id(m), frame_locked=m.frame_locked,
                                        lifetime=Duration(int(m.lifetime.sec), int(m.lifetime.nanosec)), **prim))
    return SceneUpdate(entities=entities, deletions=deletions)


def joint_states(msg: RosJointState) -> JointStates:
    def at(values, i):
        return float(values[i]) if i < len(values) else None
    joints = [JointState(name=n, position=at(msg.position, i), velocity=at(msg.velocity, i), effort=at(msg.effort, i))
              for i, n in enumerate(msg.name)]
    return JointStates(timestamp=timestamp(msg.header.stamp), joints=joints)


class MetricsTail:
    """New rows of a growing JSON-lines file. Only complete lines (ending in a newline) are consumed,
    so a row the trainer is still writing is read on a later poll; a missing file is no rows yet; a
    file that shrinks (a resumed run rewrote it) is read again from the start. `rows` keeps all."""

    def __init__(self, path: str | Path):
        self.path, self.offset, self.rows, self.bad_lines = Path(path), 0, [], 0

    def poll(self) -> list[dict]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset, self.rows = 0, []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read(size - self.offset)
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        new = []
        for line in complete.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                self.bad_lines += 1
                continue
            if isinstance(row, dict):
                new.append(row)
        self.rows += new
        return new


# ---------------------------------------------------------------------- the node
class FoxgloveView(Node):
    def __init__(self, **kwargs):
        super().__init__("aac_foxglove_view", **kwargs)
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {n: self.get_parameter(n).value for n in PARAMETERS}
        cam = p["camera_namespace"].strip("/")
        self.fox = foxglove.Context()   # our own channels + server (no process-global state)

        self.channels = []

        def forward(msg_type, topic, channel_type, convert, qos=qos_profile_sensor_data):
            channel = channel_type(self.resolve_topic_name(topic), context=self.fox)
            self.channels.append(channel)

            def callback(msg):
                if not channel.has_sinks():   # nobody is looking: skip the conversion
                    return
                try:
                    channel.log(convert(msg))
                except MessageError as exc:
                    self.get_logger().warning(f"{topic}: {exc}", throttle_duration_sec=5.0)
            self.create_subscription(msg_type, topic, callback, qos)

        forward(Image, f"{cam}/{ri.COLOR_IMAGE}", RawImageChannel, color_image)
        forward(Image, f"{cam}/{ri.DEPTH_IMAGE}", RawImageChannel, depth_image)
        forward(MarkerArray, ri.MARKERS, SceneUpdateChannel, scene_update, 10)
        forward(RosJointState, ri.JOINT_STATES, JointStatesChannel, joint_states)

        self.training = foxglove.Channel(TRAINING_TOPIC, schema=TRAINING_SCHEMA, context=self.fox)
        self.channels.append(self.training)
        self.metrics = MetricsTail(Path(p["run_dir"]) / METRICS_FILE) if p["run_dir"] else None
        self._replay = threading.Event()   # set from the server's thread when a client subscribes
        if self.metrics is not None:
            self.create_timer(METRICS_PERIOD_S, self._poll_metrics)

        view = self

        class Listener(foxglove.websocket.ServerListener):
            def on_subscribe(self, client, channel):
                if channel.id == view.training.id():
                    view._replay.set()

        self.server = foxglove.start_server(name=self.get_fully_qualified_name(), host=p["host"],
                                            port=int(p["port"]), context=self.fox,
                                            server_listener=Listener())
        self.port = self.server.port
        self.get_logger().info(f"Foxglove WebSocket server on ws://{p['host']}:{self.port} "
                               f"(Foxglove app: Open connection -> Foxglove WebSocket)")

    def _poll_metrics(self) -> None:
        new = self.metrics.poll()
        if self._replay.is_set():
            self._replay.clear()
            new = self.metrics.rows   # everything, for the client that just subscribed
        for row in new:
            self.training.log(row)

    def destroy_node(self):
        if getattr(self, "server", None) is not None:
            self.server.stop()
        for channel in getattr(self, "channels", []):
            channel.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(FoxgloveView, "aac_foxglove_view", (RuntimeError,), args)


if __name__ == "__main__":
    raise SystemExit(main())
