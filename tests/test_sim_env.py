"""Observation contract, rewards, seeding and bad input of the PyBullet env (real PyBullet, no mocks)."""
import numpy as np
import pytest
import gymnasium as gym

import aac_sim
from aac_sim.config import ConfigError, RandomizationConfig, SimConfig
from aac_sim.env import ACTOR_KEYS, PRIVILEGED_KEYS, AacPandaEnv

OFF = RandomizationConfig.off()


@pytest.fixture(scope="module")
def push_env():
    env = AacPandaEnv(task="push")
    yield env
    env.close()


@pytest.mark.parametrize("size", [84, 64])
def test_observation_keys_dtypes_shapes(size):
    env = AacPandaEnv(task="pick_place", image_size=size)
    obs, info = env.reset(seed=0)
    assert set(obs) == set(ACTOR_KEYS) | set(PRIVILEGED_KEYS)
    assert obs["rgb"].shape == (size, size, 3) and obs["rgb"].dtype == np.uint8
    assert obs["depth"].shape == (size, size) and obs["depth"].dtype == np.uint16
    assert obs["proprio"].shape == (7,) and obs["proprio"].dtype == np.float32
    assert obs["desired_goal"].shape == (3,) and obs["achieved_goal"].shape == (3,)
    assert obs["state"].shape == (43,)
    assert env.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = env.step(np.zeros(4))
    assert env.observation_space.contains(obs) and reward in (0.0, -1.0) and "is_success" in info
    # depth really is millimetres with a plausible range for a camera ~1 m from the table
    valid = obs["depth"][obs["depth"] > 0]
    assert valid.size > 0.9 * obs["depth"].size and 300 < np.median(valid) < 2000
    env.close()


def test_gym_registry_and_episode_length():
    env = gym.make(aac_sim.ENV_IDS["reach"], render_images=False)
    env.reset(seed=0)
    for t in range(50):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        assert truncated == (t == 49)
    env.close()


def test_actor_keys_carry_nothing_privileged(push_env):
    """Moving only the block changes the privileged keys and the image, never proprio or goal."""
    import pybullet as p
    env = push_env
    obs0, _ = env.reset(seed=3)
    pos, orn = p.getBasePositionAndOrientation(env.block, physicsClientId=env.client)
    p.resetBasePositionAndOrientation(env.block, (pos[0] + 0.08, pos[1] - 0.05, pos[2]), orn,
                                      physicsClientId=env.client)
    obs1 = env._observe()
    np.testing.assert_array_equal(obs0["proprio"], obs1["proprio"])
    np.testing.assert_array_equal(obs0["desired_goal"], obs1["desired_goal"])
    assert not np.array_equal(obs0["state"], obs1["state"])
    assert not np.array_equal(obs0["achieved_goal"], obs1["achieved_goal"])
    assert not np.array_equal(obs0["rgb"], obs1["rgb"])   # the camera may see the block: that is allowed
    assert set(ACTOR_KEYS).isdisjoint(PRIVILEGED_KEYS)


def test_compute_reward_vectorised_matches_per_sample(push_env):
    rng = np.random.default_rng(0)
    achieved = rng.uniform(0.3, 0.7, (64, 3))
    desired = achieved + rng.normal(0, 0.05, (64, 3))
    batch = push_env.compute_reward(achieved, desired, None)
    single = np.array([push_env.compute_reward(a, d, None) for a, d in zip(achieved, desired)])
    np.testing.assert_array_equal(batch, single)
    assert set(np.unique(batch)) <= {0.0, -1.0} and (batch == 0).any() and (batch == -1).any()
    grid = push_env.compute_reward(achieved.reshape(8, 8, 3), desired.reshape(8, 8, 3), None)
    np.testing.assert_array_equal(grid.reshape(-1), batch)


def test_reward_matches_compute_reward_during_rollout(push_env):
    obs, _ = push_env.reset(seed=1)
    for _ in range(10):
        obs, reward, *_ = push_env.step(push_env.action_space.sample())
        assert reward == push_env.compute_reward(obs["achieved_goal"], obs["desired_goal"], None)


def _rollout(env, seed, steps=60):
    rng = np.random.default_rng(123)
    out = [env.reset(seed=seed)[0]]
    for _ in range(steps):   # crosses an episode boundary (50 steps)
        obs, _, _, truncated, _ = env.step(rng.uniform(-1, 1, 4))
        out.append(obs)
        if truncated:
            out.append(env.reset()[0])
    return out


def test_seeding_is_deterministic():
    a, b = AacPandaEnv(task="pick"), AacPandaEnv(task="pick")
    ra, rb = _rollout(a, 7), _rollout(b, 7)
    for oa, ob in zip(ra, rb):
        for k in oa:
            np.testing.assert_array_equal(oa[k], ob[k], err_msg=k)
    other = _rollout(a, 8, steps=1)
    assert not np.array_equal(other[0]["desired_goal"], ra[0]["desired_goal"])
    a.close(), b.close()


def test_bad_config_and_task_names_are_errors():
    with pytest.raises(ConfigError, match="unknown task"):
        AacPandaEnv(task="stack")
    with pytest.raises(ConfigError, match="unknown key"):
        SimConfig.from_dict({"taks": "push"})
    with pytest.raises(ConfigError, match="unknown key"):
        SimConfig.from_dict({"randomization": {"colours": True}})
    with pytest.raises(ConfigError, match="image_size"):
        SimConfig(image_size=8)
    with pytest.raises(ConfigError, match="integer"):
        SimConfig.from_dict({"image_size": 84.0})
    with pytest.raises(ValueError, match="larger than"):
        AacPandaEnv(task="reach", image_size=1000)


@pytest.mark.parametrize("action, match", [
    ([np.nan, 0, 0, 0], "NaN or inf"), ([0, np.inf, 0, 0], "NaN or inf"),
    ([0, 0, 1.5, 0], "out of range"), ([0, 0, 0], "shape"),
])
def test_bad_actions_are_rejected_and_move_nothing(push_env, action, match):
    obs0, _ = push_env.reset(seed=2)
    with pytest.raises(ValueError, match=match):
        push_env.step(action)
    np.testing.assert_array_equal(push_env._observe()["state"], obs0["state"])


def test_vector_env_two_processes():
    from aac_sim.vector import make_vector_env
    venv = make_vector_env(SimConfig(task="reach", image_size=64), 2)
    try:
        obs, info = venv.reset(seed=0)
        assert obs["rgb"].shape == (2, 64, 64, 3) and obs["depth"].dtype == np.uint16
        assert not np.array_equal(obs["desired_goal"][0], obs["desired_goal"][1])   # seeds 0 and 1
        obs, reward, term, trunc, info = venv.step(np.zeros((2, 4), np.float32))
        assert reward.shape == (2,) and info["is_success"].shape == (2,)
    finally:
        venv.close()
