"""The robot side stands without the simulator's training stack: the policy node (ONNX actor on ONNX
Runtime), the arm node with its safety layer, preflight, episode runner and calibration import and start
in a process where torch, gymnasium, TensorBoard, matplotlib and the simulator package (aac_sim) cannot be
imported and only aac_robot, aac_policy and aac_driver are on the path; the policy node's actor there
computes the same command as in a full install. PyBullet stays on the robot side (aac_robot.panda): the
forward kinematics of the proprio and the arm node's IK use the sim's own Panda model, which keeps the
sim <-> robot proprio parity bit-exact (tests/test_deploy.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ros_helpers import ROOT  # noqa: I100 (skips the module without rclpy)

BLOCKED = ("torch", "gymnasium", "tensorboard", "matplotlib", "aac_sim")   # aac_sim: the simulator package
PROBE = r'''
import importlib, json, sys
import numpy as np
BLOCKED = %r
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed on the robot PC (blocked by the test)")
sys.meta_path.insert(0, Blocker())
for mod in ("aac_driver.arm_node", "aac_driver.safety", "aac_driver.preflight", "aac_driver.episode_runner",
            "aac_driver.camera_pose", "aac_driver.calibration", "aac_driver.recorder", "aac_policy.policy_node"):
    importlib.import_module(mod)
import rclpy
from rclpy.parameter import Parameter
from aac_driver.arm_node import ArmNode
from aac_policy.policy_node import PolicyNode
from aac_policy.deploy import DeployedActor
from aac_robot.camera import CameraIntrinsics
rclpy.init()
nodes = [PolicyNode(parameter_overrides=[Parameter("actor", value=sys.argv[1])]),
         ArmNode(parameter_overrides=[Parameter("actor", value=sys.argv[1])])]   # the arm node reads its trained limits
dep = DeployedActor(sys.argv[1], runtime="onnxruntime")
dep.set_camera(CameraIntrinsics.from_yaml())
rng = np.random.default_rng(0)
obs = dep.observation(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
                      rng.integers(300, 1500, (480, 640), dtype=np.uint16),
                      np.array([0, -0.2, 0, -2.5, 0, 2.3, 0.8, 0.02, 0.02]), np.zeros(9), np.array([0.5, 0.1, 0.02]))
action = dep.act(obs).tolist()
for n in nodes:
    n.destroy_node()
rclpy.shutdown()
print("RESULT", json.dumps({"action": action, "loaded": sorted(m for m in (*BLOCKED, "onnxruntime", "pybullet")
                                                               if m in sys.modules)}))
''' % (BLOCKED,)


@pytest.fixture(scope="module")
def onnx_actor(tmp_path_factory) -> Path:
    from aac_policy.agent import Agent
    from aac_policy.export import build_obs_spec, export_onnx
    from aac_policy.spec import build_spec
    from aac_policy.config import load_config
    from aac_policy.envs import sim_config_for
    from aac_sim.env import AacPandaEnv
    import torch
    cfg = load_config(None, ["sim.task=push"])
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    torch.manual_seed(0)
    agent = Agent(spec, cfg)
    path = export_onnx(agent, tmp_path_factory.mktemp("actor") / "actor.onnx", build_obs_spec(agent, env))
    env.close()
    return Path(path)


def test_robot_side_runs_without_torch_or_gymnasium(onnx_actor):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / "src" / p) for p in ("aac_robot", "aac_policy",
                                                                                       "aac_driver")))
    run = subprocess.run([sys.executable, "-c", PROBE, str(onnx_actor)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.split("RESULT ", 1)[1])
    assert result["loaded"] == ["onnxruntime", "pybullet"], result["loaded"]
    # the same command as the full install computes with the same file
    from aac_policy.deploy import DeployedActor
    from aac_robot.camera import CameraIntrinsics
    dep = DeployedActor(str(onnx_actor), runtime="onnxruntime")
    dep.set_camera(CameraIntrinsics.from_yaml())
    rng = np.random.default_rng(0)
    obs = dep.observation(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
                          rng.integers(300, 1500, (480, 640), dtype=np.uint16),
                          np.array([0, -0.2, 0, -2.5, 0, 2.3, 0.8, 0.02, 0.02]), np.zeros(9), np.array([0.5, 0.1, 0.02]))
    np.testing.assert_array_equal(np.array(result["action"], dtype=np.float32), dep.act(obs))
    dep.close()
