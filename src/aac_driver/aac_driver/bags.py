"""rosbag2 bags (MCAP by default, sqlite3 optional) with the pure-Python `rosbags`: writing deployment runs
and reading them back. No rclpy: `aac_recorder_node` (aac_driver.recorder) records with it, and a bag can
be analysed on a machine without ROS.

`BagRecorder` takes messages that are ALREADY CDR-serialized (a raw rclpy subscription, or
`rclpy.serialization.serialize_message`) and writes the bytes as they are; nothing is re-serialized in
Python. Message definitions and type hashes come from the `rosbags` typestore (ROS 2 Kilted), and for
types it does not know, from the `.msg` files of the installed interface packages
(`<prefix>/share/<pkg>/msg/<Name>.msg`, AMENT_PREFIX_PATH and this Python's prefix), so `ros2 bag` and
Foxglove can decode every topic without our code.
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
             typestore: Typestore | None = None, start_ns: int | None = None, stop_ns: int | None = None) -> Bag:
    """Read a rosbag2 directory (or a single .mcap / .db3) and deserialize every message, or those
    recorded in [start_ns, stop_ns) (e.g. one episode's window from aac_episodes' report.json).

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
        for conn, t, raw in reader.messages(connections=conns, start=start_ns, stop=stop_ns):
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
