"""HER replay: relabelling by index, recomputed rewards, memory layout, disk round trip."""
import numpy as np
import pytest
from gymnasium import spaces

from aac_policy.replay import EpisodeStore, HerReplay
from aac_policy.spec import build_spec

T, S = 6, 8


def pixel_space():
    vec = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    return spaces.Dict({"rgb": spaces.Box(0, 255, (S, S, 3), np.uint8), "depth": spaces.Box(0, 65535, (S, S), np.uint16),
                        "proprio": vec(7), "desired_goal": vec(3), "state": vec(5), "achieved_goal": vec(3)})


def reward_fn(ag, g):
    return -(np.linalg.norm(ag - g, axis=-1) > 0.05).astype(np.float32)


def make_episode(ep_id, length=T):
    """Frame t of episode e carries (e, t) in every key, so a sampled value says where it came from."""
    t = np.arange(length + 1, dtype=np.float32)
    obs = {"rgb": np.zeros((length + 1, S, S, 3), np.uint8), "depth": np.zeros((length + 1, S, S), np.uint16),
           "proprio": np.zeros((length + 1, 7), np.float32), "state": np.zeros((length + 1, 5), np.float32),
           "achieved_goal": np.stack([np.full_like(t, ep_id), t, np.zeros_like(t)], 1),
           "desired_goal": np.tile(np.array([ep_id, 99.0, 1.0], np.float32), (length + 1, 1))}
    obs["rgb"][:, 0, 0, 0] = np.arange(length + 1)
    obs["depth"][:, 0, 0] = 1000 * ep_id + np.arange(length + 1)
    obs["proprio"][:, 0] = t
    actions = np.stack([np.full(length, ep_id), np.arange(length), np.zeros(length), np.zeros(length)], 1) / 100
    return obs, actions.astype(np.float32)


def make_replay(her_k=4, capacity=100 * T, wiring="asymmetric"):
    space = pixel_space()
    spec = build_spec(space, spaces.Box(-1, 1, (4,), np.float32), wiring, aux=False)
    return HerReplay(spec, space, capacity, T, her_k, reward_fn, seed=0)


def test_her_relabels_with_future_achieved_goals_and_recomputes_rewards():
    rb = make_replay(her_k=4)
    for e in range(5):
        rb.add_episode(*make_episode(e))
    b = rb.sample(4000)
    obs, nxt = b["obs"], b["next_obs"]
    ep = obs["achieved_goal"][:, 0]
    t = obs["achieved_goal"][:, 1]
    g = obs["desired_goal"]
    relabel = b["goal_relabelled"]
    # k = 4: 4 relabelled goals for each original one
    assert abs(relabel.mean() - 0.8) < 0.03
    # original goals are untouched
    assert np.all(g[~relabel, 1] == 99.0)
    # relabelled goals are achieved goals of a LATER frame (t+1 .. T) of the SAME episode
    assert np.all(g[relabel, 0] == ep[relabel])
    assert np.all(g[relabel, 1] >= t[relabel] + 1) and np.all(g[relabel, 1] <= T)
    # every future frame is used, including the last one
    assert set(np.unique(g[relabel, 1] - t[relabel]).astype(int)) == set(range(1, T + 1))
    # rewards are recomputed for the relabelled goal from the NEXT achieved goal
    np.testing.assert_array_equal(b["reward"], reward_fn(nxt["achieved_goal"], g))
    assert (b["reward"][relabel] == 0).any() and (b["reward"][~relabel] == -1).all()
    # next obs and obs share the goal; next obs is frame t + 1 of the same episode
    np.testing.assert_array_equal(nxt["desired_goal"], g)
    np.testing.assert_array_equal(nxt["achieved_goal"][:, 1], t + 1)
    np.testing.assert_array_equal(nxt["depth"][:, 0, 0], 1000 * ep + t + 1)
    np.testing.assert_array_equal(b["action"][:, 1] * 100, t)


def test_her_k0_never_relabels():
    rb = make_replay(her_k=0)
    rb.add_episode(*make_episode(0))
    b = rb.sample(500)
    assert not b["goal_relabelled"].any()
    assert np.all(b["obs"]["desired_goal"][:, 1] == 99.0)


def test_memory_layout_frames_stored_once_in_native_dtypes():
    rb = make_replay()
    assert rb.obs["rgb"].dtype == np.uint8 and rb.obs["rgb"].shape == (rb.max_episodes, T + 1, S, S, 3)
    assert rb.obs["depth"].dtype == np.uint16 and rb.obs["depth"].shape == (rb.max_episodes, T + 1, S, S)
    # no separate next-observation storage and no float image copies anywhere
    assert not any(k.startswith("next") for k in rb.obs)
    assert all(a.dtype != np.float32 for k, a in rb.obs.items() if k in ("rgb", "depth"))
    per_frame = S * S * 3 + S * S * 2 + 4 * (7 + 3 + 5 + 3)
    expected = per_frame * (T + 1) / T + 4 * 4 + 8 / T
    assert rb.bytes_per_transition() == pytest.approx(expected)
    # an 84x84 RGB-D transition costs ~36 KB (float32 obs + next-obs copies would be ~226 KB)
    big = spaces.Dict({**pixel_space().spaces, "rgb": spaces.Box(0, 255, (84, 84, 3), np.uint8),
                       "depth": spaces.Box(0, 65535, (84, 84), np.uint16)})
    spec = build_spec(big, spaces.Box(-1, 1, (4,), np.float32), "asymmetric", aux=False)
    rb84 = HerReplay(spec, big, 50 * 1000, 50, 4, reward_fn)
    assert rb84.bytes_per_transition() < 37_000


def test_ring_buffer_overwrites_oldest_episode():
    rb = make_replay(capacity=3 * T)
    for e in range(5):
        rb.add_episode(*make_episode(e))
    assert rb.size == 3 and rb.transitions == 3 * T
    held = set(np.unique(rb.sample(500)["obs"]["achieved_goal"][:, 0]).astype(int))
    assert held == {2, 3, 4}


def test_variable_length_and_bad_episodes():
    rb = make_replay()
    rb.add_episode(*make_episode(0, length=3))
    b = rb.sample(300)
    relabelled_t = b["obs"]["desired_goal"][b["goal_relabelled"], 1]
    assert b["obs"]["achieved_goal"][:, 1].max() <= 2 and relabelled_t.max() == 3
    obs, actions = make_episode(1)
    with pytest.raises(ValueError, match="frames"):
        rb.add_episode({**obs, "proprio": obs["proprio"][:-1]}, actions)
    with pytest.raises(ValueError, match="actions"):
        rb.add_episode(obs, np.zeros((T + 1, 4), np.float32))


def test_episode_store_round_trip_and_torn_file(tmp_path):
    store = EpisodeStore(tmp_path, keep=100)
    for e in range(4):
        store.write(e, *make_episode(e))
    store.path(1).write_bytes(b"torn")              # a file cut short by a crash is skipped
    rb = make_replay()
    assert store.reload(rb, count=4) == 3
    assert set(np.unique(rb.sample(300)["obs"]["achieved_goal"][:, 0]).astype(int)) == {0, 2, 3}
    assert not list(tmp_path.glob("*.tmp*"))


def test_reload_puts_each_episode_back_in_its_slot_after_the_buffer_wrapped(tmp_path):
    """A resumed run samples the same transitions as the uninterrupted one: same slots, same draws."""
    store, original = EpisodeStore(tmp_path, keep=4), make_replay(capacity=4 * T)
    for e in range(7):                                  # 7 episodes through a 4-episode buffer
        obs, actions = make_episode(e)
        original.add_episode(obs, actions)
        store.write(e, obs, actions)
    reloaded = make_replay(capacity=4 * T)
    assert store.reload(reloaded, count=7) == 4
    assert (reloaded.added, reloaded.size) == (original.added, original.size)
    for k in original.keys:
        np.testing.assert_array_equal(reloaded.obs[k], original.obs[k])
    np.testing.assert_array_equal(reloaded.actions, original.actions)
    a, b = original.sample(64), reloaded.sample(64)
    np.testing.assert_array_equal(a["obs"]["achieved_goal"], b["obs"]["achieved_goal"])


def test_sample_copies_only_the_keys_asked_for_with_the_same_draws():
    """An update that reads no images samples vectors only; the draws (and relabelled goals) match a full sample."""
    full, part = make_replay(), make_replay()
    for rb in (full, part):
        for e in range(4):
            rb.add_episode(*make_episode(e))
    a = full.sample(200)
    b = part.sample(200, keys=("state", "desired_goal"), keys_next=("state", "desired_goal"))
    assert set(b["obs"]) == set(b["next_obs"]) == {"state", "desired_goal"}
    np.testing.assert_array_equal(a["obs"]["desired_goal"], b["obs"]["desired_goal"])
    np.testing.assert_array_equal(a["reward"], b["reward"])
    np.testing.assert_array_equal(a["next_obs"]["state"], b["next_obs"]["state"])
    c = part.sample(10, keys=("rgb", "desired_goal"), keys_next=())
    assert set(c["obs"]) == {"rgb", "desired_goal"} and set(c["next_obs"]) == {"desired_goal"}


def test_n_step_returns_sum_the_relabelled_goals_rewards_and_stop_at_the_episode_end():
    """n = 3: reward = r_t + g r_{t+1} + g^2 r_{t+2} for the (relabelled) goal, next obs = frame t + k,
    discount = gamma^k, with k cut short near the episode's end (shorter episodes included)."""
    rb = make_replay(her_k=4)
    lengths = [T, 3, T, 1]
    for e, L in enumerate(lengths):
        rb.add_episode(*make_episode(e, L))
    gamma, n = 0.9, 3
    b = rb.sample(5000, n_step=n, gamma=gamma)
    ep = b["obs"]["achieved_goal"][:, 0].astype(int)
    t = b["obs"]["achieved_goal"][:, 1].astype(int)
    t_next = b["next_obs"]["achieved_goal"][:, 1].astype(int)
    L = np.array(lengths)[ep]
    k = np.minimum(n, L - t)
    np.testing.assert_array_equal(t_next, t + k)
    np.testing.assert_allclose(b["discount"], gamma ** k, rtol=1e-6)
    g = b["obs"]["desired_goal"]
    expected = np.zeros(len(t))
    for i in range(n):
        # achieved goal of frame t+1+i is (ep, t+1+i, 0): success iff the goal is that point
        ach = np.stack([ep, np.minimum(t + 1 + i, L), np.zeros_like(t)], 1).astype(np.float32)
        expected += np.where(i < k, gamma ** i * reward_fn(ach, g), 0.0)
    np.testing.assert_allclose(b["reward"], expected, rtol=1e-6)
    assert (b["reward"] > -1).any() and (b["reward"] < -1).any()   # both successes and multi-step sums occur
    assert "discount" not in rb.sample(8)                          # 1-step without gamma: the learner's own
    with pytest.raises(ValueError, match="needs gamma"):
        rb.sample(8, n_step=3)
