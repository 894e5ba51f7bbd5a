"""Learner: the asymmetric split, updates, export -> load -> same actions, config strictness."""
import json

import numpy as np
import pytest
import torch
from gymnasium import spaces

from aac_policy.agent import Agent
from aac_policy.config import TrainConfig
from aac_policy.export import build_obs_spec, export_actor, load_actor
from aac_policy.replay import HerReplay
from aac_policy.spec import PRIVILEGED_KEYS, build_spec
from aac_policy.config import load_config
from aac_sim.config import ConfigError

S = 32


def obs_space():
    vec = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    return spaces.Dict({"rgb": spaces.Box(0, 255, (S, S, 3), np.uint8), "depth": spaces.Box(0, 65535, (S, S), np.uint16),
                        "proprio": vec(7), "desired_goal": vec(3), "state": vec(12), "achieved_goal": vec(3)})


LAYOUT = {"ee_pos": slice(0, 3), "object_pos": slice(3, 6)}
ACTION_SPACE = spaces.Box(-1, 1, (4,), np.float32)


def random_obs(n, rng, space=None):
    space = space or obs_space()
    out = {}
    for k, sp in space.spaces.items():
        if sp.dtype == np.uint8:
            out[k] = rng.integers(0, 256, (n, *sp.shape), dtype=np.uint8)
        elif sp.dtype == np.uint16:
            out[k] = rng.integers(300, 3000, (n, *sp.shape), dtype=np.uint16)
        else:
            out[k] = rng.normal(size=(n, *sp.shape)).astype(np.float32)
    return out


def small_cfg(**kw):
    return TrainConfig(hidden_dim=32, feature_dim=16, batch_size=16, **kw)


def filled_replay(spec, rng, episodes=4, T=5):
    rb = HerReplay(spec, obs_space(), 100, T, 4, lambda ag, g: -(np.linalg.norm(ag - g, axis=-1) > 0.5).astype(np.float32), seed=0)
    for _ in range(episodes):
        rb.add_episode(random_obs(T + 1, rng), rng.uniform(-1, 1, (T, 4)).astype(np.float32))
    return rb


class Guarded(dict):
    """An observation dict that fails the test if a privileged key is read."""

    def __getitem__(self, k):
        if k in PRIVILEGED_KEYS:
            raise AssertionError(f"actor read privileged key {k!r}")
        return super().__getitem__(k)


@pytest.mark.parametrize("wiring", ["asymmetric", "symmetric"])
def test_pixel_actor_never_sees_privileged_keys(wiring):
    spec = build_spec(obs_space(), ACTION_SPACE, wiring, aux=True, state_layout=LAYOUT)
    assert not set(spec.actor_keys) & set(PRIVILEGED_KEYS)
    assert spec.actor_keys == ("rgb", "depth", "proprio", "desired_goal")
    agent = Agent(spec, small_cfg(wiring=wiring))
    rng = np.random.default_rng(0)
    obs = random_obs(3, rng)
    a = agent.act(Guarded(obs))           # raises if the actor path touches state / achieved_goal
    # ... and privileged values cannot influence the action
    obs2 = {**obs, "state": obs["state"] * 100 + 7, "achieved_goal": obs["achieved_goal"] - 3}
    np.testing.assert_array_equal(a, agent.act(obs2))
    # the exported actor's declared inputs are actor keys only
    assert build_obs_spec(agent)["inputs"] == list(spec.actor_keys)


def test_asymmetric_critic_reads_state_and_state_wiring_actor_does():
    asym = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    assert asym.critic_vec_keys == ("state", "desired_goal") and not asym.critic_images
    assert asym.aux_slices == (("object_pos", 3, 6), ("ee_pos", 0, 3))
    sym = build_spec(obs_space(), ACTION_SPACE, "symmetric", aux=False)
    assert sym.critic_images and "state" not in sym.critic_vec_keys
    state = build_spec(obs_space(), ACTION_SPACE, "state", aux=True)
    assert state.actor_keys == ("state", "desired_goal") and state.image_keys == ()


@pytest.mark.parametrize("wiring,algo", [("asymmetric", "td3"), ("symmetric", "ddpg"), ("state", "td3")])
def test_updates_run_and_change_weights(wiring, algo):
    rng = np.random.default_rng(1)
    spec = build_spec(obs_space(), ACTION_SPACE, wiring, aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(wiring=wiring, algo=algo, actor_update_every=1))
    rb = filled_replay(spec, rng)
    agent.update_norms(rb.sample(64)["obs"])
    before = [p.detach().clone() for p in agent.actor.parameters()]
    for _ in range(3):
        m = agent.update(rb.sample(16))
    assert np.isfinite(list(m.values())).all()
    assert ("loss/aux" in m) == (wiring != "state")
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.actor.parameters()))
    assert len(agent.critic.qs) == (2 if algo == "td3" else 1)


class NoImages(dict):
    """A batch that fails the test if the update reads a frame."""

    def __getitem__(self, k):
        if k in ("rgb", "depth"):
            raise AssertionError(f"update read image key {k!r}")
        return super().__getitem__(k)


def test_state_teacher_critic_update_reads_no_pixels_and_trains_the_teacher():
    rng = np.random.default_rng(3)
    spec = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(state_teacher=True, actor_update_every=1))
    rb = filled_replay(spec, rng)
    agent.update_norms(rb.sample(64)["obs"])
    keys, keys_next = agent.update_sample_keys()
    assert not {"rgb", "depth"} & set(keys + keys_next)
    teacher0 = [p.detach().clone() for p in agent.teacher.parameters()]
    actor0 = [p.detach().clone() for p in agent.actor.parameters()]
    for _ in range(3):
        b = rb.sample(16, keys, keys_next)
        m = agent.update({**b, "obs": NoImages(b["obs"]), "next_obs": NoImages(b["next_obs"])})
    assert "loss/teacher" in m and np.isfinite(list(m.values())).all()
    assert any(not torch.equal(a, b) for a, b in zip(teacher0, agent.teacher.parameters()))
    # the critic update does not move the pixel actor: only distill() does
    assert all(torch.equal(a, b) for a, b in zip(actor0, agent.actor.parameters()))
    # the actor the trainer deploys and evaluates is still the pixel actor: no privileged key read
    agent.act(Guarded(random_obs(2, rng)))


def test_distill_pulls_the_pixel_actor_onto_the_teacher():
    torch.manual_seed(0)
    rng = np.random.default_rng(4)
    spec = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(state_teacher=True, actor_lr=3e-3, aux_weight=0.0))
    rb = filled_replay(spec, rng, episodes=2, T=3)
    agent.update_norms(rb.sample(64)["obs"])
    keys, keys_next = agent.distill_sample_keys()
    assert keys_next == () and "state" in keys and "rgb" in keys
    batch = rb.sample(16, keys, keys_next)
    losses = [agent.distill(batch)["loss/distill"] for _ in range(200)]
    assert losses[-1] < 0.1 * losses[0]
    teacher_a = agent.act_teacher(batch["obs"])
    np.testing.assert_allclose(agent.act({k: batch["obs"][k] for k in spec.actor_keys}), teacher_a, atol=0.15)


def test_state_teacher_needs_the_asymmetric_wiring():
    with pytest.raises(ConfigError, match="state_teacher needs wiring 'asymmetric'"):
        TrainConfig(wiring="symmetric", state_teacher=True)


def test_aux_loss_learns_privileged_positions_from_pixels():
    """The bottleneck task: with only the aux loss, the encoder learns to read a position off the image."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    spec = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(actor_lr=3e-3))

    def batch(n):
        o = random_obs(n, rng)
        o["rgb"][:] = 0
        o["depth"][:] = 1000
        pos = rng.integers(3, S - 3, (n, 2))
        for dy in range(-2, 3):          # a bright 5x5 blob where the "object" is
            for dx in range(-2, 3):
                o["rgb"][np.arange(n), pos[:, 0] + dy, pos[:, 1] + dx] = 255
        o["state"][:, 3:5] = pos / S
        o["state"][:, 0:2] = pos / S
        return o
    agent.update_norms(batch(512))
    losses = []
    for _ in range(150):
        o = batch(32)
        img = agent.images(o)
        _, feat = agent.actor.act(img, agent.vec(o, spec.actor_vec_keys))
        loss = torch.nn.functional.mse_loss(agent.actor.aux(feat)[:, [0, 1, 3, 4]], agent.aux_target(o)[:, [0, 1, 3, 4]])
        agent.actor_opt.zero_grad()
        loss.backward()
        agent.actor_opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:10])


@pytest.mark.parametrize("wiring", ["asymmetric", "state"])
def test_export_load_gives_same_actions_without_training_code(tmp_path, wiring):
    rng = np.random.default_rng(2)
    spec = build_spec(obs_space(), ACTION_SPACE, wiring, aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(wiring=wiring))
    agent.update_norms(random_obs(50, rng))      # non-trivial normalization must travel with the file
    import warnings
    with warnings.catch_warnings(record=True) as caught:   # torch.export: no TorchScript deprecation warnings
        warnings.simplefilter("always")
        path = export_actor(agent, tmp_path / "actor.pt", build_obs_spec(agent, task="push"))
        module, obs_spec = load_actor(path)
    assert not [w for w in caught if "deprecated" in str(w.message).lower()], [str(w.message) for w in caught]
    assert isinstance(module, torch.nn.Module) and not isinstance(module, torch.jit.ScriptModule)
    assert obs_spec["inputs"] == list(spec.actor_keys) and obs_spec["task"] == "push"
    obs = random_obs(5, rng)
    with torch.inference_mode():
        exported = module({k: torch.from_numpy(obs[k]) for k in spec.actor_keys}).numpy()
    np.testing.assert_allclose(exported, agent.act(obs), atol=1e-5)
    # loading in a fresh interpreter that never imports aac_policy
    import subprocess
    import sys
    code = ("import torch,json; e={'obs_spec.json':''}; m=torch.export.load(%r,extra_files=e).module(); "
            "import sys; assert 'aac_policy' not in sys.modules; print(json.loads(e['obs_spec.json'])['wiring'])"
            % str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == wiring


def test_actors_exported_as_torchscript_still_load(tmp_path):
    """Exports from before torch.export (TorchScript archives) load and act the same."""
    import json
    import warnings

    from aac_policy.export import SPEC_FILE, deploy_module
    rng = np.random.default_rng(3)
    spec = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(wiring="asymmetric"))
    agent.update_norms(random_obs(50, rng))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(deploy_module(agent)), str(tmp_path / "old.pt"),
                       _extra_files={SPEC_FILE: json.dumps(build_obs_spec(agent, task="push"))})
    module, obs_spec = load_actor(tmp_path / "old.pt")
    assert obs_spec["task"] == "push"
    obs = random_obs(4, rng)
    with torch.inference_mode():
        actions = module({k: torch.from_numpy(obs[k]) for k in spec.actor_keys}).numpy()
    np.testing.assert_allclose(actions, agent.act(obs), atol=1e-5)


def test_load_actor_rejects_garbage(tmp_path):
    bad = tmp_path / "actor.pt"
    bad.write_bytes(b"not a torchscript file")
    with pytest.raises(ValueError, match="not a loadable exported actor"):
        load_actor(bad)


def test_config_is_strict():
    with pytest.raises(ConfigError, match="batch_sise"):
        TrainConfig.from_dict({"batch_sise": 3})
    with pytest.raises(ConfigError, match="randomizaton"):
        TrainConfig.from_dict({"sim": {"randomizaton": {}}})
    with pytest.raises(ConfigError, match="wiring"):
        TrainConfig(wiring="asym")
    with pytest.raises(ConfigError, match="gamma"):
        TrainConfig(gamma=1.0)
    cfg = load_config(None, ["sim.task=reach", "wiring=state", "batch_size=64", "sim.randomization.lighting=false"])
    assert (cfg.sim.task, cfg.wiring, cfg.batch_size, cfg.sim.randomization.lighting) == ("reach", "state", 64, False)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(None, ["sim.taks=reach"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(None, ["batch_size=lots"])
    assert json.loads(json.dumps(cfg.to_dict()))["sim"]["task"] == "reach"


def test_color_jitter_changes_training_rgb_only():
    """color_jitter: per-sample RGB gains / offsets within the stated range, depth untouched, [0, 1] kept;
    not applied without augmentation (evaluation, acting) and refused out of range."""
    from aac_policy.networks import color_jitter, image_tensor
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.integers(0, 256, (8, 6, 6, 3), dtype=np.uint8))
    depth = torch.from_numpy(rng.integers(300, 1500, (8, 6, 6), dtype=np.uint16))
    clean = image_tensor(rgb, depth)
    jittered = color_jitter(image_tensor(rgb, depth), 0.3, np.random.default_rng(1))
    assert torch.equal(jittered[:, 3], clean[:, 3])                       # depth unchanged
    assert jittered.min() >= 0 and jittered.max() <= 1
    diff = (jittered[:, :3] - clean[:, :3]).abs().amax(dim=(2, 3))
    assert (diff > 0).all() and diff.max() <= 0.3 + 0.15 + 1e-6             # every sample and channel moved
    per_sample = (jittered[:, :3] - clean[:, :3]).mean(dim=(1, 2, 3))
    assert len(set(np.round(per_sample.numpy(), 4))) == 8                   # independently per sample
    spec = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(wiring="asymmetric", color_jitter=0.3))
    obs = random_obs(4, rng)
    keys = spec.image_keys
    plain = image_tensor(*(torch.from_numpy(obs[k]) if k in keys else None for k in ("rgb", "depth")))
    assert torch.equal(agent.images(obs), plain)                             # acting / eval: no jitter
    plain_agent = Agent(spec, small_cfg(wiring="asymmetric"))                # same seed: the same shifts
    shifted, jittered = plain_agent.images(obs, 2), agent.images(obs, 2)     # training batches
    assert torch.equal(shifted[:, 3], jittered[:, 3]) and not torch.equal(shifted[:, :3], jittered[:, :3])
    with pytest.raises(ConfigError, match="color_jitter"):
        small_cfg(color_jitter=1.0)


def test_random_conv_changes_the_rgb_of_the_chosen_training_samples_only():
    """randconv_prob: the chosen samples' RGB goes through their own random 3x3 convolution (clipped to
    [0, 1]), the others and depth are untouched; 0 changes nothing, 1 every sample; same seed, same draw;
    not applied when acting or evaluating; refused out of range."""
    from aac_policy.networks import image_tensor, random_conv
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8))
    depth = torch.from_numpy(rng.integers(300, 1500, (16, 8, 8), dtype=np.uint16))
    clean = image_tensor(rgb, depth)
    assert torch.equal(random_conv(image_tensor(rgb, depth), 0.0, np.random.default_rng(1)), clean)
    every = random_conv(image_tensor(rgb, depth), 1.0, np.random.default_rng(1))
    assert torch.equal(every[:, 3], clean[:, 3]) and every.min() >= 0 and every.max() <= 1
    assert ((every[:, :3] - clean[:, :3]).abs().amax(dim=(1, 2, 3)) > 0.05).all()   # every sample changed
    # each sample its own kernel: the same image in every slot comes out different
    same = image_tensor(rgb[:1].repeat(4, 1, 1, 1), depth[:1].repeat(4, 1, 1))
    out = random_conv(same.clone(), 1.0, np.random.default_rng(2))
    assert len({tuple(np.round(o.flatten()[:20].numpy(), 4)) for o in out[:, :3]}) == 4
    half = random_conv(image_tensor(rgb, depth), 0.5, np.random.default_rng(3))
    changed = (half[:, :3] != clean[:, :3]).flatten(1).any(dim=1)
    chosen = np.random.default_rng(3).random(16) < 0.5
    assert changed.numpy().tolist() == chosen.tolist()
    assert torch.equal(half, random_conv(image_tensor(rgb, depth), 0.5, np.random.default_rng(3)))
    spec = build_spec(obs_space(), ACTION_SPACE, "asymmetric", aux=True, state_layout=LAYOUT)
    agent = Agent(spec, small_cfg(wiring="asymmetric", randconv_prob=1.0))
    obs = random_obs(4, rng)
    keys = spec.image_keys
    plain = image_tensor(*(torch.from_numpy(obs[k]) if k in keys else None for k in ("rgb", "depth")))
    assert torch.equal(agent.images(obs), plain)                             # acting / eval: none
    plain_agent = Agent(spec, small_cfg(wiring="asymmetric"))                # same seed: the same shifts
    shifted, convolved = plain_agent.images(obs, 2), agent.images(obs, 2)    # training batches
    assert torch.equal(shifted[:, 3], convolved[:, 3]) and not torch.equal(shifted[:, :3], convolved[:, :3])
    with pytest.raises(ConfigError, match="randconv_prob"):
        small_cfg(randconv_prob=1.5)
