"""aac_bringup: launch files, parameter files and the RViz configs, checked without ROS installed.

The launch files import launch / launch_ros (not pip-installable), so they are parsed with `ast`:
every executable they start must exist (a console script of our package, or an external ROS
package this package exec_depends on; realsense2_camera's launch file is the one optional
include), every file they name must be installed, every launch argument must have a default, and
every parameter they or the YAML files set must be one the nodes declare (the contract below, read
from the node modules). On a full ROS install (launch + launch_ros importable, the workspace
sourced) the launch descriptions are also built and walked.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import runpy
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import setuptools
import yaml

from aac_bringup import launch_utils as lu
from aac_driver import arm_node, realsense_node, recorder
from aac_driver.safety import SafetyConfig
from aac_policy import policy_node, trainer_node
from aac_policy.config import load_config
from aac_robot import robots, ros_interface as ri
from aac_sim import sim_node, tasks
from aac_robot.panda import NEUTRAL_ARM_Q

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
BRINGUP = SRC / "aac_bringup"
LAUNCH_FILES = sorted((BRINGUP / "launch").glob("*.launch.py"))
# our nodes' parameter files; servo_*.yaml are MoveIt Servo's (a third-party node), checked on their own
CONFIG_FILES = sorted(p for p in (BRINGUP / "config").glob("*.yaml") if not p.name.startswith("servo_"))
SERVO_CONFIG = BRINGUP / "config" / "servo_fr3.yaml"
RVIZ_FILE = BRINGUP / "rviz" / "aac.rviz"             # training (sim0)
DEPLOY_RVIZ_FILE = BRINGUP / "rviz" / "deploy_sim.rviz"         # deploy_sim
DEPLOY_REAL_RVIZ_FILE = BRINGUP / "rviz" / "deploy_real.rviz"   # deploy_real: the same without the twin's markers
RVIZ_FILES = sorted((BRINGUP / "rviz").glob("*.rviz"))

# --------------------------------------------------------------------------- static helpers

def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_constants(tree: ast.Module) -> dict:
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)):
            out[node.targets[0].id] = node.value.value
    return out


def _value(node, consts):
    """Static value of a constant / module-level constant name / list or tuple of them, else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, consts) for e in node.elts]
    return None


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _call_name(n) == name]


def _arg(call: ast.Call, key: str, position: int | None = None):
    for kw in call.keywords:
        if kw.arg == key:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _setup_data_files(pkg: str) -> list[tuple[str, list[str]]]:
    """data_files of src/<pkg>/setup.py, by running it with setuptools.setup() captured."""
    captured = {}
    old_cwd, old_setup = os.getcwd(), setuptools.setup
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        os.chdir(SRC / pkg)
        runpy.run_path("setup.py", run_name="__main__")
    finally:
        setuptools.setup = old_setup
        os.chdir(old_cwd)
    return captured.get("data_files", [])


def _console_scripts(pkg: str) -> set[str]:
    tree = _tree(SRC / pkg / "setup.py")
    (call,) = [c for c in _calls(tree, "setup")]
    entry_points = ast.literal_eval(_arg(call, "entry_points"))
    return {spec.split("=", 1)[0].strip() for spec in entry_points.get("console_scripts", [])}


def _exec_depends(pkg: str) -> set[str]:
    root = ET.parse(SRC / pkg / "package.xml").getroot()
    return {e.text for e in root.findall("exec_depend")}


def _started_executables(tree) -> list[tuple[str, str]]:
    """(package, executable) of every Node(...) and ExecutableInPackage(...) in a launch file."""
    consts = _module_constants(tree)
    out = []
    for call in _calls(tree, "Node"):
        out.append((_value(_arg(call, "package"), consts), _value(_arg(call, "executable"), consts)))
    for call in _calls(tree, "ExecutableInPackage"):
        out.append((_value(_arg(call, "package", 1), consts), _value(_arg(call, "executable", 0), consts)))
    return out


def _named_files(tree) -> list[tuple[str, str]]:
    """(folder, file) pairs of consecutive string constants naming installed files ('rviz', 'aac.rviz')."""
    out = []
    for node in ast.walk(tree):
        seqs = []
        if isinstance(node, ast.Call):
            seqs.append(node.args)
        if isinstance(node, (ast.List, ast.Tuple)):
            seqs.append(node.elts)
        for seq in seqs:
            for a, b in zip(seq, seq[1:]):
                if (isinstance(a, ast.Constant) and isinstance(b, ast.Constant)
                        and isinstance(a.value, str) and isinstance(b.value, str)
                        and b.value.endswith((".yaml", ".rviz", ".urdf", ".xacro", ".launch.py"))):
                    out.append((a.value, b.value))
    return out


def _node_calls(tree, package):
    consts = _module_constants(tree)
    return [c for c in _calls(tree, "Node") if _value(_arg(c, "package"), consts) == package]


# --------------------------------------------------------------------------- the contract
# Parameters the nodes declare (name: default; the default's type is the parameter's type).
# our nodes: (package, executable) -> the module that holds the node class, its NODE_NAME and PARAMETERS
# (the one declaration of its parameters: the node declares them with aac_robot.node_main.declare_parameters)
NODE_MODULES = {("aac_sim", ri.SIM_NODE_EXECUTABLE): sim_node, ("aac_policy", ri.TRAINER_NODE_EXECUTABLE): trainer_node,
                ("aac_policy", "aac_policy_node"): policy_node, ("aac_driver", ri.ARM_NODE_EXECUTABLE): arm_node,
                ("aac_driver", "aac_realsense_node"): realsense_node, ("aac_driver", "aac_recorder_node"): recorder}
CONTRACT = {m.NODE_NAME: m.PARAMETERS for m in NODE_MODULES.values()}
SIM_NODE_PARAMETERS, TRAINER_NODE_PARAMETERS = sim_node.PARAMETERS, trainer_node.PARAMETERS
POLICY_NODE_PARAMETERS, ARM_NODE_PARAMETERS = policy_node.PARAMETERS, arm_node.PARAMETERS
REALSENSE_NODE_PARAMETERS = realsense_node.PARAMETERS
SIM_NODE, TRAINER_NODE, POLICY_NODE, ARM_NODE, REALSENSE_NODE, RECORDER_NODE = NODE_MODULES   # (package, executable)
# our executables -> (node name the launch files must give them, contract)
OUR_NODES = {exe: (m.NODE_NAME, m.PARAMETERS) for (_pkg, exe), m in NODE_MODULES.items()}
# Parameters of the standard ROS nodes the launch files start.
EXTERNAL_NODE_PARAMETERS = {"use_sim_time", "robot_description"}
# External executables: package -> executable, each must be an exec_depend of aac_bringup.
EXTERNAL_EXECUTABLES = {"robot_state_publisher": "robot_state_publisher", "rviz2": "rviz2",
                        "tf2_ros": "static_transform_publisher"}
# Optional external launch files (IncludeLaunchDescription): package -> file; NOT exec_depends.
OPTIONAL_INCLUDES = {lu.REALSENSE_PACKAGE: lu.REALSENSE_LAUNCH}

EXPECTED_ARGUMENTS = {
    "train_sim.launch.py": {"task": "push", "num_sims": "2", "rviz": "true",
                            "config": ("aac_bringup", "config", "train_sim.yaml"), "run_dir": "runs/ros",
                            "camera_extrinsics": ""},
    "deploy_sim.launch.py": {"actor": "", "task": "push", "rviz": "true", "record": "true", "dry_run": "false",
                             "discovery_range": "LOCALHOST",
                             "config": ("aac_bringup", "config", "deploy_sim.yaml"), "namespace": "",
                             "camera_namespace": "camera/camera", "camera_extrinsics": ""},
    "deploy_real.launch.py": {"actor": "", "robot": "fr3", "camera": "auto", "camera_namespace": "camera/camera",
                              "camera_profile": "640,480,30", "serial_no": "",
                              "preflight": "true", "discovery_range": "LOCALHOST", "enclaves": "false", "keystore": "",
                              "output": "joint_trajectory", "arm_controller": "", "joint_names": "",
                              "dry_run": "true", "record": "true", "rviz": "true",
                              "config": ("aac_bringup", "config", "deploy_real.yaml")},
}
# Parameters each launch file sets on a node itself (after the config file, so they win): a packaged
# config must not set them.
LAUNCH_SET = {
    "deploy_sim.launch.py": {"aac_sim_node": {"task", "mode", "camera_namespace", "camera_extrinsics"},
                             "aac_policy_node": {"actor", "camera_namespace"},
                             "aac_arm_node": {"output", "dry_run", "actor", "camera_namespace"},
                             "aac_recorder_node": {"camera_namespace"}},
    "deploy_real.launch.py": {"aac_policy_node": {"actor", "camera_namespace", "joint_names", "finger_joint_states"},
                              "aac_arm_node": {"output", "dry_run", "actor", "camera_namespace", "arm_controller",
                                               "joint_names"},
                              "aac_realsense_node": {"camera_namespace", "width", "height", "fps", "serial_no"},
                              "aac_recorder_node": {"camera_namespace"}},
}


def _ros_type(value):
    if isinstance(value, list):
        return ("list", tuple(sorted({_ros_type(v) for v in value})))
    return type(value).__name__


# --------------------------------------------------------------------------- launch files

def _our_node_calls(tree) -> list[tuple[ast.Call, str]]:
    """(Node call, executable) of every node of our packages a launch file starts."""
    consts = _module_constants(tree)
    ours = {p.name for p in SRC.glob("aac_*") if (p / "setup.py").is_file()}
    return [(c, _value(_arg(c, "executable"), consts)) for c in _calls(tree, "Node")
            if _value(_arg(c, "package"), consts) in ours]


def _launch_set(tree, executable) -> list[dict[str, ast.expr]]:
    """For each Node(executable=...) in the file: {key: value node} of its literal parameter dicts."""
    out = []
    for call, exe in _our_node_calls(tree):
        if exe != executable:
            continue
        keys = {}
        for item in _arg(call, "parameters").elts:
            if isinstance(item, ast.Dict):
                keys.update({_value(k, _module_constants(tree)): v for k, v in zip(item.keys, item.values)})
        out.append(keys)
    return out


def test_launch_files_present():
    assert [p.name for p in LAUNCH_FILES] == ["deploy_real.launch.py", "deploy_sim.launch.py", "train_sim.launch.py"]
    for path in LAUNCH_FILES:
        tree = _tree(path)
        funcs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert "generate_launch_description" in funcs
        imported = {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert {"launch", "launch_ros"} <= imported, f"{path.name} must be a real launch_ros launch file"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_started_executable_exists(path):
    started = _started_executables(_tree(path))
    assert started
    depends = _exec_depends("aac_bringup")
    ours = {p.name for p in SRC.glob("aac_*") if (p / "setup.py").is_file()}
    for package, executable in started:
        assert isinstance(package, str) and isinstance(executable, str), (
            f"{path.name}: package/executable must be literal strings, got {package!r}/{executable!r}")
        assert package in depends, f"{path.name} starts {package}/{executable}: {package} is not an exec_depend"
        if package in ours:
            assert executable in _console_scripts(package), (
                f"{path.name} starts {executable!r}, which is not a console_scripts entry of {package}/setup.py")
        else:
            assert EXTERNAL_EXECUTABLES.get(package) == executable, f"{path.name}: unknown executable {package}/{executable}"


def test_launch_files_start_the_graph():
    rsp, rviz = ("robot_state_publisher", "robot_state_publisher"), ("rviz2", "rviz2")
    description = ("aac_sim", ri.ROBOT_DESCRIPTION_EXECUTABLE)
    started = _started_executables(_tree(BRINGUP / "launch" / "train_sim.launch.py"))
    assert set(started) == {SIM_NODE[:2], TRAINER_NODE[:2], description, rsp, rviz}
    started = _started_executables(_tree(BRINGUP / "launch" / "deploy_sim.launch.py"))
    assert sorted(started) == sorted([SIM_NODE[:2], description, rsp, POLICY_NODE[:2], ARM_NODE[:2],
                                      RECORDER_NODE[:2], rviz])
    # the robot's own bringup (franka_ros2) runs robot_state_publisher: deploy_real must not start a second
    started = _started_executables(_tree(BRINGUP / "launch" / "deploy_real.launch.py"))
    assert sorted(started) == sorted([REALSENSE_NODE[:2], POLICY_NODE[:2], ARM_NODE[:2], RECORDER_NODE[:2],
                                      ("aac_driver", "aac_preflight"), ("tf2_ros", "static_transform_publisher"),
                                      rviz])
    doc = ast.get_docstring(_tree(BRINGUP / "launch" / "deploy_real.launch.py"))
    assert "NO robot_state_publisher" in doc, "deploy_real.launch.py must say why it starts none"


def test_deploy_nodes_are_conditional():
    """record:= and rviz:= switch the recorder and RViz; the camera node is one of two cameras."""
    for name in ("deploy_sim.launch.py", "deploy_real.launch.py"):
        tree = _tree(BRINGUP / "launch" / name)
        consts = _module_constants(tree)
        conditions = {}
        for call in _calls(tree, "Node"):
            cond = _arg(call, "condition")
            exe = _value(_arg(call, "executable"), consts)
            if cond is not None:
                assert _call_name(cond) == "IfCondition"
                conditions[exe] = _value(cond.args[0].args[0], consts)
        assert conditions == {"aac_recorder_node": "record", "rviz2": "rviz"}, name


def test_deploy_real_realsense2_camera_is_optional():
    """realsense2_camera's rs_launch.py is included only when the package is installed: looked up in
    a try/except PackageNotFoundError, not an exec_depend, and documented in package.xml."""
    path = BRINGUP / "launch" / "deploy_real.launch.py"
    tree = _tree(path)
    consts = _module_constants(tree)
    (include,) = _calls(tree, "IncludeLaunchDescription")
    (join,) = [c for c in ast.walk(include) if isinstance(c, ast.Call) and _call_name(c) == "join"]
    assert tuple(_value(a, consts) for a in join.args[1:]) == lu.REALSENSE_LAUNCH
    lookups = [c for c in _calls(tree, "get_package_share_directory")
               if _value(_arg(c, "package", 0), consts) == lu.REALSENSE_PACKAGE]
    assert len(lookups) == 1
    guarded = [t for t in ast.walk(tree) if isinstance(t, ast.Try)
               and any(isinstance(h.type, ast.Name) and h.type.id == "PackageNotFoundError" for h in t.handlers)
               and any(n is lookups[0] for stmt in t.body for n in ast.walk(stmt))]
    assert guarded, "the realsense2_camera lookup must fall back (PackageNotFoundError), not fail"
    assert lu.REALSENSE_PACKAGE not in _exec_depends("aac_bringup")
    assert lu.REALSENSE_PACKAGE in (BRINGUP / "package.xml").read_text()
    assert set(OPTIONAL_INCLUDES) == {lu.REALSENSE_PACKAGE}
    for other in ("deploy_sim.launch.py", "train_sim.launch.py"):
        assert not _calls(_tree(BRINGUP / "launch" / other), "IncludeLaunchDescription")


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_named_files_exist_and_are_installed(path):
    tree = _tree(path)
    named = _named_files(tree)
    assert named, f"{path.name} names no config / rviz file"
    installed = {(dest, Path(f).as_posix()) for dest, files in _setup_data_files("aac_bringup") for f in files}
    for folder, name in named:
        rel = f"{folder}/{name}"
        assert (BRINGUP / rel).is_file(), f"{path.name} names {rel}, missing in src/aac_bringup"
        assert (f"share/aac_bringup/{folder}", rel) in installed, f"{rel} is not installed by setup.py"
    assert ("share/aac_bringup/launch", f"launch/{path.name}") in installed
    # the only package shares it looks into are ours and the optional includes'
    consts = _module_constants(tree)
    for call in _calls(tree, "FindPackageShare") + _calls(tree, "get_package_share_directory"):
        assert _value(_arg(call, "package", 0), consts) in {"aac_bringup", *OPTIONAL_INCLUDES}
    expected = {"train_sim.launch.py": {("config", "train_sim.yaml"), ("rviz", "aac.rviz")},
                "deploy_sim.launch.py": {("config", "deploy_sim.yaml"), ("rviz", "deploy_sim.rviz")},
                "deploy_real.launch.py": {("config", "deploy_real.yaml"), ("rviz", "deploy_real.rviz")}}
    assert set(named) == expected[path.name]


def test_rviz_and_configs_installed():
    installed = {Path(f).as_posix() for _, files in _setup_data_files("aac_bringup") for f in files}
    assert {p.name for p in RVIZ_FILES} == {"aac.rviz", "deploy_sim.rviz", "deploy_real.rviz"}
    assert {p.name for p in CONFIG_FILES} == {"train_sim.yaml", "deploy_sim.yaml", "deploy_real.yaml"}
    for path in CONFIG_FILES + RVIZ_FILES + [SERVO_CONFIG]:
        assert path.relative_to(BRINGUP).as_posix() in installed


def test_servo_config_takes_our_twists_as_speeds_and_drives_the_fr3_controller():
    """MoveIt Servo (jazzy): `unitless` would multiply our m/s by scale.linear, the default output topic is
    the Panda's; the cap equals the speed policies are trained with (docs/upstream_interfaces.md, section 5)."""
    from aac_robot.motion import MotionLimits
    servo = yaml.safe_load(SERVO_CONFIG.read_text())["servo_node"]["ros__parameters"]["moveit_servo"]
    assert servo["command_in_type"] == "speed_units" and servo["move_group_name"] == "fr3_arm"
    assert servo["command_out_topic"] == f"/{lu.robot_preset('fr3').arm_controller}/joint_trajectory"
    assert servo["scale"]["linear"] == MotionLimits().max_ee_speed_m_s


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_arguments_have_defaults(path):
    tree = _tree(path)
    consts = _module_constants(tree)
    declared = {}
    for call in _calls(tree, "DeclareLaunchArgument"):
        name = _value(_arg(call, "name", 0), consts)
        default = _arg(call, "default_value")
        assert isinstance(name, str), f"{path.name}: launch argument name must be a literal"
        assert default is not None, f"{path.name}: launch argument {name!r} has no default_value"
        assert _arg(call, "description") is not None, f"{path.name}: launch argument {name!r} has no description"
        value = _value(default, consts)
        if value is None and isinstance(default, ast.Call) and _call_name(default) == "PathJoinSubstitution":
            parts = default.args[0].elts
            assert _call_name(parts[0]) == "FindPackageShare"
            value = (_value(parts[0].args[0], consts), *[_value(p, consts) for p in parts[1:]])
        declared[name] = value
    assert declared == EXPECTED_ARGUMENTS[path.name]
    used = {_value(c.args[0], consts) for c in _calls(tree, "LaunchConfiguration")}
    assert used <= set(declared), f"{path.name} reads undeclared launch arguments {used - set(declared)}"
    # every argument is used (a declared-but-ignored argument would silently do nothing)
    assert used == set(declared), f"{path.name} never reads {set(declared) - used}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_parameter_overrides_are_in_the_contract(path):
    tree = _tree(path)
    consts = _module_constants(tree)
    for call, executable in _our_node_calls(tree):
        assert executable in OUR_NODES, f"{path.name}: no contract for {executable}"
        node_name, contract = OUR_NODES[executable]
        assert _value(_arg(call, "name"), consts) == node_name, (
            f"{path.name}: {executable} must be named {node_name!r} (the parameter files' key)")
        params = _arg(call, "parameters")
        assert isinstance(params, ast.List)
        for item in params.elts:
            # a parameter file (a name) or a dict from a tested helper (robot presets), or a literal dict
            assert isinstance(item, (ast.Dict, ast.Name, ast.Call)), f"{path.name}: {ast.dump(item)}"
            if isinstance(item, ast.Dict):
                for key, val in zip(item.keys, item.values):
                    key = _value(key, consts)
                    assert key in contract, f"{path.name} sets {key!r} on {node_name}: not a declared parameter"
                    literal = _value(val, consts)
                    if literal is not None and not isinstance(literal, list):
                        assert _ros_type(literal) == _ros_type(contract[key]), (key, literal)
    for call in _node_calls(tree, "robot_state_publisher") + _node_calls(tree, "rviz2") + _node_calls(tree, "tf2_ros"):
        params = _arg(call, "parameters")
        for item in params.elts if params is not None else []:
            assert isinstance(item, ast.Dict)
            assert {_value(k, consts) for k in item.keys} <= EXTERNAL_NODE_PARAMETERS


def test_train_launch_overrides():
    tree = _tree(BRINGUP / "launch" / "train_sim.launch.py")
    consts = _module_constants(tree)
    (sim,) = _node_calls(tree, "aac_sim")
    (overrides,) = [i for i in _arg(sim, "parameters").elts if isinstance(i, ast.Dict)]
    keys = {_value(k, consts): v for k, v in zip(overrides.keys, overrides.values)}
    assert set(keys) == {"task", "mode", "seed", "publish_clock", "camera_extrinsics"}
    assert _value(keys["mode"], consts) == "lockstep"
    params = lu.node_parameters_from_file(BRINGUP / "config" / "train_sim.yaml", "/sim0/aac_sim_node")
    assert not set(keys) & set(params), "train_sim.yaml sets what the launch file sets"
    (trainer,) = _node_calls(tree, "aac_policy")
    (overrides,) = [i for i in _arg(trainer, "parameters").elts if isinstance(i, ast.Dict)]
    assert {_value(k, consts) for k in overrides.keys} == {"sim_namespaces", "run_dir"}


@pytest.mark.parametrize("name", sorted(LAUNCH_SET))
def test_deploy_launch_overrides(name):
    """Each deploy node gets exactly the launch-set parameters LAUNCH_SET lists, after the config file."""
    tree = _tree(BRINGUP / "launch" / name)
    consts = _module_constants(tree)
    started = {exe for _call, exe in _our_node_calls(tree)}
    assert started == {exe for exe, (node, _c) in OUR_NODES.items() if node in LAUNCH_SET[name]}
    for call, exe in _our_node_calls(tree):
        node = OUR_NODES[exe][0]
        (keys,) = _launch_set(tree, exe)
        assert set(keys) == LAUNCH_SET[name][node], (name, node)
        items = _arg(call, "parameters").elts
        # the config file, then the literal dict: launch arguments win over the file
        if LAUNCH_SET[name][node]:
            assert isinstance(items[-1], ast.Dict) and isinstance(items[-2], ast.Name) and items[-2].id == "config"
        else:
            assert isinstance(items[-1], ast.Name) and items[-1].id == "config"
    if name == "deploy_sim.launch.py":
        (sim,) = _launch_set(tree, "aac_sim_node")
        assert _value(sim["mode"], consts) == "realtime"
        (arm,) = _launch_set(tree, "aac_arm_node")
        assert _value(arm["output"], consts) == "servo"      # the sim's servo_node/delta_twist_cmds
    else:
        # robot presets go BEFORE the config file (a config may override them), launch args after it
        (call,) = [c for c, exe in _our_node_calls(tree) if exe == "aac_arm_node"]
        items = _arg(call, "parameters").elts
        assert [type(i) for i in items] == [ast.Name, ast.Name, ast.Dict]


def test_every_external_package_is_an_exec_depend():
    depends = _exec_depends("aac_bringup")
    assert {"launch", "launch_ros", "robot_state_publisher", "rviz2", "tf2_ros", "aac_robot", "aac_sim", "aac_policy",
            "aac_driver", "ament_index_python"} <= depends
    assert not set(OPTIONAL_INCLUDES) & depends


# --------------------------------------------------------------------------- parameter files

@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_parameters_are_in_the_contract(path):
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and data
    for key, section in data.items():
        assert isinstance(section, dict) and set(section) == {"ros__parameters"}, f"{path.name}: {key}"
        node_name = key.rsplit("/", 1)[-1]
        assert key.startswith("/"), f"{path.name}: {key!r} should be a /**/<node> wildcard key"
        assert node_name in CONTRACT, f"{path.name}: unknown node {key!r} (known: {sorted(CONTRACT)})"
        contract = CONTRACT[node_name]
        for name, value in section["ros__parameters"].items():
            assert name in contract, f"{path.name}: {node_name} has no parameter {name!r}"
            assert _ros_type(value) == _ros_type(contract[name]), (
                f"{path.name}: {node_name}.{name} = {value!r} has the wrong type (contract default {contract[name]!r})")
            if isinstance(value, list):
                assert value, f"{path.name}: {name}: ROS 2 parameter files cannot hold an empty list"


def test_configs_reach_the_right_nodes():
    train = BRINGUP / "config" / "train_sim.yaml"
    for ns in ("sim0", "sim1", "sim7"):
        params = lu.node_parameters_from_file(train, f"/{ns}/aac_sim_node")
        assert params and set(params) <= set(SIM_NODE_PARAMETERS)
        # set by the launch file per sim, so not in the file
        assert not {"task", "mode", "seed", "publish_clock"} & set(params)
    params = lu.node_parameters_from_file(train, "/aac_trainer_node")
    assert params and set(params) <= set(TRAINER_NODE_PARAMETERS)
    assert not {"sim_namespaces", "run_dir"} & set(params)
    assert lu.node_parameters_from_file(train, "/sim0/aac_trainer_node") == params
    # the trainer's overrides are a valid aac_train configuration (a typo would only fail at launch)
    overrides = [o for o in params["overrides"] if o]
    cfg = load_config(params["config_file"] or None, overrides)
    assert cfg.pipeline == "staged" and cfg.max_wall_minutes == 120   # the main job's configuration
    # ... the very one the main job trains with: both name the packaged config `main`, nothing else
    (exec_line,) = [ln for ln in (REPO / "scripts" / "run_main.sh").read_text().splitlines() if ln.startswith("exec ")]
    assert params["config_file"] == "main" and not overrides
    assert "--config main" in exec_line and "--set" not in exec_line
    # one source for the sims' config: the trainer hands its own over when it connects (ros_env), so the sims'
    # file sets none of it (tests/test_ros_graph.py: a sim launched with another config runs the trainer's)
    sim_params = lu.node_parameters_from_file(train, "/sim0/aac_sim_node")
    assert not {"image_size", "randomize", "sim_config", "sim_overrides", "trainer_sim_config"} & set(sim_params)
    deploy = BRINGUP / "config" / "deploy_sim.yaml"
    for fqn in ("/aac_sim_node", "/twin/aac_sim_node"):
        params = lu.node_parameters_from_file(deploy, fqn)
        assert params["publish_clock"] is True and "mode" not in params and "task" not in params
        assert params["randomize"] is False


@pytest.mark.parametrize("launch,config", [("deploy_sim.launch.py", "deploy_sim.yaml"),
                                           ("deploy_real.launch.py", "deploy_real.yaml")])
def test_deploy_configs_leave_launch_set_parameters_alone(launch, config):
    """A parameter both in the file and set by the launch file would be silently overridden."""
    path = BRINGUP / "config" / config
    nodes = {key.rsplit("/", 1)[-1] for key in yaml.safe_load(path.read_text())}
    assert nodes == set(LAUNCH_SET[launch]), f"{config} must configure exactly the nodes {launch} starts"
    for ns in ("", "/twin"):
        for node, keys in LAUNCH_SET[launch].items():
            params = lu.node_parameters_from_file(path, f"{ns}/{node}")
            assert params, f"{config}: nothing for {ns}/{node}"
            assert not keys & set(params), f"{config} sets {node}.{keys & set(params)}"


def test_launch_files_only_wire():
    """The launch files read no parameter file themselves: what they decide comes from launch
    arguments, the rest the nodes read from the file they are handed (issue 18: launch files only wire)."""
    for name in ("deploy_sim.launch.py", "train_sim.launch.py", "deploy_real.launch.py"):
        calls = {_call_name(n) for n in ast.walk(_tree(BRINGUP / "launch" / name)) if isinstance(n, ast.Call)}
        assert "node_parameters_from_file" not in calls, name


def test_deploy_sim_config_is_consistent():
    """The arm commands the sim's controllers (every node's camera namespace is the launch's one argument:
    LAUNCH_SET), and the policy's joints and goal are the sim's."""
    path = BRINGUP / "config" / "deploy_sim.yaml"
    params = {n: lu.node_parameters_from_file(path, f"/{n}") for n in LAUNCH_SET["deploy_sim.launch.py"]}
    sim = params["aac_sim_node"]
    arm = params["aac_arm_node"]
    assert arm["arm_controller"] == sim["arm_controller"] and arm["gripper_controller"] == sim["gripper_controller"]
    assert arm["gripper_output"] == "joint_trajectory" and arm["joint_names"] == list(ri.ARM_JOINTS)
    assert params["aac_policy_node"]["joint_names"] == list(ri.ARM_JOINTS + ri.FINGER_JOINTS)
    assert params["aac_policy_node"]["goal_topic"] == ri.GOAL
    safety = {k: arm.get(k, ARM_NODE_PARAMETERS[k]) for k in arm_node.SAFETY_PARAMETERS}
    SafetyConfig.from_dict({**safety, "control_dt": 1.0 / arm["rate_hz"]})


def test_nodes_declare_their_parameters_once():
    """Each node names itself NODE_NAME and declares exactly its PARAMETERS, through declare_parameters only."""
    for module in NODE_MODULES.values():
        source = Path(module.__file__).read_text()
        assert "declare_parameters(self, PARAMETERS" in source and ".declare_parameter(" not in source, module.__name__
        assert "super().__init__(NODE_NAME" in source or "node_name: str = NODE_NAME" in source, module.__name__
    assert recorder.PARAMETERS["topics"] == [""] and recorder.PARAMETERS["types"] == [""]
    assert ARM_NODE_PARAMETERS["output"] == "servo" and ARM_NODE_PARAMETERS["dry_run"] is False


@pytest.mark.parametrize("module", [recorder, arm_node], ids=lambda m: m.__name__)
def test_contract_matches_the_live_nodes(module, tmp_path, monkeypatch):
    """Construct the node (rclpy, own context) and list what it really declares."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.parameter import Parameter
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        bare = rclpy.create_node("aac_bare_node", context=context)
        builtin = set(bare._parameters)
        bare.destroy_node()
        if module is recorder:
            node = recorder.RecorderNode(context=context, parameter_overrides=[
                Parameter("output_dir", value=str(tmp_path)), Parameter("bag_name", value="contract")])
        else:
            node = arm_node.ArmNode(context=context)
        overridden = {"output_dir", "bag_name"} if module is recorder else set()
        try:
            assert set(node._parameters) - builtin == set(module.PARAMETERS)
            assert node.get_name() == module.NODE_NAME
            for name, default in module.PARAMETERS.items():
                if name not in overridden:
                    assert node.get_parameter(name).value == default, name
            if module is recorder:   # [''] = the default topic set of its camera namespace
                assert set(node.wanted) == {node.resolve_topic_name(t)
                                            for t in recorder.default_topics(ri.DEFAULT_CAMERA_NAMESPACE)}
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


# --------------------------------------------------------------------------- robots (deploy_real)

@pytest.mark.parametrize("robot", sorted(lu.ROBOTS))
def test_robot_presets(robot):
    preset = lu.robot_preset(robot)
    assert len(preset.arm_joints) == 7 and len(set(preset.arm_joints)) == 7 and len(preset.finger_joints) == 2
    assert preset.arm_joints == tuple(f"{robot}_joint{i}" for i in range(1, 8))
    assert preset.finger_joints == (f"{robot}_finger_joint1", f"{robot}_finger_joint2")
    assert preset.base_frame == f"{robot}_link0" and preset.arm_controller == f"{robot}_arm_controller"
    # franka_ros2 >= v2.0 (Jazzy v3.x): the gripper node is franka_gripper whatever the robot type, and its
    # finger joints are read from its own joint_states (docs/upstream_interfaces.md, section 2)
    if robot == "panda":   # the simulator's names
        assert preset.gripper_action == "panda_gripper/gripper_action" and preset.finger_joint_states == ""
    else:
        assert preset.gripper_action == "franka_gripper/gripper_action"
        assert preset.finger_joint_states == "/franka_gripper/joint_states"
    params = preset.arm_parameters()
    for key, value in params.items():
        assert key in ARM_NODE_PARAMETERS, f"preset {robot} sets {key!r}: not an aac_arm_node parameter"
        assert _ros_type(value) == _ros_type(ARM_NODE_PARAMETERS[key]), (key, value)
    assert params["gripper_output"] in arm_node.GRIPPER_OUTPUTS and params["gripper_joint"] == preset.finger_joints[0]
    # none of it is in the packaged deploy_real.yaml (else robot:= would be ignored for that key)
    real = lu.node_parameters_from_file(BRINGUP / "config" / "deploy_real.yaml", "/aac_arm_node")
    assert not set(params) & set(real)
    assert not {"joint_names", "arm_controller"} & set(real)
    # the merged arm parameters are a valid safety config, whose joint band holds the start pose, and
    # whose workspace box holds the start grasp point and every task's objects and goals
    merged = {**ARM_NODE_PARAMETERS, **params, **real}
    cfg = SafetyConfig.from_dict({**{k: merged[k] for k in arm_node.SAFETY_PARAMETERS},
                                  "control_dt": 1.0 / merged["rate_hz"]})
    low, high = cfg.joint_band()
    assert (low < np.array(NEUTRAL_ARM_Q)).all() and (np.array(NEUTRAL_ARM_Q) < high).all()
    from aac_driver.arm_ik import ArmIK
    ik = ArmIK(preset.arm_joints)
    try:
        start = ik.fk(NEUTRAL_ARM_Q)
    finally:
        ik.close()
    box_lo, box_hi = np.array(cfg.workspace_low), np.array(cfg.workspace_high)
    assert (box_lo < start).all() and (start < box_hi).all()
    assert (box_lo[:2] <= tasks.OBJECT_XY_LOW).all() and (tasks.OBJECT_XY_HIGH <= box_hi[:2]).all()
    assert (box_lo <= tasks.REACH_GOAL_LOW).all() and (tasks.REACH_GOAL_HIGH <= box_hi).all()
    assert max(tasks.PICK_LIFT_M) + 0.025 <= box_hi[2] and max(tasks.PLACE_AIR_Z) <= box_hi[2]


def test_fr3_limits_are_inside_the_panda_defaults_where_it_matters():
    """The FR3 preset narrows the joint box (Franka's rectangular FR3 limits), never widens the speed."""
    fr3 = lu.robot_preset("fr3").safety
    assert len(fr3["joint_lower"]) == len(fr3["joint_upper"]) == len(fr3["joint_velocity_limits"]) == 7
    assert all(lo < hi for lo, hi in zip(fr3["joint_lower"], fr3["joint_upper"]))
    assert fr3["joint_upper"][3] < 0 and fr3["joint_lower"][5] > 0          # elbow always bent, wrist joint 6 > 0
    assert lu.robot_preset("panda").safety == {}                            # the node's defaults are the Panda's
    assert lu.robot_preset(" FR3 ") is lu.ROBOTS["fr3"]
    with pytest.raises(ValueError, match="robot must be one of"):
        lu.robot_preset("ur5")


def test_deploy_real_config_is_cautious():
    real = BRINGUP / "config" / "deploy_real.yaml"
    arm = lu.node_parameters_from_file(real, "/aac_arm_node")
    assert arm["max_ee_speed_m_s"] <= ARM_NODE_PARAMETERS["max_ee_speed_m_s"]
    assert arm["joint_velocity_scale"] <= ARM_NODE_PARAMETERS["joint_velocity_scale"]
    assert arm["latch_on_non_finite"] is True
    # the D435 model the actor was trained with: the camera_profile launch argument's default, for both cameras
    assert lu.camera_profile(EXPECTED_ARGUMENTS["deploy_real.launch.py"]["camera_profile"]) == (640, 480, 30)
    assert EXPECTED_ARGUMENTS["deploy_real.launch.py"]["dry_run"] == "true"
    assert EXPECTED_ARGUMENTS["deploy_sim.launch.py"]["dry_run"] == "false"


# --------------------------------------------------------------------------- RViz

def _rviz_displays(data):
    return data["Visualization Manager"]["Displays"]


def _rviz_topics(data) -> dict[str, str]:
    out = {}
    for d in _rviz_displays(data):
        for key in ("Topic", "Description Topic"):
            if isinstance(d.get(key), dict):
                out[d["Name"]] = d[key]["Value"]
    return out


def test_rviz_config():
    data = yaml.safe_load(RVIZ_FILE.read_text())
    assert data["Visualization Manager"]["Global Options"]["Fixed Frame"] == ri.BASE_FRAME
    classes = {d["Class"]: d for d in _rviz_displays(data)}
    assert {"rviz_default_plugins/RobotModel", "rviz_default_plugins/Image",
            "rviz_default_plugins/MarkerArray", "rviz_default_plugins/TF"} <= set(classes)
    for cls in classes:
        assert cls.startswith("rviz_default_plugins/")
    robot = classes["rviz_default_plugins/RobotModel"]
    assert robot["Description Source"] == "Topic"
    assert robot["Description Topic"]["Durability Policy"] == "Transient Local"  # robot_state_publisher latches
    cam = ri.DEFAULT_CAMERA_NAMESPACE
    published = {ri.ROBOT_DESCRIPTION, f"{cam}/{ri.COLOR_IMAGE}", f"{cam}/{ri.DEPTH_IMAGE}", ri.JOINT_STATES,
                 ri.MARKERS, ri.GOAL}
    topics = _rviz_topics(data)
    assert set(topics.values()) == {f"{lu.RVIZ_NAMESPACE}{t}" for t in
                                    (ri.ROBOT_DESCRIPTION, f"{cam}/{ri.COLOR_IMAGE}", ri.MARKERS)}
    for name, topic in topics.items():
        assert topic.startswith(lu.RVIZ_NAMESPACE), f"RViz display {name}: {topic} is not a sim0 topic"
        assert topic[len(lu.RVIZ_NAMESPACE):] in published, f"RViz display {name}: nothing publishes {topic}"
    assert lu.RVIZ_NAMESPACE == f"/{lu.sim_namespaces(1)[0]}/"


def test_deploy_rviz_config():
    """Camera (colour + aligned depth), robot model, goal pose, the filtered twist, the twin's markers;
    every topic is one something in the deploy graph publishes."""
    data = yaml.safe_load(DEPLOY_RVIZ_FILE.read_text())
    assert data["Visualization Manager"]["Global Options"]["Fixed Frame"] == ri.BASE_FRAME == lu.POLICY_FRAME
    classes = [d["Class"] for d in _rviz_displays(data)]
    assert {"rviz_default_plugins/RobotModel", "rviz_default_plugins/Image", "rviz_default_plugins/Pose",
            "rviz_default_plugins/TwistStamped", "rviz_default_plugins/MarkerArray",
            "rviz_default_plugins/TF"} <= set(classes)
    assert all(c.startswith("rviz_default_plugins/") for c in classes)
    robot = next(d for d in _rviz_displays(data) if d["Class"] == "rviz_default_plugins/RobotModel")
    assert robot["Description Source"] == "Topic"
    assert robot["Description Topic"]["Durability Policy"] == "Transient Local"
    cam = ri.DEFAULT_CAMERA_NAMESPACE
    by_class = {}
    for d in _rviz_displays(data):
        for key in ("Topic", "Description Topic"):
            if isinstance(d.get(key), dict):
                by_class.setdefault(d["Class"].split("/")[1], set()).add(d[key]["Value"])
    assert by_class == {
        "RobotModel": {"/" + ri.ROBOT_DESCRIPTION},                         # robot_state_publisher (twin / franka_ros2)
        "Image": {f"/{cam}/{ri.COLOR_IMAGE}", f"/{cam}/{ri.DEPTH_IMAGE}"},  # sim / realsense
        "Pose": {"/" + ri.GOAL},                                            # sim / the operator
        "TwistStamped": {"/" + ri.FILTERED_TWIST},                          # aac_arm_node
        "MarkerArray": {"/" + ri.MARKERS},                                  # sim only
    }


def test_deploy_real_rviz_is_deploy_sim_without_markers():
    """Two files, one content: deploy_real.rviz is deploy_sim.rviz less the twin's block/goal markers."""
    sim, real = (yaml.safe_load(f.read_text()) for f in (DEPLOY_RVIZ_FILE, DEPLOY_REAL_RVIZ_FILE))
    sim["Visualization Manager"]["Displays"] = [d for d in _rviz_displays(sim)
                                                if d["Class"] != "rviz_default_plugins/MarkerArray"]
    assert sim == real
    assert set(_rviz_topics(yaml.safe_load(DEPLOY_RVIZ_FILE.read_text())).values()) == {
        "/" + t for t in lu.RVIZ_DEPLOY_TOPICS}


def _remap(topic: str, rules: list[tuple[str, str]]) -> str:
    """rcl's rule for absolute-name remaps: the first rule whose source is the topic wins."""
    return next((dst for src, dst in rules if src == topic), topic)


@pytest.mark.parametrize("namespace,cam", [("", "camera/camera"), ("twin", "camera/camera"), ("/twin/", "d435/cam"),
                                           ("", "cam"), ("", "")])
def test_rviz_remappings(namespace, cam):
    """rviz2 in the root namespace with deploy_{sim,real}.rviz sees, after the launch file's remappings, the
    topics the deploy graph in `namespace` with camera `cam` publishes, and TF from that namespace."""
    rules = lu.rviz_remappings(namespace, cam)
    ns = namespace.strip("/")
    prefix = f"/{ns}/" if ns else "/"
    cam_prefix = f"{cam}/" if cam else ""
    published = {prefix + t for t in (ri.ROBOT_DESCRIPTION, ri.GOAL, ri.FILTERED_TWIST, ri.MARKERS,
                                      cam_prefix + ri.COLOR_IMAGE, cam_prefix + ri.DEPTH_IMAGE)}
    for f in (DEPLOY_RVIZ_FILE, DEPLOY_REAL_RVIZ_FILE):
        for name, topic in _rviz_topics(yaml.safe_load(f.read_text())).items():
            assert topic.startswith("/"), f"{f.name}: {name} must be absolute for the remaps to apply"
            assert _remap(topic, rules) in published, f"{f.name}: {name} {topic} -> {_remap(topic, rules)}"
    assert all(src != dst for src, dst in rules)
    assert [r for r in rules if r[0] in lu.TF_TOPICS] == lu.tf_remappings_to(namespace)
    if not ns and cam == ri.DEFAULT_CAMERA_NAMESPACE:
        assert rules == []


# --------------------------------------------------------------------------- launch_utils

def test_sim_namespaces():
    assert lu.sim_namespaces("2") == ["sim0", "sim1"]
    assert lu.sim_namespaces(1) == ["sim0"]
    for bad in ("0", "-1", "two", "1.5", ""):
        with pytest.raises(ValueError, match="num_sims"):
            lu.sim_namespaces(bad)


def test_tf_remappings():
    assert lu.tf_remappings("sim1") == [("/tf", "tf"), ("/tf_static", "tf_static")]
    assert lu.tf_remappings("") == []
    assert lu.tf_remappings_to("sim0") == [("/tf", "/sim0/tf"), ("/tf_static", "/sim0/tf_static")]
    assert lu.tf_remappings_to("/") == []


def test_robot_description_args():
    assert lu.robot_description_args("") == ""
    assert lu.robot_description_args(None) == ""
    assert lu.robot_description_args("/a b/c.yaml") == " --extrinsics '/a b/c.yaml'"


@pytest.mark.parametrize("key,fqn,match", [
    ("/**", "/sim0/aac_sim_node", True),
    ("/**/aac_sim_node", "/aac_sim_node", True),
    ("/**/aac_sim_node", "/a/b/aac_sim_node", True),
    ("/**/aac_sim_node", "/sim0/aac_trainer_node", False),
    ("/sim*/aac_sim_node", "/sim3/aac_sim_node", True),
    ("/sim*/aac_sim_node", "/twin/aac_sim_node", False),
    ("aac_trainer_node", "/aac_trainer_node", True),
    ("aac_trainer_node", "/sim0/aac_trainer_node", False),
])
def test_parameter_file_node_keys(key, fqn, match, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({key: {"ros__parameters": {"x": 1}}}))
    assert (lu.node_parameters_from_file(path, fqn) == {"x": 1}) is match


def test_parameter_file_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  x: 1\n")
    with pytest.raises(ValueError, match="ros__parameters"):
        lu.node_parameters_from_file(path, "/n")
    with pytest.raises(ValueError, match="cannot read"):
        lu.node_parameters_from_file(tmp_path / "missing.yaml", "/n")


def test_launch_utils_names_are_the_contracts():
    """launch_utils takes the interface names from aac_robot (no copies); its own choices match the nodes'."""
    assert lu.POLICY_FRAME is ri.BASE_FRAME and lu.ROBOTS is robots.ROBOTS
    assert lu.ARM_OUTPUTS == arm_node.OUTPUTS
    assert lu.ROBOTS["panda"].arm_joints == ri.ARM_JOINTS and lu.ROBOTS["panda"].finger_joints == ri.FINGER_JOINTS


def test_parse_bool_and_choice():
    assert lu.parse_bool("true", "x") is True and lu.parse_bool(" False ", "x") is False
    assert lu.parse_bool("1", "x") is True and lu.parse_bool("no", "x") is False
    with pytest.raises(ValueError, match="dry_run must be true or false"):
        lu.parse_bool("maybe", "dry_run")
    assert lu.check_choice("servo", lu.ARM_OUTPUTS, "output") == "servo"
    with pytest.raises(ValueError, match="output must be one of"):
        lu.check_choice("twist", lu.ARM_OUTPUTS, "output")


def test_parse_joint_names():
    fr3 = lu.robot_preset("fr3")
    assert lu.parse_joint_names("", fr3) == (list(fr3.arm_joints), list(fr3.finger_joints))
    seven = [f"j{i}" for i in range(1, 8)]
    assert lu.parse_joint_names(str(seven), fr3) == (seven, list(fr3.finger_joints))
    assert lu.parse_joint_names("[" + ", ".join(seven + ["f1", "f2"]) + "]", fr3) == (seven, ["f1", "f2"])
    for bad in ("[a, b]", "j1", "[a, a, b, c, d, e, f]", "[1, 2, 3, 4, 5, 6, 7]", "[a, b"):
        with pytest.raises(ValueError, match="joint_names"):
            lu.parse_joint_names(bad, fr3)


def test_resolve_camera():
    assert lu.resolve_camera("auto", True) == "realsense2_camera"
    assert lu.resolve_camera("auto", False) == "pyrealsense2"
    assert lu.resolve_camera("pyrealsense2", True) == "pyrealsense2"
    assert lu.resolve_camera("realsense2_camera", True) == "realsense2_camera"
    with pytest.raises(ValueError, match="not installed"):
        lu.resolve_camera("realsense2_camera", False)
    with pytest.raises(ValueError, match="camera must be one of"):
        lu.resolve_camera("librealsense", True)


def test_realsense_launch_arguments():
    """rs_launch.py (realsense-ros >= 4.55): camera_namespace/camera_name give our camera_namespace's
    topics; depth aligned to colour, one stamp per pair (the policy node pairs frames by stamp)."""
    args = lu.realsense_launch_arguments("camera/camera", 640, 480, 30)
    assert args["camera_namespace"] == "camera" and args["camera_name"] == "camera"
    assert args["align_depth.enable"] == "true" and args["enable_sync"] == "true"
    assert args["rgb_camera.color_profile"] == args["depth_module.depth_profile"] == "640,480,30"
    assert "serial_no" not in args and all(isinstance(v, str) for v in args.values())
    assert lu.realsense_launch_arguments("/cam/", 848, 480, 15)["camera_namespace"] == ""
    assert lu.realsense_launch_arguments("a/b/c", 640, 480, 30)["camera_namespace"] == "a/b"
    assert lu.realsense_launch_arguments("camera/camera", 640, 480, 30, "012345")["serial_no"] == "_012345"
    assert lu.realsense_launch_arguments("camera/camera", 640, 480, 30, "_012345")["serial_no"] == "_012345"
    with pytest.raises(ValueError, match="camera_namespace"):
        lu.realsense_launch_arguments("/", 640, 480, 30)
    # one launch argument sets the profile for both cameras (rs_launch.py's and aac_realsense_node's parameters)
    assert {"width", "height", "fps", "serial_no"} <= set(REALSENSE_NODE_PARAMETERS)
    assert lu.camera_profile("848,480,15") == (848, 480, 15) == lu.camera_profile(" 848x480x15 ")
    for bad in ("640,480", "640,480,0", "a,b,c"):
        with pytest.raises(ValueError, match="camera_profile"):
            lu.camera_profile(bad)


def test_base_frame_alias():
    assert lu.base_frame_alias_arguments("panda_link0") is None
    assert lu.base_frame_alias_arguments("fr3_link0") == ["--frame-id", "fr3_link0", "--child-frame-id", "panda_link0"]


# --------------------------------------------------------------------------- top-level launch/

def test_top_level_launch_links():
    top = REPO / "launch"
    assert (top / "README.md").is_file()
    for path in LAUNCH_FILES:
        link = top / path.name
        assert link.is_symlink(), f"launch/{path.name} must be a symlink into src/aac_bringup/launch"
        assert not os.path.isabs(os.readlink(link)), "relative symlinks survive a copy of the repo"
        assert link.resolve() == path.resolve()


# --------------------------------------------------------------------------- full ROS install

def _load_launch_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path,args,expected", [
    ("train_sim.launch.py", {"num_sims": "3", "rviz": "false"},
     {SIM_NODE[:2]: 3, ("robot_state_publisher", "robot_state_publisher"): 3, TRAINER_NODE[:2]: 1}),
    ("train_sim.launch.py", {},
     {SIM_NODE[:2]: 2, ("robot_state_publisher", "robot_state_publisher"): 2, TRAINER_NODE[:2]: 1,
      ("rviz2", "rviz2"): 1}),
    ("deploy_sim.launch.py", {"namespace": "twin"},
     {SIM_NODE[:2]: 1, ("robot_state_publisher", "robot_state_publisher"): 1, POLICY_NODE[:2]: 1,
      ARM_NODE[:2]: 1, RECORDER_NODE[:2]: 1, ("rviz2", "rviz2"): 1}),
    ("deploy_sim.launch.py", {"record": "false", "rviz": "false", "actor": "/tmp/actor.pt"},
     {SIM_NODE[:2]: 1, ("robot_state_publisher", "robot_state_publisher"): 1, POLICY_NODE[:2]: 1,
      ARM_NODE[:2]: 1}),
    ("deploy_real.launch.py", {"camera": "pyrealsense2", "actor": "/tmp/actor.pt"},
     {REALSENSE_NODE[:2]: 1, POLICY_NODE[:2]: 1, ARM_NODE[:2]: 1, RECORDER_NODE[:2]: 1,
      ("tf2_ros", "static_transform_publisher"): 1, ("rviz2", "rviz2"): 1}),
    ("deploy_real.launch.py", {"camera": "pyrealsense2", "robot": "panda", "record": "false", "rviz": "false"},
     {REALSENSE_NODE[:2]: 1, POLICY_NODE[:2]: 1, ARM_NODE[:2]: 1}),
])
def test_launch_description_builds(path, args, expected):
    """Full install only: build the LaunchDescription and list the nodes it would start."""
    launch = pytest.importorskip("launch")
    if not hasattr(launch, "LaunchDescription"):   # the repo's top-level launch/ folder, not the package
        pytest.skip("the launch package is not installed")
    launch_ros = pytest.importorskip("launch_ros")
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        get_package_share_directory("aac_bringup")
    except PackageNotFoundError:
        pytest.skip("aac_bringup is not installed in the ament index (source the workspace)")
    module = _load_launch_module(BRINGUP / "launch" / path)
    description = module.generate_launch_description()
    context = launch.LaunchContext()
    for key, value in args.items():
        context.launch_configurations[key] = value
    started: dict = {}

    def walk(entities):
        for entity in entities:
            if isinstance(entity, launch_ros.actions.Node):
                if entity.condition is None or entity.condition.evaluate(context):
                    key = (entity.node_package, entity.node_executable)
                    started[key] = started.get(key, 0) + 1
                continue   # visiting a Node would start its process
            walk(entity.visit(context) or [])

    walk(description.entities)
    assert started == expected


@pytest.mark.parametrize("robot", sorted(lu.ROBOTS))
def test_deploy_real_passes_aac_preflight_arguments_it_accepts(robot, tmp_path):
    """The command line deploy_real builds for aac_preflight parses, with the robot's names; the arm node's
    gripper settings the preflight reads from the same parameter file the arm node gets, over the same
    robot preset (a value in the file wins, as for the arm node)."""
    from aac_driver import preflight
    preset = lu.robot_preset(robot)
    real = BRINGUP / "config" / "deploy_real.yaml"
    args = lu.preflight_arguments(robot, list(preset.arm_joints + preset.finger_joints), "camera/camera",
                                  "joint_trajectory", preset.arm_controller, str(real), preset.finger_joint_states, "")
    cfg = preflight.parse_args(args)
    arm = {**preset.arm_parameters(), **lu.node_parameters_from_file(real, "/aac_arm_node")}
    assert (cfg.gripper_output, cfg.gripper_action) == (arm["gripper_output"], arm["gripper_action"])
    assert cfg.gripper_controller == arm["gripper_controller"] and cfg.arm_controller == preset.arm_controller
    assert "--timeout 10.0" in " ".join(args)
    own = tmp_path / "mine.yaml"   # a user's file that switches the gripper to a joint trajectory controller
    own.write_text("/**/aac_arm_node:\n  ros__parameters:\n    gripper_output: joint_trajectory\n"
                   "    gripper_controller: my_gripper\n")
    cfg = preflight.parse_args(lu.preflight_arguments(robot, list(preset.arm_joints), "camera/camera", "servo",
                                                      preset.arm_controller, str(own), "", ""))
    assert (cfg.gripper_output, cfg.gripper_controller) == ("joint_trajectory", "my_gripper")
    own.write_text("/**/aac_arm_node:\n  ros__parameters:\n    gripper_output: magnet\n")
    with pytest.raises(SystemExit):
        preflight.parse_args(["--params-file", str(own)])



@pytest.mark.parametrize("name", ["deploy_sim.launch.py", "deploy_real.launch.py"])
def test_deploy_graphs_are_localhost_only_unless_widened(name):
    """ROS_AUTOMATIC_DISCOVERY_RANGE is set before any node starts, LOCALHOST by default; a wider range
    says so in the log, an unknown one is refused."""
    tree = _tree(BRINGUP / "launch" / name)
    (setup,) = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "_launch_setup"]
    first = [n for n in ast.walk(setup.body[0]) if isinstance(n, ast.Call) and _call_name(n) == "discovery_range"]
    assert first, "the discovery scope is decided first in _launch_setup"
    returns = [n for n in setup.body if isinstance(n, ast.Return)]
    assert returns and all(isinstance(r.value, ast.BinOp) and isinstance(r.value.left, ast.Name)
               and r.value.left.id == "scope_actions" for r in returns), "scope actions come before the nodes"
    assert lu.discovery_range("localhost") == ("LOCALHOST", None)
    scope, warning = lu.discovery_range("SUBNET")
    assert scope == "SUBNET" and "OPEN to other hosts" in warning
    with pytest.raises(ValueError, match="discovery_range must be one of"):
        lu.discovery_range("EVERYWHERE")
