"""Record deployment runs to rosbag2 (MCAP by default, sqlite3 optional) with the pure-Python `rosbags`.

Two layers:

- `BagRecorder` (no rclpy): takes messages that are ALREADY CDR-serialized (a raw rclpy subscription,
  or `rclpy.serialization.serialize_message`) and writes the bytes as they are; nothing is
  re-serialized in Python. Message definitions and type hashes come from the `rosbags` typestore
  (ROS 2 Kilted), and for types it does not know, from the `.msg` files of the installed interface
  packages (`<prefix>/share/<pkg>/msg/<Name>.msg`, AMENT_PREFIX_PATH and this Python's prefix), so
  `ros2 bag` and Foxglove can decode every topic without our code.
- `aac_recorder_node` (rclpy): raw subscriptions to a list of topics (types from graph discovery,
  or from the `types` parameter), one bag per run, closed on SIGINT / SIGTERM / destroy.

Atomic-ish finish: a bag is written into `<path>.partial/` and only becomes `<path>/` when it is
closed: the storage file is renamed to `<name>_0.mcap` (ros2 bag's naming), metadata.yaml is
rewritten to match, files are fsync'ed, then the directory is renamed. So a directory without the
`.partial` suffix is always a complete bag with its metadata.yaml. A recorder killed before close
leaves only `<path>.partial/` holding `<name>.partial.mcap` (or `.db3`) and NO metadata.yaml:

- mcap: the MCAP header plus every chunk flushed so far (one flush per `flush_every_s`, default
  1 s, and whenever a chunk reaches 1 MiB), no summary or footer. `mcap recover` (MCAP CLI)
  rebuilds a readable file from it; only the last <= `flush_every_s` of messages are lost.
- sqlite3: the database holds every message committed so far (one commit per `flush_every_s`);
  rename the directory and run `ros2 bag reindex <dir> -s sqlite3` to get a metadata.yaml.

A second recorder refuses to start on an existing `<path>` or `<path>.partial` (nothing is
overwritten or merged).
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from aac_robot import ros_interface as ri   # plain names: no rclpy, no PyBullet

STORAGES = {"mcap": (StoragePlugin.MCAP, ".mcap"), "sqlite3": (StoragePlugin.SQLITE3, ".db3")}
PARTIAL_SUFFIX = ".partial"
BAG_VERSION = 9                       # rosbag2 metadata version written by Jazzy / Kilted
_TYPE_RE = re.compile(r"^([A-Za-z]\w*)/(?:msg/)?([A-Za-z]\w*)$")
_REF_RE = re.compile(r"^[A-Za-z]\w*/msg/[A-Za-z]\w*$")


class RecorderError(RuntimeError):
    """A bag that cannot be created, a topic that cannot be added, or a write to an unknown topic."""


def normalize_msgtype(msgtype: str) -> str:
    """'sensor_msgs/Image' or 'sensor_msgs/msg/Image' -> 'sensor_msgs/msg/Image'."""
    m = _TYPE_RE.match(msgtype.strip())
    if not m:
        raise RecorderError(f"message type {msgtype!r} is not of the form 'pkg/msg/Name'")
    return f"{m.group(1)}/msg/{m.group(2)}"


def _share_dirs() -> list[Path]:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [Path(p) / "share" for p in prefixes + [sys.prefix]]


def _refs(node: Any) -> Iterable[str]:
    """Every 'pkg/msg/Name' referenced anywhere in a parsed field definition."""
    if isinstance(node, str):
        if _REF_RE.match(node):
            yield node
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from _refs(item)


def ensure_type(typestore: Typestore, msgtype: str) -> None:
    """Make `msgtype` (and what it references) known to `typestore`, loading installed .msg files."""
    pending, seen = [msgtype], set()
    while pending:
        name = pending.pop()
        if name in seen or name in typestore.fielddefs:
            continue
        seen.add(name)
        pkg, _, short = name.split("/")
        for share in _share_dirs():
            path = share / pkg / "msg" / f"{short}.msg"
            if path.is_file():
                types = get_types_from_msg(path.read_text(), name)
                typestore.register(types)
                pending.extend(r for r in _refs(types[name]) if r not in typestore.fielddefs)
                break
        else:
            raise RecorderError(f"unknown message type {name!r}: not in the rosbags typestore and no "
                                f"{pkg}/msg/{short}.msg under {[str(s) for s in _share_dirs()]}")


def default_typestore() -> Typestore:
    return get_typestore(Stores.ROS2_KILTED)


def qos_from_rclpy(profile: Any) -> Qos:
    """rclpy QoSProfile -> rosbags Qos (recorded as the topic's offered_qos_profiles)."""
    def duration(d: Any) -> QosTime:
        ns = int(getattr(d, "nanoseconds", 0))
        sec, nsec = divmod(ns, 1_000_000_000)
        if sec >= 2**31 - 1:                          # rmw's "infinite"
            return QosTime(2**31 - 1, 2**32 - 1)
        return QosTime(sec, nsec)

    def enum(cls, value):
        try:
            return cls[value.name]
        except (KeyError, AttributeError):
            return cls.UNKNOWN

    return Qos(history=enum(QosHistory, profile.history), depth=int(profile.depth),
               reliability=enum(QosReliability, profile.reliability),
               durability=enum(QosDurability, profile.durability),
               deadline=duration(profile.deadline), lifespan=duration(profile.lifespan),
               liveliness=enum(QosLiveliness, profile.liveliness),
               liveliness_lease_duration=duration(profile.liveliness_lease_duration),
               avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


class BagRecorder:
    """A rosbag2 bag being written: `<path>.partial/` until `close()` renames it to `<path>/`.

    `topics` maps fully qualified topic names to ROS types ('sensor_msgs/msg/Image'); more can be
    added later with `add_topic`. `write(topic, rawdata, timestamp_ns)` takes CDR bytes (with the
    4-byte encapsulation header, exactly what rclpy hands a raw subscription).
    """

    def __init__(self, path: str | os.PathLike, topics: Mapping[str, str] | None = None,
                 storage: str = "mcap", *, typestore: Typestore | None = None,
                 custom_data: Mapping[str, str] | None = None, flush_every_s: float = 1.0):
        if storage not in STORAGES:
            raise RecorderError(f"storage must be one of {sorted(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        if not self.path.name or self.path.name.endswith(PARTIAL_SUFFIX):
            raise RecorderError(f"bag path {str(path)!r} must name a directory not ending in {PARTIAL_SUFFIX}")
        self.partial_path = self.path.with_name(self.path.name + PARTIAL_SUFFIX)
        for p in (self.path, self.partial_path):
            if p.exists():
                why = ("left by a recorder that did not finish; inspect or remove it"
                       if p == self.partial_path else "not overwriting a recorded run")
                raise RecorderError(f"{p} exists already ({why})")
        self.storage = storage
        self.typestore = typestore or default_typestore()
        self.flush_every_s = float(flush_every_s)
        self.counts: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self._connections: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._last_flush = time.monotonic()
        self.closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.partial_path, version=BAG_VERSION, storage_plugin=STORAGES[storage][0])
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(str(key), str(value))
        self._writer.open()
        for topic, msgtype in (topics or {}).items():
            self.add_topic(topic, msgtype)

    # ------------------------------------------------------------------ writing
    def add_topic(self, topic: str, msgtype: str, offered_qos: Sequence[Qos] = ()) -> None:
        msgtype = normalize_msgtype(msgtype)
        with self._lock:
            self._check_open()
            if topic in self._connections:
                if self.types[topic] != msgtype:
                    raise RecorderError(f"topic {topic} is recorded as {self.types[topic]}, not {msgtype}")
                return
            ensure_type(self.typestore, msgtype)
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=list(offered_qos))
            self.types[topic] = msgtype
            self.counts[topic] = 0

    def write(self, topic: str, rawdata: bytes | memoryview, timestamp_ns: int) -> None:
        with self._lock:
            self._check_open()
            conn = self._connections.get(topic)
            if conn is None:
                raise RecorderError(f"topic {topic} was not added to the bag {self.path}")
            self._writer.write(conn, int(timestamp_ns), rawdata)
            self.counts[topic] += 1
            if self.flush_every_s >= 0 and time.monotonic() - self._last_flush >= self.flush_every_s:
                self.flush()

    def flush(self) -> None:
        """Push what was written so far to the file (so a killed recorder loses at most this much).

        mcap: closes the pending chunk (rosbags otherwise holds up to 1 MiB in memory) and flushes
        the file; sqlite3: commits the open transaction."""
        with self._lock:
            self._last_flush = time.monotonic()
            store = getattr(self._writer, "storage", None)
            if store is None:
                return
            if hasattr(store, "close_chunk") and getattr(getattr(store, "chunk", None), "msgs", None):
                store.close_chunk()
            if hasattr(store, "bio"):
                store.bio.flush()
            if hasattr(store, "conn"):
                store.conn.commit()

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())

    def _check_open(self) -> None:
        if self.closed:
            raise RecorderError(f"bag {self.path} is closed")

    # ------------------------------------------------------------------ finishing
    def close(self) -> Path:
        """Finish the bag (index, metadata.yaml) and rename `<path>.partial` to `<path>`. Idempotent."""
        with self._lock:
            if self.closed:
                return self.path
            self.closed = True
            self._writer.close()
            ext = STORAGES[self.storage][1]
            old = self.partial_path / f"{self.partial_path.name}{ext}"
            new = self.partial_path / f"{self.path.name}_0{ext}"
            old.rename(new)
            self._rewrite_metadata(old.name, new.name)
            for f in (new, self.partial_path / "metadata.yaml"):
                _fsync(f)
            self.partial_path.rename(self.path)
            _fsync(self.path.parent)
            return self.path

    def _rewrite_metadata(self, old: str, new: str) -> None:
        from ruamel.yaml import YAML   # what rosbags writes metadata.yaml with
        yaml = YAML(typ="safe")
        yaml.default_flow_style = False
        yaml.width = 4096                # no folded RIHS01 hashes
        meta_path = self.partial_path / "metadata.yaml"
        meta = yaml.load(meta_path.read_text())
        info = meta["rosbag2_bagfile_information"]
        info["relative_file_paths"] = [new if p == old else p for p in info["relative_file_paths"]]
        for entry in info.get("files") or []:
            if entry.get("path") == old:
                entry["path"] = new
        if info.get("message_count", 0) == 0:    # rosbags leaves an "infinite" start for empty bags
            info["starting_time"]["nanoseconds_since_epoch"] = 0
            for entry in info.get("files") or []:
                entry["starting_time"]["nanoseconds_since_epoch"] = 0
        tmp = meta_path.with_suffix(".yaml.tmp")
        with tmp.open("w", encoding="utf8") as fh:
            yaml.dump(meta, fh)
        tmp.replace(meta_path)

    def __enter__(self) -> "BagRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()     # what was recorded is a valid bag even if the caller failed


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- reading (checks, notebooks)
@dataclass
class Bag:
    path: Path
    types: dict[str, str]                                   # topic -> ROS type
    messages: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)   # topic -> [(t_ns, msg)]
    digests: dict[str, str] = field(default_factory=dict)   # topic -> RIHS01 type hash
    message_count: int = 0


def read_bag(path: str | os.PathLike, topics: Iterable[str] | None = None,
             typestore: Typestore | None = None) -> Bag:
    """Read a rosbag2 directory (or a single .mcap / .db3) and deserialize every message.

    Types the typestore does not know are registered from the definitions stored in the bag."""
    store = typestore or default_typestore()
    wanted = set(topics) if topics is not None else None
    with Reader(Path(path)) as reader:
        conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
        for c in conns:
            if c.msgtype not in store.fielddefs:
                store.register(get_types_from_msg(c.msgdef.data, c.msgtype))
        bag = Bag(path=Path(path), types={c.topic: c.msgtype for c in conns},
                  digests={c.topic: c.digest for c in conns}, message_count=reader.message_count)
        bag.messages = {c.topic: [] for c in conns}
        for conn, t, raw in reader.messages(connections=conns):
            bag.messages[conn.topic].append((t, deserialize(store, raw, conn.msgtype)))
    return bag


def deserialize(store: Typestore, raw: bytes | memoryview, msgtype: str) -> Any:
    """CDR -> rosbags message, tolerating trailing padding.

    rclpy / Fast DDS buffers can be longer than the message: the serialized size is an upper bound
    that counts alignment for EMPTY sequences of 8-byte elements (a JointState with no efforts ends
    in 4-8 spare bytes). `Typestore.deserialize_cdr` rejects more than 3 spare bytes; ros2 bag and
    Foxglove ignore them, and so does this."""
    if len(raw) < 4 or bytes(raw[:2]) not in (b"\x00\x00", b"\x00\x01"):
        raise RecorderError(f"not CDR data for {msgtype} (encapsulation {bytes(raw[:4])!r})")
    msgdef = store.get_msgdef(msgtype)
    func = msgdef.deserialize_cdr_le if raw[1] else msgdef.deserialize_cdr_be
    message, _ = func(raw[4:], 0, msgdef.cls, store)
    return message


# ---------------------------------------------------------------------- the ROS 2 node
NODE_NAME = "aac_recorder_node"
PARAMETERS = {   # name: default (the contract with the launch files / config YAML)
    "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE,
    "topics": [""],             # [''] = default_topics(camera_namespace)
    "types": [""],              # one per topic ('' = discover from the graph); [''] = discover all
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


try:   # the node needs rclpy; BagRecorder / read_bag do not
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
        if self.bag.closed or len(self.subscribed) == len(self.wanted):
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
