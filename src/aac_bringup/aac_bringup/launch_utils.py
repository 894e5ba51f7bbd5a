"""Plain-Python helpers for the aac_bringup launch files (no launch / rclpy imports, so tested
without a ROS installation)."""
from __future__ import annotations

import os
import re
import shlex
import tempfile
from pathlib import Path

import yaml

SIM_NAMESPACE_PREFIX = "sim"
# The RViz config shows the first training sim; deploy_sim rewrites this prefix to its namespace.
RVIZ_NAMESPACE = "/sim0/"
# robot_state_publisher (and any TF broadcaster) publishes on the ABSOLUTE /tf, /tf_static; with
# several sims the same frame names would collide there, so each namespace gets its own TF topics.
TF_TOPICS = ("/tf", "/tf_static")


def sim_namespaces(num_sims) -> list[str]:
    """['sim0', ..., 'sim{N-1}'] from the num_sims launch argument (a string or int)."""
    try:
        n = int(str(num_sims).strip())
    except ValueError:
        raise ValueError(f"num_sims must be an integer >= 1, got {num_sims!r}") from None
    if n < 1:
        raise ValueError(f"num_sims must be an integer >= 1, got {num_sims!r}")
    return [f"{SIM_NAMESPACE_PREFIX}{i}" for i in range(n)]


def tf_remappings(namespace: str) -> list[tuple[str, str]]:
    """Remap /tf, /tf_static into `namespace` for a node started IN that namespace."""
    return [(t, t.lstrip("/")) for t in TF_TOPICS] if namespace.strip("/") else []


def tf_remappings_to(namespace: str) -> list[tuple[str, str]]:
    """Remap /tf, /tf_static of a root-namespace node (RViz) to `namespace`'s TF topics."""
    ns = namespace.strip("/")
    return [(t, f"/{ns}{t}") for t in TF_TOPICS] if ns else []


def _node_key_matches(key: str, node_fqn: str) -> bool:
    """ROS 2 parameter-file node key (with * and ** wildcards) matches a fully qualified node name."""
    key = "/" + key.lstrip("/")
    if key == "/**":
        return True
    pattern = re.escape(key).replace(r"/\*\*", "(/[^/]+)*").replace(r"\*", "[^/]*")
    return re.fullmatch(pattern, node_fqn) is not None


def node_parameters_from_file(path, node_fqn: str) -> dict:
    """Parameters a ROS 2 parameter file gives node `node_fqn` (e.g. '/sim0/aac_sim_node').

    Later keys override earlier ones, as in rcl. Raises ValueError naming the file on a file
    that is not a ROS 2 parameter file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read parameter file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"parameter file {path}: top level must be a mapping of node names")
    params: dict = {}
    for key, section in data.items():
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters"), dict):
            raise ValueError(f"parameter file {path}: {key!r} has no 'ros__parameters' mapping")
        if _node_key_matches(str(key), node_fqn):
            params.update(section["ros__parameters"])
    return params


def robot_description_args(camera_extrinsics) -> str:
    """Arguments for `aac_robot_description` after the executable (a shell-quoted string).

    A non-empty `camera_extrinsics` (the sim node's parameter, '' = packaged mount) is passed on,
    so the URDF's camera mount is the one the sim renders from.
    """
    camera_extrinsics = str(camera_extrinsics or "").strip()
    return f" --extrinsics {shlex.quote(camera_extrinsics)}" if camera_extrinsics else ""


def rviz_config_for_namespace(rviz_config, namespace: str) -> str:
    """The RViz config with its /sim0/ topics moved to `namespace` ('' = root).

    Returns the file itself when nothing changes, else a rewritten copy in a temp folder.
    """
    ns = namespace.strip("/")
    target = f"/{ns}/" if ns else "/"
    if target == RVIZ_NAMESPACE:
        return str(rviz_config)
    text = Path(rviz_config).read_text().replace(RVIZ_NAMESPACE, target)
    fd, out = tempfile.mkstemp(prefix=f"aac_{ns or 'root'}_", suffix=".rviz")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return out


__all__ = [
    "SIM_NAMESPACE_PREFIX", "RVIZ_NAMESPACE", "TF_TOPICS", "sim_namespaces", "tf_remappings",
    "tf_remappings_to", "node_parameters_from_file", "robot_description_args", "rviz_config_for_namespace",
]
