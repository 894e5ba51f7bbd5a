"""Segmentation-guided re-texturing of the student's training images (TrainConfig.retexture_prob): the sim's
privileged surface classes, the augmentation itself, and the plumbing from env to replay to distill batch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aac_policy.agent import RETEXTURE_SURFACES, Agent, load_texture_bank
from aac_policy.config import load_config
from aac_policy.networks import image_tensor, retexture
from aac_policy.spec import PRIVILEGED_KEYS
from aac_policy.train import Trainer
from aac_sim.config import SEG_BLOCK, SEG_FLOOR, SEG_KEY, SEG_OTHER, SEG_TABLE, ConfigError, SimConfig
from aac_sim.env import AacPandaEnv


@pytest.mark.parametrize("camera_render", ["policy", "native"])
def test_surface_classes_label_the_policy_image_without_changing_it(camera_render):
    """With `segmentation` the observation adds "seg" (uint8, the policy image's size): table, floor, block and
    the rest (robot); the rgb and depth are exactly those of a run without it."""
    kw = dict(task="pick_place", image_size=48, camera_render=camera_render)
    plain, labelled = AacPandaEnv(config=SimConfig(**kw)), AacPandaEnv(config=SimConfig(segmentation=True, **kw))
    try:
        assert SEG_KEY not in plain.observation_space.spaces
        assert labelled.observation_space[SEG_KEY].shape == (48, 48)
        for seed in (0, 1):
            a, _ = plain.reset(seed=seed)
            b, _ = labelled.reset(seed=seed)
            assert SEG_KEY not in a
            np.testing.assert_array_equal(a["rgb"], b["rgb"])
            np.testing.assert_array_equal(a["depth"], b["depth"])
            seg = b[SEG_KEY]
            assert seg.dtype == np.uint8 and seg.shape == (48, 48)
            counts = np.bincount(seg.ravel(), minlength=4)
            assert set(np.unique(seg)) <= {SEG_OTHER, SEG_TABLE, SEG_FLOOR, SEG_BLOCK}
            assert counts[SEG_TABLE] > 0.5 * seg.size       # the camera looks down at the table
            assert 0 < counts[SEG_OTHER] < 0.5 * seg.size   # the arm
            assert counts[SEG_BLOCK] > 0                     # the block is in view at the start
            # the block's pixels are the ones nearest the camera around it: higher than the table in depth
            assert np.median(b["depth"][seg == SEG_BLOCK]) < np.median(b["depth"][seg == SEG_TABLE])
    finally:
        plain.close()
        labelled.close()


def _scene(b=6, s=24, seed=0):
    """Synthetic batch: a table (left half bright, right half dark: lighting), a block, an arm strip."""
    rng = np.random.default_rng(seed)
    seg = np.full((b, s, s), SEG_TABLE, np.uint8)
    seg[:, :4] = SEG_OTHER
    seg[:, 10:14, 10:14] = SEG_BLOCK
    seg[:, -2:] = SEG_FLOOR
    rgb = np.zeros((b, s, s, 3), np.uint8)
    rgb[:, :, : s // 2] = 200
    rgb[:, :, s // 2:] = 80
    rgb[:, :4] = rng.integers(0, 256, (b, 4, s, 3))
    depth = rng.integers(300, 1500, (b, s, s)).astype(np.uint16)
    return image_tensor(torch.from_numpy(rgb), torch.from_numpy(depth)), torch.from_numpy(seg)


def test_retexture_replaces_the_chosen_surfaces_keeps_the_rest_and_the_lighting():
    bank = torch.rand(10, 3, 16, 16)
    clean, seg = _scene()
    assert torch.equal(retexture(clean.clone(), seg, 0.0, bank, RETEXTURE_SURFACES, np.random.default_rng(1)), clean)
    out = retexture(clean.clone(), seg, 1.0, bank, RETEXTURE_SURFACES, np.random.default_rng(1))
    other = (seg == SEG_OTHER).unsqueeze(1).expand(-1, 3, -1, -1)
    assert torch.equal(out[:, :3][other], clean[:, :3][other])          # the arm is untouched
    assert torch.equal(out[:, 3], clean[:, 3])                          # depth is untouched
    assert out.min() >= 0 and out.max() <= 1
    for surface in (SEG_TABLE, SEG_BLOCK):
        m = (seg == surface).unsqueeze(1).expand(-1, 3, -1, -1)
        assert ((out[:, :3] - clean[:, :3]).abs()[m].reshape(6, -1).amax(1) > 0.05).all(), surface
    # the table is a flat colour per half here: the new texture keeps the bright half brighter (shading)
    lum = out[:, :3].mean(1)
    table = seg == SEG_TABLE
    bright = (lum * (table[:, :, :]) * (torch.arange(24) < 9)).sum((1, 2)) / (table * (torch.arange(24) < 9)).sum((1, 2))
    dark = (lum * table * (torch.arange(24) >= 15)).sum((1, 2)) / (table * (torch.arange(24) >= 15)).sum((1, 2))
    assert (bright > dark).float().mean() >= 5 / 6
    # each sample its own draw; the same seed, the same result; prob picks which samples change
    assert not torch.equal(out[0], out[1])
    assert torch.equal(out, retexture(clean.clone(), seg, 1.0, bank, RETEXTURE_SURFACES, np.random.default_rng(1)))
    half = retexture(clean.clone(), seg, 0.5, bank, RETEXTURE_SURFACES, np.random.default_rng(3))
    changed = (half[:, :3] != clean[:, :3]).flatten(1).any(1)
    assert changed.numpy().tolist() == (np.random.default_rng(3).random(6) < 0.5).tolist()


def test_the_retexture_bank_is_the_training_banks_only():
    bank = load_texture_bank(("train",))
    assert bank.shape == (64, 3, 64, 64) and bank.dtype == torch.float32 and 0 <= bank.min() and bank.max() <= 1
    assert load_texture_bank(("train", "train_large")).shape[0] == 512   # train_large holds train: kept once
    sets = ["wiring=asymmetric", "retexture_prob=0.5"]
    with pytest.raises(ConfigError, match="heldout"):
        load_config(None, sets + ["retexture_banks=[train, heldout]"])
    with pytest.raises(ConfigError, match="retexture_banks"):
        load_config(None, sets + ["retexture_banks=[wallpaper]"])
    with pytest.raises(ConfigError, match="retexture_prob"):
        load_config(None, ["retexture_prob=1.5"])
    with pytest.raises(ConfigError, match="pixel wiring"):
        load_config(None, ["wiring=state", "retexture_prob=0.5"])
    assert load_config(None, sets + ["retexture_banks=[train_contrast]"]).retexture_banks == ("train_contrast",)


def test_a_student_stores_the_surface_classes_and_trains_on_retextured_images_it_never_acts_on(tmp_path):
    cfg = load_config(None, ["sim.task=pick", "sim.image_size=48", "wiring=asymmetric", "state_teacher=true",
                             "num_envs=1", "random_steps=0", "batch_size=16", "hidden_dim=32", "feature_dim=16",
                             "torch_threads=1", "total_env_steps=100", "retexture_prob=1.0", "save_replay=false",
                             "bf16=false"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    agent = trainer.agent
    assert SEG_KEY in PRIVILEGED_KEYS and SEG_KEY not in agent.spec.actor_keys
    assert SEG_KEY in trainer.replay.keys
    envs = trainer.make_env()
    trainer.collect(envs, 0)
    envs.close()
    stored = trainer.replay.obs[SEG_KEY][0, :trainer.replay.lengths[0] + 1]
    assert (stored == SEG_TABLE).mean() > 0.5
    batch = trainer.replay.sample(8, *agent.distill_sample_keys())
    assert SEG_KEY in batch["obs"]
    plain = Agent(agent.spec, cfg.replace(retexture_prob=0.0))   # same seed: the same shifts
    shifted, retextured = plain.images(batch["obs"], 2), agent.images(batch["obs"], 2)
    assert torch.equal(shifted[:, 3], retextured[:, 3]) and not torch.equal(shifted[:, :3], retextured[:, :3])
    assert torch.equal(agent.images(batch["obs"]), plain.images(batch["obs"]))   # acting / eval: never
    assert np.isfinite(agent.distill(batch)["loss/distill"])


def test_training_envs_that_do_not_send_the_surface_classes_are_refused(tmp_path):
    """Training envs whose observation space lacks `seg` (a `make_env` whose envs do not segment; sims over ROS
    get the trainer's own sim config, which does) are refused before a retexture run trains; without the
    augmentation nothing extra is asked of them."""
    from aac_sim.config import SimConfig
    from aac_sim.env import observation_space

    class EnvsWithoutSeg:
        single_observation_space = observation_space(SimConfig(task="pick", image_size=48))
        closed = False

        def close(self):
            self.closed = True

    sets = ["sim.task=pick", "sim.image_size=48", "wiring=asymmetric", "state_teacher=true", "num_envs=1",
            "hidden_dim=32", "feature_dim=16", "torch_threads=1", "total_env_steps=100", "save_replay=false",
            "bf16=false"]
    envs = EnvsWithoutSeg()
    trainer = Trainer(load_config(None, sets + ["retexture_prob=0.5"]), tmp_path / "a", make_env=lambda: envs,
                      progress=False)
    with pytest.raises(ConfigError, match=SEG_KEY):
        trainer.run()
    assert envs.closed
    plain = Trainer(load_config(None, sets), tmp_path / "b", make_env=lambda: envs, progress=False)
    assert plain.replay.extra_keys == ()


def test_the_staged_student_retextures_by_default_and_the_teacher_never(tmp_path):
    """The main job's student trains with student.retexture_prob (0.5: bench/README.md, 2026-12-07 d); the
    top-level knob is for single runs and is refused in the staged pipeline rather than silently unused."""
    from aac_policy.staged import student_config, teacher_config

    cfg = load_config("main", [])
    assert cfg.pipeline == "staged" and cfg.retexture_prob == 0.0
    student = student_config(cfg, tmp_path, 60.0)
    assert student.retexture_prob == 0.5 and student.pixels
    assert teacher_config(cfg).retexture_prob == 0.0
    assert student_config(load_config("main", ["student.retexture_prob=0"]), tmp_path, 60.0).retexture_prob == 0.0
    with pytest.raises(ConfigError, match="student.retexture_prob"):
        load_config("main", ["retexture_prob=0.5"])
    with pytest.raises(ConfigError, match="retexture_prob"):
        load_config("main", ["student.retexture_prob=2"])
    with pytest.raises(ConfigError, match="set student.retexture_prob=0"):   # before the teacher trains
        load_config("main", ["env_id=CartPole-v1"])
