"""Each domain-randomization switch changes what it should and nothing else (same seed)."""
import dataclasses

import numpy as np
import pytest

from aac_sim.config import RandomizationConfig
from aac_sim.env import AacPandaEnv

OFF = RandomizationConfig.off()
ACTIONS = np.random.default_rng(5).uniform(-1, 1, (6, 4))


def trace(switch):
    dr = OFF if switch is None else dataclasses.replace(OFF, **{switch: True})
    env = AacPandaEnv(task="push", randomization=dataclasses.asdict(dr))
    obs, _ = env.reset(seed=11)
    out = [obs]
    for a in ACTIONS:
        out.append(env.step(a)[0])
    env.close()
    return out


@pytest.fixture(scope="module")
def baseline():
    return trace(None)


def differs(a, b, key):
    return any(not np.array_equal(x[key], y[key]) for x, y in zip(a, b))


# switch -> keys that must change; every other key must stay bit-identical
EXPECTED = {
    "colors": {"rgb"},
    "lighting": {"rgb"},
    "camera": {"rgb", "depth"},
    "depth_noise": {"depth"},
    "object_physics": {"rgb", "depth", "state", "achieved_goal", "desired_goal"},
    "action": {"rgb", "depth", "state", "proprio"},
}
# keys a switch may change without having to (the arm may or may not touch the block in 6 steps)
MAY_ALSO = {"action": {"achieved_goal"}}


@pytest.mark.parametrize("switch", list(EXPECTED))
def test_switch_changes_only_its_part(baseline, switch):
    run = trace(switch)
    changed = {k for k in baseline[0] if differs(baseline, run, k)}
    assert EXPECTED[switch] <= changed <= EXPECTED[switch] | MAY_ALSO.get(switch, set())


def test_object_physics_keeps_task_draws(baseline):
    """Size changes the block's resting height, not where the task put the block and goal."""
    run = trace("object_physics")
    env = AacPandaEnv(task="push", render_images=False)
    obj = env.state_layout["object_pos"]
    np.testing.assert_allclose(run[0]["state"][obj][:2], baseline[0]["state"][obj][:2], atol=1e-6)
    np.testing.assert_allclose(run[0]["desired_goal"][:2], baseline[0]["desired_goal"][:2])
    env.close()


def test_action_switch_is_invisible_at_reset(baseline):
    run = trace("action")
    for k in baseline[0]:
        np.testing.assert_array_equal(run[0][k], baseline[0][k])


def test_randomization_is_seeded():
    a = AacPandaEnv(task="reach")
    b = AacPandaEnv(task="reach")
    oa, ob = a.reset(seed=4)[0], b.reset(seed=4)[0]
    np.testing.assert_array_equal(oa["rgb"], ob["rgb"])
    np.testing.assert_array_equal(oa["depth"], ob["depth"])
    assert a.episode == b.episode
    assert not np.array_equal(a.reset(seed=5)[0]["rgb"], oa["rgb"])
    a.close(), b.close()


def test_depth_noise_has_dropout_and_z_dependent_noise():
    env = AacPandaEnv(task="reach", randomization=dataclasses.asdict(
        dataclasses.replace(OFF, depth_noise=True, depth_dropout_prob=0.05)))
    clean = AacPandaEnv(task="reach", randomization=dataclasses.asdict(OFF))
    noisy_d, clean_d = env.reset(seed=0)[0]["depth"], clean.reset(seed=0)[0]["depth"]
    dropped = (noisy_d == 0) & (clean_d > 0)
    assert 0.02 < dropped.mean() < 0.08
    ok = (noisy_d > 0) & (clean_d > 0)
    err = np.abs(noisy_d[ok].astype(int) - clean_d[ok].astype(int))
    assert 0 < err.mean() < 10   # ~2 mm std at 1 m
    env.close(), clean.close()
