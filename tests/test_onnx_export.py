"""The exported actor as ONNX: same actions as the torch.export file on real sim frames, the same spec checks,
and it runs on ONNX Runtime without torch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from aac_policy.actor_runtime import load_runtime
from aac_policy.agent import Agent
from aac_policy.deploy import DeployedActor
from aac_policy.export import build_obs_spec, export_actor, export_onnx
from aac_policy.spec import build_spec
from aac_policy.config import load_config
from aac_policy.envs import sim_config_for
from aac_robot.camera import CameraIntrinsics
from aac_sim.config import ConfigError
from aac_sim.env import AacPandaEnv

TOLERANCE = 1e-3   # max |action difference|: float32 conv arithmetic in another order (measured ~2e-4)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cfg = load_config(None, ["sim.task=push"])
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    torch.manual_seed(0)
    agent = Agent(spec, cfg)
    obs, _ = env.reset(seed=0)   # non-trivial normalizers, as after training
    agent.update_norms({k: obs[k][None] for k in spec.stored_vec_keys})
    d = tmp_path_factory.mktemp("onnx")
    obs_spec = build_obs_spec(agent, env)
    pt, onnx_path = export_actor(agent, d / "actor.pt", obs_spec), export_onnx(agent, d / "actor.onnx", obs_spec)
    yield pt, onnx_path, env
    env.close()


def test_onnx_and_torch_export_give_the_same_actions_on_real_frames(exported):
    pt, onnx_path, env = exported
    run_pt, spec_pt = load_runtime(pt)
    run_onnx, spec_onnx = load_runtime(onnx_path)
    assert spec_pt == spec_onnx
    keys = spec_onnx["inputs"]
    obs, _ = env.reset(seed=3)
    worst = 0.0
    for _ in range(20):   # all randomization on: colours, lights, camera, depth noise and dropout
        batch = {k: obs[k][None] for k in keys}
        a_pt, a_onnx = run_pt(batch), run_onnx(batch)
        assert a_onnx.dtype == np.float32 and a_onnx.shape == (1, 4)
        worst = max(worst, float(np.abs(a_pt - a_onnx).max()))
        obs, *_ = env.step(a_onnx[0])
    frames = {k: np.stack([obs[k]] * 3) for k in keys}   # a batch of 3
    assert run_onnx(frames).shape == (3, 4)
    assert worst < TOLERANCE, worst


def test_the_deploy_preprocessing_is_trainings_bit_for_bit():
    """The exported module builds the image with plain ops (image_tensor_plain), training with in-place
    slice writes (image_tensor): the same numbers, with rgb, depth or both, in and out of range."""
    from aac_policy.networks import image_tensor, image_tensor_plain
    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (3, 84, 84, 3), generator=g, dtype=torch.uint8)
    depth = torch.randint(0, 65535, (3, 84, 84), generator=g, dtype=torch.int32).to(torch.uint16)
    for r, d in ((rgb, depth), (rgb, None), (None, depth), (None, depth.float())):
        a, b = image_tensor(r, d), image_tensor_plain(r, d)
        assert a.shape == b.shape and torch.equal(a, b)
        assert b.permute(0, 2, 3, 1).is_contiguous()   # channels-last, as image_tensor's


def test_the_onnx_graph_is_small(exported):
    """In-place slice writes in the preprocessing once traced to ~400 ONNX nodes (ScatterND, Shape, Expand...)
    that cost ONNX Runtime ~8x the network itself (2.5-3.1 ms vs 0.34 ms per action, bench/README.md)."""
    import onnx
    graph = onnx.load(str(exported[1])).graph
    ops = [n.op_type for n in graph.node]
    assert "ScatterND" not in ops and len(ops) < 80, sorted(set(ops))


def test_the_onnx_actor_is_checked_like_the_torch_one(exported):
    _, onnx_path, env = exported
    dep = DeployedActor(str(onnx_path))
    dep.set_camera(env.camera_intrinsics)   # the 640x480 D435 it was trained for
    wrong = CameraIntrinsics(width=1280, height=720, fx=1200.0, fy=1200.0, cx=640.0, cy=360.0)   # a narrower view
    with pytest.raises(ConfigError, match="fx: actor trained with"):
        dep.set_camera(wrong)
    dep.close()


def test_onnx_runs_without_torch_and_bad_files_are_clear_errors(exported, tmp_path):
    _, onnx_path, env = exported
    code = ("import sys, numpy as np; from aac_policy.actor_runtime import load_runtime; "
            f"run, spec = load_runtime({str(onnx_path)!r}); S = spec['image_size']; "
            "a = run({'rgb': np.zeros((1, S, S, 3), np.uint8), 'depth': np.full((1, S, S), 700, np.uint16), "
            "'proprio': np.zeros((1, 7), np.float32), 'desired_goal': np.zeros((1, 3), np.float32)}); "
            "assert a.shape == (1, 4) and np.isfinite(a).all(); assert 'torch' not in sys.modules, 'torch loaded'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(onnx_path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a loadable ONNX actor"):
        load_runtime(broken)
    with pytest.raises(ValueError, match="no such exported actor"):
        load_runtime(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="runtime must be one of"):
        load_runtime(onnx_path, runtime="tensorrt")


def test_the_arm_node_and_preflight_read_the_spec_of_an_onnx_actor(exported, tmp_path):
    """A robot PC deploys actor.onnx only: the safety layer reads its trained limits from the ONNX metadata."""
    from aac_robot.actor_spec import read_actor_spec, trained_limits
    pt_path, onnx_path, _ = exported
    assert read_actor_spec(onnx_path) == read_actor_spec(pt_path)
    limits, unknown = trained_limits(read_actor_spec(onnx_path))
    assert unknown == [] and limits.control_rate_hz == 10.0
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(onnx_path.read_bytes()[:5000])
    with pytest.raises(ConfigError, match="cannot read the actor's spec"):
        read_actor_spec(broken)
    with pytest.raises(ConfigError, match="cannot read the actor's spec"):
        read_actor_spec(tmp_path / "missing.onnx")
