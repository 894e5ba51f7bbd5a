"""`aac_recorder_node`: record deployment runs to rosbag2 (MCAP by default, sqlite3 optional).

Raw subscriptions to a list of topics (types from graph discovery, or from the `types` parameter), one
bag per run, closed on SIGINT / SIGTERM / destroy. The bag files themselves (atomic finish, what a
killed recorder leaves, reading them back) are aac_driver.bags (no rclpy).
"""
from __future__ import annotations

import importlib
import time
from datetime import datetime
from pathlib import Path

from aac_robot import ros_interface as ri   # plain names: no rclpy, no PyBullet

from .bags import PARTIAL_SUFFIX, STORAGES, BagRecorder, RecorderError, normalize_msgtype, qos_from_rclpy

NODE_NAME = "aac_recorder_node"
PARAMETERS = {   # name: default (the contract with the launch files / config YAML)
    "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE,
    "topics": [""],             # [''] = default_topics(camera_namespace)
    "types": [""],              # one per topic ('' = discover from the graph); [''] = discover all
    # ...plus everything these nodes (in the recorder's namespace) publish: what the arm node actually sends
    # to the arm (servo twists or <controller>/joint_trajectory, the gripper's), whatever its output
    "record_publishers_of": [ri.ARM_NODE_NAME],
    "output_dir": "runs/bags",
    "bag_name": "",             # '' = rosbag2_<date>-<time> (never overwrites); a given name refuses to
    "storage": "mcap",          #      overwrite an existing bag
    "qos_depth": 100,
    "discovery_period_s": 0.25,
    "flush_every_s": 1.0,
}


def default_topics(camera_namespace: str) -> list[str]:
    """What a deployment run is judged by: camera in, joint state, goal, the policy's commands, the
    safety layer's interventions, and what was actually sent to the arm."""
    cam = camera_namespace.strip("/")
    prefix = f"{cam}/" if cam else ""
    return [prefix + ri.COLOR_IMAGE, prefix + ri.COLOR_INFO, prefix + ri.DEPTH_IMAGE, prefix + ri.DEPTH_INFO,
            ri.JOINT_STATES, ri.GOAL,
            ri.POLICY_TWIST, ri.POLICY_GRIPPER, ri.INTERVENTIONS, ri.TWIST_COMMAND]


def _message_class(msgtype: str):
    pkg, _, name = normalize_msgtype(msgtype).split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise RecorderError(f"cannot import the Python class of {msgtype} ({exc})") from None


try:   # the node needs rclpy (the bag library, aac_driver.bags, does not)
    import rclpy
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.node import Node

    from aac_robot.node_main import declare_parameters
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
except ImportError:   # pragma: no cover (offline analysis machines with only rosbags)
    rclpy = None
    Node = object


_DESCRIPTIONS = {} if rclpy is None else {
    "topics": ParameterDescriptor(description="topics to record; relative names resolve in the node's namespace; "
                                              "[''] = default_topics(camera_namespace)"),
    "types": ParameterDescriptor(description="ROS types matching `topics` one to one ('' = discover); "
                                             "[''] = discover all"),
}


class RecorderNode(Node):
    """Raw subscriptions -> BagRecorder. One bag per node lifetime, closed by `destroy_node()`."""

    def __init__(self, **kwargs):
        if rclpy is None:
            raise RecorderError("aac_recorder_node needs rclpy")
        super().__init__(NODE_NAME, **kwargs)
        p = declare_parameters(self, PARAMETERS, lambda name: _DESCRIPTIONS.get(name))
        topics = [t for t in p["topics"] if t] or default_topics(p["camera_namespace"])
        self.publishers_of = [n for n in p["record_publishers_of"] if n]
        types = list(p["types"]) if any(p["types"]) else []
        if types and len(types) != len(topics):
            raise RecorderError(f"parameter types has {len(types)} entries, topics has {len(topics)}: "
                                "give one type per topic ('' = discover) or none")
        if p["storage"] not in STORAGES:
            raise RecorderError(f"parameter storage must be one of {sorted(STORAGES)}, got {p['storage']!r}")
        self.qos_depth = int(p["qos_depth"])
        # fully qualified name -> explicit type, or None = take it from graph discovery
        self.wanted: dict[str, str | None] = {}
        for i, topic in enumerate(topics):
            self.wanted[self.resolve_topic_name(topic)] = normalize_msgtype(types[i]) if types and types[i] else None
        self.subscribed: dict[str, str] = {}
        self._warned: set[str] = set()
        self._subs = []
        self._use_sim_time = bool(self.get_parameter("use_sim_time").value)

        out = Path(p["output_dir"]).expanduser()
        name = p["bag_name"] or datetime.now().strftime("rosbag2_%Y_%m_%d-%H_%M_%S")
        path = out / name
        if not p["bag_name"]:     # a default name never collides with an earlier run; an explicit one refuses
            i = 1
            while path.exists() or path.with_name(path.name + PARTIAL_SUFFIX).exists():
                path, i = out / f"{name}_{i}", i + 1
        self.bag = BagRecorder(path, storage=p["storage"], flush_every_s=float(p["flush_every_s"]),
                               custom_data={"aac.recorder_node": self.get_fully_qualified_name()})
        self._discover()
        self.create_timer(float(p["discovery_period_s"]), self._discover)
        self.get_logger().info(f"recording {len(self.wanted)} topics into {self.bag.partial_path} "
                               f"({p['storage']}; becomes {path.name} on close)")

    # ------------------------------------------------------------------ discovery / subscriptions
    def _discover(self) -> None:
        if self.bag.closed:
            return
        self._add_publishers_of()
        if len(self.subscribed) == len(self.wanted):
            return
        graph = dict(self.get_topic_names_and_types())
        for topic, explicit in self.wanted.items():
            if topic in self.subscribed:
                continue
            found = graph.get(topic, [])
            if explicit is None and not found:
                continue                        # not published yet; retried every discovery period
            if explicit is None and len(found) > 1:
                self._warn_once(topic, f"{topic} is published with several types {found}; name one in `types`")
                continue
            msgtype = explicit or normalize_msgtype(found[0])
            if explicit and found and normalize_msgtype(found[0]) != explicit:
                self._warn_once(topic + "#type", f"{topic} is published as {found[0]} but parameter types says "
                                f"{explicit}: recording {explicit}, which those publishers will not match")
            try:
                self._subscribe(topic, msgtype)
            except RecorderError as exc:
                self._warn_once(topic, f"not recording {topic}: {exc}")

    def _add_publishers_of(self) -> None:
        """The topics the `record_publishers_of` nodes publish (not ROS internals or action topics)."""
        for name in self.publishers_of:
            try:
                published = self.get_publisher_names_and_types_by_node(name, self.get_namespace())
            except Exception:   # noqa: BLE001 (rclpy's NodeNameNonExistentError: not up yet, retried)
                continue
            for topic, _types in published:
                if topic not in self.wanted and not topic.startswith(("/rosout", "/parameter_events")) \
                        and "/_action/" not in topic:
                    self.wanted[topic] = None   # its type from graph discovery

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.get_logger().warning(text)

    def _subscribe(self, topic: str, msgtype: str) -> None:
        cls = _message_class(msgtype)
        pubs = self.get_publishers_info_by_topic(topic)
        offered = []
        for info in pubs:
            try:
                offered.append(qos_from_rclpy(info.qos_profile))
            except Exception:   # noqa: BLE001 (offered QoS is informative only)
                pass
        # as ros2 bag does: match every publisher (best effort if any is), transient local if all are
        reliable = all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in pubs)
        latched = bool(pubs) and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in pubs)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.qos_depth,
                         reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
        self.bag.add_topic(topic, msgtype, offered)
        self._subs.append(self.create_subscription(
            cls, topic, lambda raw, info, t=topic: self._on_message(t, raw, info), qos, raw=True))
        self.subscribed[topic] = msgtype
        self.get_logger().info(f"recording {topic} [{msgtype}]")

    def _on_message(self, topic: str, raw: bytes, info) -> None:
        if self._use_sim_time:
            stamp = self.get_clock().now().nanoseconds
        else:   # receive time (system clock), as ros2 bag record stamps messages
            stamp = int(info.get("received_timestamp", 0)) if isinstance(info, dict) else 0
            stamp = stamp or time.time_ns()
        try:
            self.bag.write(topic, raw, stamp)
        except RecorderError:
            pass                                # closed while a callback was in flight

    # ------------------------------------------------------------------ finishing
    def close(self) -> Path:
        """Finish the bag (also what destroy_node does). Returns the final bag directory."""
        path = self.bag.close()
        silent = sorted(t for t in self.wanted if self.bag.counts.get(t, 0) == 0)
        text = f"bag {path}: {self.bag.message_count} messages" + (f"; nothing recorded on {silent}" if silent else "")
        if self.context.ok():
            self.get_logger().info(text)
        else:                                   # after SIGINT / SIGTERM rosout is gone
            print(f"[{NODE_NAME}] {text}", flush=True)
        return path

    def destroy_node(self):
        if getattr(self, "bag", None) is not None and not self.bag.closed:
            self.close()
        return super().destroy_node()


def main(args=None) -> int:
    from aac_robot.node_main import run_node
    return run_node(RecorderNode, NODE_NAME, (RecorderError,), args)


if __name__ == "__main__":
    raise SystemExit(main())
