"""ROS 2 parameter files (`/**/node: {ros__parameters: ...}`) read without rclpy: what such a file gives one
node, with rcl's wildcard matching. For tools that are handed the deployment's parameter file (aac_preflight
reads the arm node's settings from it) and for the tests that check the packaged files."""
from __future__ import annotations

import re
from pathlib import Path

import yaml


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
