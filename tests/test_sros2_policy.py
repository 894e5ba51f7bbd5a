"""DDS Security (SROS2) for deploy_real: the access-control policy is valid against sros2's own schema
(tests/data/sros2, from ros2/sros2 0.13.0, Apache-2.0), grants what the issue asks (only the policy node
publishes the policy topics, only the arm node commands the arm, only the operator publishes goals and
stops), names the enclaves the launch file uses; the launch refuses a missing keystore or enclave. The
pip wheels' Fast DDS has no security plugins, so nothing here runs with security on: what runs is the
checks below (the policy -> permissions transform and Enforce need a full ROS install)."""
from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from aac_bringup import launch_utils as lu
from aac_robot import ros_interface as ri

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "src" / "aac_bringup" / lu.SECURITY_POLICY
SCHEMA = ROOT / "tests" / "data" / "sros2" / "policy.xsd"


def grants(kind: str, rule: str) -> dict[str, set[str]]:
    """enclave path -> the names it is allowed `rule` (publish, subscribe, request, reply, call) for."""
    out: dict[str, set[str]] = {}
    for enclave in ET.parse(POLICY).getroot().iter("enclave"):
        names = out.setdefault(enclave.get("path"), set())
        for group in enclave.iter(kind):
            if group.get(rule) == "ALLOW":
                names.update(e.text.strip() for e in group)
    return out


def test_policy_is_valid_against_the_sros2_schema(tmp_path):
    schema = xmlschema.XMLSchema(str(SCHEMA))
    schema.validate(str(POLICY))
    broken = tmp_path / "broken.xml"
    broken.write_text(POLICY.read_text().replace('publish="ALLOW"', 'publish="YES"', 1))
    assert not schema.is_valid(str(broken))


def test_enclaves_match_the_launch_file():
    paths = {e.get("path") for e in ET.parse(POLICY).getroot().iter("enclave")}
    assert set(lu.SECURITY_ENCLAVES.values()) | {"/aac/operator"} == paths


def test_who_may_move_the_arm():
    pub, sub = grants("topics", "publish"), grants("topics", "subscribe")
    policy, arm, operator = "/aac/policy_node", "/aac/arm_node", "/aac/operator"
    for topic in (ri.POLICY_TWIST, ri.POLICY_GRIPPER):
        assert [e for e, names in pub.items() if topic in names] == [policy], topic
        assert topic in sub[arm]
    for topic in (ri.TWIST_COMMAND, f"*_arm_controller/{ri.JOINT_TRAJECTORY}",
                  f"{ri.DEFAULT_GRIPPER_CONTROLLER}/{ri.JOINT_TRAJECTORY}"):
        assert [e for e, names in pub.items() if topic in names] == [arm], topic
    for topic in (ri.GOAL, ri.SAFETY_STOP):
        assert [e for e, names in pub.items() if topic in names] == [operator], topic
    for service in (ri.SAFETY_RESET, ri.SAFETY_RELEASE):
        assert [e for e, names in grants("services", "request").items() if service in names] == [operator]
        assert [e for e, names in grants("services", "reply").items() if service in names] == [arm]
    assert [e for e, names in pub.items() if "*" in names] == []          # no enclave may publish anything
    assert grants("actions", "call")[arm] == {"franka_gripper/gripper_action"}


def test_missing_keystore_or_enclave_stops_the_launch(tmp_path):
    assert lu.security_environment(False, "") == {}
    with pytest.raises(ValueError, match="needs keystore:=.*generate_artifacts"):
        lu.security_environment(True, "", environ={})
    with pytest.raises(ValueError, match="does not exist"):
        lu.security_environment(True, str(tmp_path / "nope"))
    (tmp_path / "enclaves" / "aac" / "arm_node").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"no enclave\(s\) \['/aac/camera'"):
        lu.security_environment(True, str(tmp_path))
    for path in set(lu.SECURITY_ENCLAVES.values()):
        (tmp_path / "enclaves" / path.strip("/")).mkdir(parents=True, exist_ok=True)
    with pytest.raises(ValueError, match=r"lacks \['cert.pem'"):       # an enclave directory without its files
        lu.security_environment(True, str(tmp_path))
    for path in set(lu.SECURITY_ENCLAVES.values()):
        for name in lu.ENCLAVE_FILES:
            (tmp_path / "enclaves" / path.strip("/") / name).write_text("<permissions/>" if name.endswith(".xml") else "x")
    (tmp_path / "enclaves" / "aac" / "arm_node" / "permissions.xml").write_text("<permissions>")   # torn
    with pytest.raises(ValueError, match="arm_node: permissions.xml does not parse"):
        lu.security_environment(True, str(tmp_path))
    (tmp_path / "enclaves" / "aac" / "arm_node" / "permissions.xml").write_text("<permissions/>")
    env = lu.security_environment(True, "", environ={"ROS_SECURITY_KEYSTORE": str(tmp_path)})
    assert env == {"ROS_SECURITY_KEYSTORE": str(tmp_path), "ROS_SECURITY_ENABLE": "true",
                   "ROS_SECURITY_STRATEGY": "Enforce"}
    assert lu.enclave_arguments("aac_arm_node", True) == ["--enclave", "/aac/arm_node"]
    assert lu.enclave_arguments("aac_arm_node", False) == []


def test_every_node_deploy_real_starts_gets_its_enclave():
    tree = ast.parse((ROOT / "src" / "aac_bringup" / "launch" / "deploy_real.launch.py").read_text())
    nodes = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "Node"]
    assert len(nodes) >= 6
    for call in nodes:
        kw = {k.arg: k.value for k in call.keywords}
        assert "ros_arguments" in kw, ast.unparse(call)[:120]
        assert ast.unparse(kw["ros_arguments"]).startswith("lu.enclave_arguments(")
    text = ast.unparse(tree)
    assert "lu.security_environment(secure" in text and "lu.ENCLAVE_OVERRIDE_VARIABLE" in text
