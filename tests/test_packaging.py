"""Static checks of the ROS 2 / pip packaging skeleton.

No ROS installation is needed: package.xml is parsed with xml.etree, setup.cfg
with configparser and setup.py with ast (it is never executed).  The only
imports of project code are the console_scripts targets, which must resolve to
callables.
"""

import ast
import configparser
import fnmatch
import importlib
import os
from pathlib import Path
import re
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / 'src'
PACKAGES = sorted(p.name for p in SRC.glob('aac_*') if (p / 'package.xml').is_file())
EXPECTED_PACKAGES = ['aac_bringup', 'aac_driver', 'aac_policy', 'aac_robot', 'aac_sim']
TEST_DEPENDS = ['ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest']


# --------------------------------------------------------------------------- helpers

def _package_xml(pkg):
    return ET.parse(SRC / pkg / 'package.xml').getroot()


def _setup_call(pkg):
    """Return (setup() Call node, {module-level name: constant}) of src/<pkg>/setup.py."""
    tree = ast.parse((SRC / pkg / 'setup.py').read_text(), filename=f'{pkg}/setup.py')
    consts = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)):
            consts[node.targets[0].id] = node.value.value
    calls = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == 'setup'
    ]
    assert len(calls) == 1, f'{pkg}/setup.py must call setup() exactly once'
    return calls[0], consts


def _static_eval(node, consts):
    """Evaluate a literal expression that may use module-level string constants and +."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in consts:
            return consts[node.id]
        raise ValueError(f'name {node.id!r} is not a module-level constant')
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_static_eval(e, consts) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return {_static_eval(k, consts): _static_eval(v, consts)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _static_eval(node.left, consts) + _static_eval(node.right, consts)
    raise ValueError(f'not a static expression: {ast.dump(node)}')


def _setup_kw(pkg, key):
    """Static value of setup(<key>=...); module-level string constants are resolved."""
    call, consts = _setup_call(pkg)
    for kw in call.keywords:
        if kw.arg == key:
            return _static_eval(kw.value, consts)
    raise KeyError(f'{pkg}/setup.py: setup() has no {key}= argument')


def _console_scripts(pkg):
    entry_points = _setup_kw(pkg, 'entry_points')
    scripts = entry_points.get('console_scripts', [])
    parsed = []
    for spec in scripts:
        m = re.fullmatch(r'\s*([\w.-]+)\s*=\s*([\w.]+)\s*:\s*([\w.]+)\s*', spec)
        assert m, f'{pkg}: malformed console_scripts entry {spec!r}'
        parsed.append(m.groups())
    return parsed


ENTRY_POINTS = [
    pytest.param(pkg, name, module, attr, id=f'{pkg}:{name}')
    for pkg in PACKAGES
    for (name, module, attr) in _console_scripts(pkg)
]


# --------------------------------------------------------------------------- package set

def test_expected_packages_present():
    assert PACKAGES == EXPECTED_PACKAGES


def test_no_colcon_ignore():
    found = [p for p in (REPO / 'COLCON_IGNORE', REPO / 'ros2_ws' / 'COLCON_IGNORE')
             if p.exists()]
    found += list(SRC.rglob('COLCON_IGNORE'))
    assert not found, f'COLCON_IGNORE would hide packages from colcon: {found}'


# --------------------------------------------------------------------------- package.xml

@pytest.mark.parametrize('pkg', PACKAGES)
def test_package_xml(pkg):
    text = (SRC / pkg / 'package.xml').read_text()
    assert 'http://download.ros.org/schema/package_format3.xsd' in text
    root = _package_xml(pkg)
    assert root.tag == 'package'
    assert root.get('format') == '3'
    assert root.findtext('name') == pkg
    assert root.findtext('version') == '0.1.0'
    assert root.findtext('license') == 'Apache-2.0'
    maintainer = root.find('maintainer')
    assert maintainer is not None and maintainer.text == 'AAC Robotics'
    assert maintainer.get('email') == 'dev@aac-robotics.example'
    assert root.findtext('export/build_type') == 'ament_python'
    assert [e.text for e in root.findall('test_depend')] == TEST_DEPENDS


def test_bringup_depends_on_the_other_packages():
    deps = {e.text for e in _package_xml('aac_bringup').findall('exec_depend')}
    assert {'aac_sim', 'aac_policy', 'aac_driver', 'launch', 'launch_ros'} <= deps


# --------------------------------------------------------------------------- resource / setup.cfg

@pytest.mark.parametrize('pkg', PACKAGES)
def test_resource_marker(pkg):
    assert (SRC / pkg / 'resource' / pkg).is_file()


@pytest.mark.parametrize('pkg', PACKAGES)
def test_setup_cfg_script_dir(pkg):
    path = SRC / pkg / 'setup.cfg'
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(path)
    assert cfg.get('develop', 'script_dir') == f'$base/lib/{pkg}'
    assert cfg.get('install', 'install_scripts') == f'$base/lib/{pkg}'
    # Dash-separated keys (script-dir) are deprecated; setuptools 78.0.0 briefly rejected them.
    for section in cfg.sections():
        dashed = [k for k in cfg[section] if '-' in k]
        assert not dashed, f'{path}: [{section}] uses dash-separated keys {dashed}'


# --------------------------------------------------------------------------- setup.py

@pytest.mark.parametrize('pkg', PACKAGES)
def test_setup_py_static(pkg):
    source = (SRC / pkg / 'setup.py').read_text()
    assert _setup_kw(pkg, 'name') == pkg
    assert _setup_kw(pkg, 'version') == _package_xml(pkg).findtext('version')
    assert 'find_packages(' in source
    # The ament index marker and package.xml must be installed.
    assert "'share/ament_index/resource_index/packages'" in source
    assert "'package.xml'" in source
    requires = _setup_kw(pkg, 'install_requires')
    names = [re.split(r'[\s<>=!~;\[]', r, maxsplit=1)[0].lower() for r in requires]
    assert 'torch' not in names, 'torch is pinned elsewhere; never list it in install_requires'


def test_aac_robot_setup_py_package_data_ships_every_data_file():
    # camera YAMLs and the Fast DDS profile are read at run time from the installed package
    import fnmatch
    source = (SRC / 'aac_robot' / 'setup.py').read_text()
    globs = _setup_kw('aac_robot', 'package_data')['aac_robot']
    data = sorted(p.relative_to(SRC / 'aac_robot' / 'aac_robot').as_posix()
                  for p in (SRC / 'aac_robot' / 'aac_robot' / 'data').iterdir())
    assert {'data/camera_d435.yaml', 'data/camera_extrinsics.yaml', 'data/fastdds_large_frames.xml'} <= set(data)
    unshipped = [d for d in data if not any(fnmatch.fnmatch(d, g) for g in globs)]
    assert not unshipped, f'not in package_data {globs}: {unshipped}'
    assert "/config'" in source
    # the contract installs no simulator stack (gymnasium) and no learner (torch)
    assert _setup_kw('aac_robot', 'install_requires') == ['numpy', 'pyyaml', 'opencv-python-headless', 'pybullet==3.2.7']


def test_aac_sim_setup_py_requires():
    assert _setup_kw('aac_sim', 'install_requires') == [
        'numpy', 'pyyaml', 'gymnasium>=1.0', 'pybullet==3.2.7', 'opencv-python-headless',
    ]


@pytest.mark.parametrize('pkg', PACKAGES)
def test_python_package_init(pkg):
    # find_packages() only picks up directories with an __init__.py.
    assert (SRC / pkg / pkg / '__init__.py').is_file()


def test_aac_sim_console_scripts_declared():
    assert {name for name, _, _ in _console_scripts('aac_sim')} >= {
        'aac_sim_demo', 'aac_sim_image_grid', 'aac_robot_description',
    }


@pytest.mark.parametrize('pkg,name,module,attr', ENTRY_POINTS)
def test_console_script_resolves(pkg, name, module, attr):
    pkg_root = str(SRC / pkg)
    added = pkg_root not in sys.path
    if added:
        sys.path.insert(0, pkg_root)
    try:
        obj = importlib.import_module(module)
    finally:
        if added:
            sys.path.remove(pkg_root)
    for part in attr.split('.'):
        obj = getattr(obj, part)
    assert callable(obj), f'{name} -> {module}:{attr} is not callable'


# --------------------------------------------------------------------------- workspace

def test_ros2_ws_src_symlink():
    link = REPO / 'ros2_ws' / 'src'
    assert link.is_symlink()
    assert os.readlink(link) == '../src', 'ros2_ws/src must be a relative symlink'
    assert link.resolve() == SRC.resolve()


def test_ros2_ws_gitignore():
    lines = (REPO / 'ros2_ws' / '.gitignore').read_text().split()
    for d in ('build', 'install', 'log'):
        assert d in lines or f'{d}/' in lines


# --------------------------------------------------------------------------- docker

def _dockerfile_instructions():
    """(INSTRUCTION, args) pairs with line continuations joined and comments dropped."""
    text = (REPO / 'docker' / 'Dockerfile').read_text()
    logical, buf = [], ''
    for line in text.splitlines():
        if line.lstrip().startswith('#'):
            continue
        if line.rstrip().endswith('\\'):
            buf += line.rstrip()[:-1] + ' '
            continue
        buf += line
        if buf.strip():
            logical.append(buf.strip())
        buf = ''
    out = []
    for stmt in logical:
        instr, _, args = stmt.partition(' ')
        out.append((instr.upper(), args.strip()))
    return out


def _dockerignore_patterns():
    path = REPO / '.dockerignore'
    return [ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith('#')]


def _dockerfile_stages():
    """{stage name: its instructions} (the FROM line's `AS name`); every stage starts from ROS 2 Jazzy
    (ros:jazzy-ros-base, or an earlier stage)."""
    stages, name = {}, None
    for instr, args in _dockerfile_instructions():
        if instr == 'FROM':
            base, _, name = args.partition(' AS ')
            assert base == 'ros:jazzy-ros-base' or base in stages, args
            stages[name.strip()] = []
        else:
            stages[name].append((instr, args))
    return stages


def _requirement_names(text):
    names = set()
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            names.add(re.split(r'[\s<>=!~;\[]', line, maxsplit=1)[0].lower())
    return names


def test_dockerfile_stages_full_last_and_robot_without_training_stack():
    stages = _dockerfile_stages()
    assert list(stages)[-1] == 'full', 'the default target (last stage) is the full image'
    assert 'robot' in stages
    robot_runs = ' ; '.join(args for instr, args in stages['robot'] if instr == 'RUN')
    # the robot PC's Python set is requirements-robot.txt's, with rclpy and the messages from apt
    wanted = {n for n in _requirement_names((REPO / 'requirements-robot.txt').read_text())
              if not n.startswith('ros-')}
    installed = {m.group(1).lower() for m in re.finditer(r'"?([A-Za-z][\w.-]*)(?:[<>=!~][^"\s]*)?"?', robot_runs)}
    assert wanted <= installed, f'robot stage misses {sorted(wanted - installed)}'
    for heavy in ('torch', 'gymnasium', 'tensorboard', 'matplotlib'):
        assert not re.search(rf'(?<![\w-]){heavy}(?![\w-])', robot_runs), f'robot stage installs {heavy}'
    build = re.search(r'colcon build --symlink-install --packages-select ([\w ]+)', robot_runs)
    assert build and set(build.group(1).split()) == {'aac_robot', 'aac_policy', 'aac_driver', 'aac_bringup'}
    full_runs = ' '.join(args for instr, args in stages['full'] if instr == 'RUN')
    assert 'onnxruntime' in full_runs and 'colcon build --symlink-install' in full_runs


def test_dockerfile_base_and_copy_sources_exist():
    instructions = _dockerfile_instructions()
    assert sum(instr == 'FROM' for instr, _ in instructions) == len(_dockerfile_stages())
    ignore = _dockerignore_patterns()
    copies = [args for instr, args in instructions if instr == 'COPY']
    assert copies, 'Dockerfile copies nothing'
    for args in copies:
        parts = [p for p in args.split() if not p.startswith('--')]
        for src in parts[:-1]:
            assert (REPO / src).exists(), f'Dockerfile COPY source missing: {src}'
            if src != '.':
                assert not any(fnmatch.fnmatch(src, pat) for pat in ignore), (
                    f'.dockerignore excludes COPY source {src}')


def test_dockerfile_entrypoint_script():
    instructions = dict(_dockerfile_instructions())
    assert 'ENTRYPOINT' in instructions
    script = REPO / 'docker' / 'entrypoint.sh'
    assert script.is_file()
    assert os.access(script, os.X_OK), 'docker/entrypoint.sh must be executable'
    text = script.read_text()
    assert text.startswith('#!')
    assert 'source /opt/ros/jazzy/setup.bash' in text
    assert 'install/setup.bash' in text
    assert 'exec "$@"' in text


def test_dockerfile_pins_torch_and_pybullet():
    runs = ' '.join(args for instr, args in _dockerfile_instructions() if instr == 'RUN')
    assert 'torch==2.13.0' in runs
    assert 'https://download.pytorch.org/whl/cpu' in runs
    assert 'pybullet==3.2.7' in runs
    assert '--break-system-packages' in runs
    assert 'colcon build --symlink-install' in runs
    assert not re.search(r'(?<![\w-])torch(?![\w=.-])', runs), 'unpinned torch in Dockerfile'


def test_compose_file():
    compose_dir = REPO / 'docker'
    compose = yaml.safe_load((compose_dir / 'compose.yaml').read_text())
    services = compose['services']
    expected = {
        'train': 'train_sim.launch.py',
        'deploy_sim': 'deploy_sim.launch.py',
        'deploy_real': 'deploy_real.launch.py',
    }
    assert set(expected) <= set(services)
    for svc, launch_file in expected.items():
        spec = services[svc]
        command = spec['command']
        if isinstance(command, str):
            command = command.split()
        assert command[:4] == ['ros2', 'launch', 'aac_bringup', launch_file]
        # anything after the launch file is a launch argument (name:=value) the file declares
        launch_src = (REPO / 'src' / 'aac_bringup' / 'launch' / launch_file).read_text()
        for arg in command[4:]:
            name, sep, _ = arg.partition(':=')
            assert sep and re.fullmatch(r'\w+', name), f'{svc}: {arg!r} is not a launch argument'
            assert re.search(rf"DeclareLaunchArgument\(\s*'{name}'", launch_src), (
                f'{svc}: {launch_file} declares no argument {name!r}')
        assert spec['network_mode'] == 'host'
        build = spec['build']
        if svc == 'deploy_real':
            assert build['target'] == 'robot', 'the robot PC service builds the deployment-only image'
        context = (compose_dir / build['context']).resolve()
        assert context == REPO.resolve()
        assert (context / build['dockerfile']).is_file()
        if 'target' in build:
            assert build['target'] in _dockerfile_stages(), f"{svc}: no Dockerfile stage {build['target']!r}"
        host_paths = [v.split(':', 1)[0] for v in spec['volumes'] if isinstance(v, str)]
        assert any((compose_dir / h).resolve() == (REPO / 'runs').resolve()
                   for h in host_paths), 'the repo runs/ directory must be mounted'
        # Any other relative host path that is referenced must exist.
        for h in host_paths:
            p = (compose_dir / h).resolve()
            if h.startswith('.') and p != (REPO / 'runs').resolve():
                assert p.exists(), f'compose volume source missing: {h}'


def test_dockerignore_excludes_local_artifacts():
    patterns = _dockerignore_patterns()
    for p in ('.venv', 'runs', 'ros2_ws/build', 'ros2_ws/install', 'ros2_ws/log'):
        assert p in patterns


# --------------------------------------------------------------------------- .gitignore

def test_root_gitignore():
    lines = (REPO / '.gitignore').read_text().split()
    for entry in ('.venv/', 'runs/', '__pycache__/', '*.egg-info/', 'build/',
                  '.pytest_cache/'):
        assert entry in lines
    for d in ('build', 'install', 'log'):
        assert f'ros2_ws/{d}' in lines or f'ros2_ws/{d}/' in lines


def test_ci_fails_instead_of_skipping_when_ros_is_missing():
    """With AAC_REQUIRE_ROS=1 (scripts/run_tests.sh) a missing ROS package stops the session with what
    is missing, instead of letting the ROS test modules skip."""
    import os
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent("""
        import builtins, sys
        real = builtins.__import__
        def fake(name, *a, **k):
            if name.startswith('rosgraph_msgs'):
                raise ImportError('simulated: not installed')
            return real(name, *a, **k)
        builtins.__import__ = fake
        import pytest
        sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_safety.py::test_config_is_strict']))
    """)
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120,
                         env={**os.environ, "AAC_REQUIRE_ROS": "1"})
    assert run.returncode != 0 and "AAC_REQUIRE_ROS=1 but rosgraph_msgs.msg does not import" in run.stdout + run.stderr
    assert "AAC_REQUIRE_ROS=1" in (root / "scripts" / "run_tests.sh").read_text()
