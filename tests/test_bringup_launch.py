"""aac_bringup: launch files, parameter files and the RViz config, checked without ROS installed.

The launch files import launch / launch_ros (not pip-installable), so they are parsed with `ast`:
every executable they start must exist (a console script of our package, or an external ROS
package this package exec_depends on), every file they name must be installed, every launch
argument must have a default, and every parameter they or the YAML files set must be one the
nodes declare (the contract below). On a full ROS install (launch + launch_ros importable, the
workspace sourced) the launch descriptions are also built and walked.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import runpy
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import setuptools
import yaml

from aac_bringup import launch_utils as lu
from aac_sim import ros_interface as ri

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
BRINGUP = SRC / "aac_bringup"
LAUNCH_FILES = sorted((BRINGUP / "launch").glob("*.launch.py"))
CONFIG_FILES = sorted((BRINGUP / "config").glob("*.yaml"))
RVIZ_FILE = BRINGUP / "rviz" / "aac.rviz"

# --------------------------------------------------------------------------- the contract
# Parameters the nodes declare (name: default; the default's type is the parameter's type).
SIM_NODE = ("aac_sim", ri.SIM_NODE_EXECUTABLE, "aac_sim_node")            # package, executable, node name
TRAINER_NODE = ("aac_policy", ri.TRAINER_NODE_EXECUTABLE, "aac_trainer_node")
SIM_NODE_PARAMETERS = {
    "task": "push",
    "image_size": 84,
    "mode": "lockstep",                  # lockstep | realtime
    "seed": -1,
    "randomize": True,
    "sim_config": "",                    # strict aac_sim SimConfig YAML, '' = defaults
    "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE,
    "arm_controller": ri.DEFAULT_ARM_CONTROLLER,
    "gripper_controller": ri.DEFAULT_GRIPPER_CONTROLLER,
    "camera_intrinsics": "",             # '' = packaged D435 YAML
    "camera_extrinsics": "",             # '' = packaged mount
    "command_timeout_s": 0.2,
    "publish_clock": True,
}
TRAINER_NODE_PARAMETERS = {
    "sim_namespaces": ["sim0"],          # string array
    "run_dir": "runs/ros",
    "config_file": "",                   # aac_train strict YAML, '' = defaults
    "overrides": [""],                   # KEY=VALUE strings like aac_train --set ('' entries ignored)
    "step_timeout_s": 2.0,
    "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE,
}
CONTRACT = {SIM_NODE[2]: SIM_NODE_PARAMETERS, TRAINER_NODE[2]: TRAINER_NODE_PARAMETERS}
# Parameters of the standard ROS nodes the launch files start.
EXTERNAL_NODE_PARAMETERS = {"use_sim_time", "robot_description"}
# External executables: package -> executable, each must be an exec_depend of aac_bringup.
EXTERNAL_EXECUTABLES = {"robot_state_publisher": "robot_state_publisher", "rviz2": "rviz2"}

EXPECTED_ARGUMENTS = {
    "train_sim.launch.py": {"task": "push", "num_sims": "2", "rviz": "true",
                            "config": ("aac_bringup", "config", "train_sim.yaml"), "run_dir": "runs/ros"},
    "deploy_sim.launch.py": {"task": "push", "rviz": "true",
                             "config": ("aac_bringup", "config", "deploy_sim.yaml"), "namespace": ""},
}


def _ros_type(value):
    if isinstance(value, list):
        return ("list", tuple(sorted({_ros_type(v) for v in value})))
    return type(value).__name__


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


# --------------------------------------------------------------------------- launch files

def test_launch_files_present():
    assert [p.name for p in LAUNCH_FILES] == ["deploy_sim.launch.py", "train_sim.launch.py"]
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


def test_train_launch_starts_the_graph():
    started = _started_executables(_tree(BRINGUP / "launch" / "train_sim.launch.py"))
    assert set(started) == {SIM_NODE[:2], TRAINER_NODE[:2], ("aac_sim", ri.ROBOT_DESCRIPTION_EXECUTABLE),
                            ("robot_state_publisher", "robot_state_publisher"), ("rviz2", "rviz2")}
    started = _started_executables(_tree(BRINGUP / "launch" / "deploy_sim.launch.py"))
    assert set(started) == {SIM_NODE[:2], ("aac_sim", ri.ROBOT_DESCRIPTION_EXECUTABLE),
                            ("robot_state_publisher", "robot_state_publisher"), ("rviz2", "rviz2")}


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
    assert (f"share/aac_bringup/launch", f"launch/{path.name}") in installed
    # the only package share it looks into is ours
    consts = _module_constants(tree)
    for call in _calls(tree, "FindPackageShare") + _calls(tree, "get_package_share_directory"):
        assert _value(_arg(call, "package", 0), consts) == "aac_bringup"


def test_rviz_and_configs_installed():
    installed = {Path(f).as_posix() for _, files in _setup_data_files("aac_bringup") for f in files}
    for path in CONFIG_FILES + [RVIZ_FILE]:
        assert path.relative_to(BRINGUP).as_posix() in installed


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


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_parameter_overrides_are_in_the_contract(path):
    tree = _tree(path)
    consts = _module_constants(tree)
    for (package, _exe, node_name), contract in ((SIM_NODE, SIM_NODE_PARAMETERS), (TRAINER_NODE, TRAINER_NODE_PARAMETERS)):
        for call in _node_calls(tree, package):
            assert _value(_arg(call, "name"), consts) == node_name, (
                f"{path.name}: {package} node must be named {node_name!r} (the parameter files' key)")
            params = _arg(call, "parameters")
            assert isinstance(params, ast.List)
            for item in params.elts:
                if isinstance(item, ast.Dict):
                    for key, val in zip(item.keys, item.values):
                        key = _value(key, consts)
                        assert key in contract, f"{path.name} sets {key!r} on {node_name}: not a declared parameter"
                        literal = _value(val, consts)
                        if literal is not None and not isinstance(literal, list):
                            assert _ros_type(literal) == _ros_type(contract[key]), (key, literal)
    for call in _node_calls(tree, "robot_state_publisher") + _node_calls(tree, "rviz2"):
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
    assert set(keys) == {"task", "mode", "seed", "publish_clock"}
    assert _value(keys["mode"], consts) == "lockstep"
    (trainer,) = _node_calls(tree, "aac_policy")
    (overrides,) = [i for i in _arg(trainer, "parameters").elts if isinstance(i, ast.Dict)]
    assert {_value(k, consts) for k in overrides.keys} == {"sim_namespaces", "run_dir"}
    deploy = _tree(BRINGUP / "launch" / "deploy_sim.launch.py")
    consts = _module_constants(deploy)
    (sim,) = _node_calls(deploy, "aac_sim")
    (overrides,) = [i for i in _arg(sim, "parameters").elts if isinstance(i, ast.Dict)]
    keys = {_value(k, consts): _value(v, consts) for k, v in zip(overrides.keys, overrides.values)}
    assert keys["mode"] == "realtime"


def test_every_external_package_is_an_exec_depend():
    depends = _exec_depends("aac_bringup")
    assert {"launch", "launch_ros", "robot_state_publisher", "rviz2", "aac_sim", "aac_policy",
            "ament_index_python"} <= depends


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
    deploy = BRINGUP / "config" / "deploy_sim.yaml"
    for fqn in ("/aac_sim_node", "/twin/aac_sim_node"):
        params = lu.node_parameters_from_file(deploy, fqn)
        assert params["publish_clock"] is True and "mode" not in params and "task" not in params


def test_contract_matches_the_nodes():
    """The nodes declare exactly the contract's parameters, with these defaults."""
    from aac_policy import trainer_node
    from aac_sim import sim_node
    assert sim_node.PARAMETERS == SIM_NODE_PARAMETERS
    assert trainer_node.PARAMETERS == TRAINER_NODE_PARAMETERS


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


@pytest.mark.parametrize("namespace,prefix", [("", "/"), ("twin", "/twin/"), ("/twin/", "/twin/"), ("sim0", "/sim0/")])
def test_rviz_config_for_namespace(namespace, prefix):
    out = lu.rviz_config_for_namespace(RVIZ_FILE, namespace)
    try:
        data = yaml.safe_load(Path(out).read_text())
        original = _rviz_topics(yaml.safe_load(RVIZ_FILE.read_text()))
        assert _rviz_topics(data) == {k: prefix + v[len(lu.RVIZ_NAMESPACE):] for k, v in original.items()}
    finally:
        if Path(out) != RVIZ_FILE:
            Path(out).unlink()


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
     {SIM_NODE[:2]: 1, ("robot_state_publisher", "robot_state_publisher"): 1, ("rviz2", "rviz2"): 1}),
])
def test_launch_description_builds(path, args, expected):
    """Full install only: build the LaunchDescription and list the nodes it would start."""
    launch = pytest.importorskip("launch")
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
