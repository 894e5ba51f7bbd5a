"""Each domain-randomization switch changes what it should and nothing else (same seed)."""
import dataclasses
import math

import numpy as np
import pybullet as p
import pytest

from aac_robot.camera import CameraExtrinsics, CameraIntrinsics, DEFAULT_EXTRINSICS_YAML, DEFAULT_INTRINSICS_YAML
from aac_sim.config import ConfigError, RandomizationConfig, SimConfig
from aac_sim.env import AacPandaEnv
from aac_sim.randomization import STREAMS, DomainRandomizer
from aac_sim.scene import NOMINAL_COLORS
from aac_sim.scene import NUM_TEXTURES, TEXTURE_BANKS, make_texture, texture_contrast, texture_file, texture_files

OFF = RandomizationConfig.off()
ACTIONS = np.random.default_rng(5).uniform(-1, 1, (6, 4))


def trace(switch, **extra):
    dr = OFF if switch is None else dataclasses.replace(OFF, **{switch: True}, **extra)
    env = AacPandaEnv(task="push", randomization=dataclasses.asdict(dr))
    obs, _ = env.reset(seed=12)   # a draw whose block is not hidden under the hand at reset
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
    "textures": {"rgb"},
}
# keys a switch may change without having to (the arm may or may not touch the block in 6 steps)
MAY_ALSO = {"action": {"achieved_goal"}}


@pytest.mark.parametrize("switch", list(EXPECTED))
def test_switch_changes_only_its_part(baseline, switch):
    run = trace(switch)
    changed = {k for k in baseline[0] if differs(baseline, run, k)}
    assert EXPECTED[switch] <= changed <= EXPECTED[switch] | MAY_ALSO.get(switch, set())


def test_heldout_textures_change_only_rgb(baseline):
    run = trace("textures", texture_bank="heldout")
    assert {k for k in baseline[0] if differs(baseline, run, k)} == {"rgb"}


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


# ---------------------------------------------------------------- lighting ranges, textures
EXTR = CameraExtrinsics.from_yaml(DEFAULT_EXTRINSICS_YAML)
INTR = CameraIntrinsics.from_yaml(DEFAULT_INTRINSICS_YAML)
OLD_STREAMS = ("colors", "lighting", "camera", "depth_noise", "object_physics", "action")
TABLE_ROWS = slice(60, None)   # bottom rows of the 84x84 image: only table (and the block) there


def draws(cfg, seed=3, n=4):
    dr = DomainRandomizer(cfg, np.random.SeedSequence([seed, 0xAAC]))
    return [dr.episode(EXTR, INTR, 0.04) for _ in range(n)]


def test_streams_of_existing_switches_are_unchanged():
    """New streams are appended: the earlier ones are the same SeedSequence children as before."""
    assert STREAMS[:len(OLD_STREAMS)] == OLD_STREAMS
    dr = DomainRandomizer(RandomizationConfig(), np.random.SeedSequence([3, 0xAAC]))
    old = np.random.SeedSequence([3, 0xAAC]).spawn(len(OLD_STREAMS))
    for name, child in zip(OLD_STREAMS, old):
        assert dr.rng[name].random(4).tolist() == np.random.Generator(np.random.PCG64(child)).random(4).tolist()


def test_lighting_ranges_reproduce_the_hard_coded_draws():
    """The configurable ranges, set to the formerly hard-coded ones, reproduce them draw for draw."""
    explicit = RandomizationConfig(light_elevation_deg=(25.0, 85.0), light_color_min=0.8, light_ambient=(0.3, 0.8),
                                   light_diffuse=(0.2, 0.7), light_specular=(0.0, 0.3))
    default = draws(explicit)
    # the pre-config code, verbatim, on the lighting stream
    r = np.random.Generator(np.random.PCG64(np.random.SeedSequence([3, 0xAAC]).spawn(len(OLD_STREAMS))[1]))
    for ep in default:
        azimuth, elevation = r.uniform(-math.pi, math.pi), r.uniform(math.radians(25), math.radians(85))
        direction = (2.0 * math.cos(elevation) * math.cos(azimuth), 2.0 * math.cos(elevation) * math.sin(azimuth),
                     2.0 * math.sin(elevation))
        color = tuple(r.uniform(0.8, 1.0, size=3).tolist())
        ambient, diffuse, specular = float(r.uniform(0.3, 0.8)), float(r.uniform(0.2, 0.7)), float(r.uniform(0.0, 0.3))
        assert (ep.lighting.direction, ep.lighting.color) == (direction, color)
        assert (ep.lighting.ambient, ep.lighting.diffuse, ep.lighting.specular) == (ambient, diffuse, specular)


def test_lighting_range_changes_only_lighting():
    base = draws(RandomizationConfig())
    dim = draws(RandomizationConfig(light_ambient=(0.05, 0.15), light_elevation_deg=(5.0, 15.0)))
    for a, b in zip(base, dim):
        assert dataclasses.replace(a, lighting=None) == dataclasses.replace(b, lighting=None)
        assert 0.05 <= b.lighting.ambient <= 0.15 and a.lighting.ambient > 0.15
        assert math.degrees(math.asin(b.lighting.direction[2] / 2.0)) < 15.0 + 1e-9
        # the same draws are consumed in the same order: untouched ranges give the same values
        assert (a.lighting.color, a.lighting.diffuse, a.lighting.specular) == \
               (b.lighting.color, b.lighting.diffuse, b.lighting.specular)


@pytest.mark.parametrize("key,value", [
    ("light_elevation_deg", [-5.0, 40.0]), ("light_elevation_deg", [30.0, 95.0]),
    ("light_elevation_deg", [60.0, 30.0]), ("light_color_min", 1.5), ("light_color_min", -0.1),
    ("light_ambient", [0.5, 1.2]), ("light_diffuse", [-0.1, 0.5]), ("light_specular", [0.4, 0.2]),
])
def test_out_of_range_lighting_is_rejected(key, value):
    with pytest.raises(ConfigError, match=f"randomization.{key}"):
        SimConfig.from_dict({"randomization": {key: value}})


def test_held_out_lighting_loads():
    cfg = SimConfig.from_dict({"randomization": {"light_elevation_deg": [0.0, 20.0], "light_color_min": 0.0,
                                                 "light_ambient": [0.0, 0.25], "light_specular": [0.5, 1.0]}})
    for ep in draws(cfg.randomization):
        assert ep.lighting.ambient <= 0.25 and ep.lighting.specular >= 0.5


@pytest.mark.parametrize("bank", ["train", "heldout"])
def test_textures_do_not_change_other_draws(bank):
    dr_on = DomainRandomizer(dataclasses.replace(RandomizationConfig(), textures=True, texture_bank=bank),
                             np.random.SeedSequence(7))
    dr_off = DomainRandomizer(RandomizationConfig(), np.random.SeedSequence(7))
    z, a = np.full((84, 84), 0.8, np.float32), np.full(4, 0.3)
    for _ in range(4):
        on, off = dr_on.episode(EXTR, INTR, 0.04), dr_off.episode(EXTR, INTR, 0.04)
        assert off.textures is None and list(on.textures) == ["bank", "table", "floor", "object"]
        assert on.textures["bank"] == bank
        assert all(0 <= on.textures[k] < TEXTURE_BANKS[bank] for k in ("table", "floor", "object"))
        assert dataclasses.replace(on, textures=None) == off
        np.testing.assert_array_equal(dr_on.depth(z.copy()), dr_off.depth(z.copy()))
        np.testing.assert_array_equal(dr_on.action(a), dr_off.action(a))


def test_default_texture_bank_is_train():
    assert RandomizationConfig().texture_bank == "train" and not RandomizationConfig().textures
    assert NUM_TEXTURES == TEXTURE_BANKS["heldout"] == 8 and TEXTURE_BANKS["train"] >= 48


def test_heldout_table_and_floor_draws_are_as_before():
    """An episode reset with a seed (as in the evaluation) draws the held-out table and floor textures the
    code drew before the block had one (the block's index is drawn after them)."""
    for seed in range(5):
        ep, = draws(dataclasses.replace(RandomizationConfig(), textures=True, texture_bank="heldout"), seed, n=1)
        r = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0xAAC]).spawn(len(STREAMS))[6]))
        assert STREAMS[6] == "textures"
        assert (ep.textures["table"], ep.textures["floor"]) == (int(r.integers(8)), int(r.integers(8)))


@pytest.mark.parametrize("bank", ["train", "heldout", "train_contrast"])
def test_texture_bank_is_deterministic(bank, tmp_path, monkeypatch):
    n = TEXTURE_BANKS[bank]
    textures = [make_texture(i, bank) for i in range(n)]
    assert all(t.shape == (256, 256, 3) and t.dtype == np.uint8 for t in textures)
    assert all(np.array_equal(t, make_texture(i, bank)) for i, t in enumerate(textures))
    assert len({t.tobytes() for t in textures}) == n
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = texture_files(bank)
    assert len(files) == n and all(f.startswith(str(tmp_path)) for f in files)
    assert texture_files(bank) == files   # written once, then reused
    other = texture_files("heldout" if bank == "train" else "train")
    assert not set(files) & set(other)


def _pattern(img):
    """Colour-independent structure of a texture: its pixels projected on their first principal colour
    axis, standardized. A recoloured copy (any affine map of the colours) has |correlation| 1 with it."""
    x = img.reshape(-1, 3).astype(np.float64)
    x -= x.mean(0)
    z = x @ np.linalg.svd(x, full_matrices=False)[2][0]
    return z / max(z.std(), 1e-9)


def _histogram(img, bins=8):
    h, _ = np.histogramdd(img.reshape(-1, 3) // (256 // bins), bins=(bins,) * 3, range=((0, bins),) * 3)
    return h.ravel() / h.sum()


def _features(img):
    return img.astype(np.int16), _histogram(img), _pattern(img)


def _similarity(a, b):
    """(mean absolute pixel difference, total-variation distance of the colour histograms,
    |correlation| of the colour-independent patterns) of two images or of their _features"""
    (pa, ha, za), (pb, hb, zb) = (x if isinstance(x, tuple) else _features(x) for x in (a, b))
    return np.abs(pa - pb).mean(), 0.5 * np.abs(ha - hb).sum(), abs((za * zb).mean())


# A pair is "the same texture" if the pixels are close (a copy), or the colour histograms are close (a
# copy moved, flipped or rotated), or the patterns correlate (a recoloured copy, even an inverted one).
# Closest train_large/held-out pairs today: 15.6 pixel difference, 0.34 histogram distance, 0.22 correlation;
# a copy gives 0 / 0 / 1.
MIN_PIXEL_DIFF, MIN_HIST_DIST, MAX_PATTERN_CORR = 8.0, 0.2, 0.5


def test_train_large_extends_train():
    """`train_large` is `train` and more: its first textures are train's, pixel for pixel and file for file."""
    n = TEXTURE_BANKS["train"]
    assert TEXTURE_BANKS["train_large"] >= 4 * n
    assert all(np.array_equal(make_texture(i, "train"), make_texture(i, "train_large")) for i in (0, 7, n - 1))
    assert texture_file("train", 5) == texture_file("train_large", 5)
    with pytest.raises(ValueError, match="train texture index"):
        make_texture(n, "train")
    with pytest.raises(ValueError, match="unknown texture bank 'wood'"):
        texture_file("wood", 0)


def test_train_contrast_bank_covers_the_heldout_contrast():
    """`train_contrast` exists because `train` rarely reaches the brightness contrast of the held-out
    textures a student fails on; it must, for every held-out texture, hold many brighter-contrast ones."""
    heldout = [texture_contrast(make_texture(i, "heldout")) for i in range(TEXTURE_BANKS["heldout"])]
    n = TEXTURE_BANKS["train_contrast"]
    wide = np.array([texture_contrast(make_texture(i, "train_contrast")) for i in range(n)])
    train = np.array([texture_contrast(make_texture(i, "train")) for i in range(TEXTURE_BANKS["train"])])
    assert max(heldout) > np.quantile(train, 0.9) * 1.5   # the gap the bank closes
    assert (wide >= max(heldout)).mean() >= 0.05 and (wide >= np.sort(heldout)[-2]).mean() >= 0.1
    assert (train >= np.sort(heldout)[-2]).mean() < 0.05
    assert np.quantile(wide, 0.5) > np.quantile(train, 0.5)   # shifted, not only a longer tail
    assert not np.array_equal(make_texture(3, "train_contrast"), make_texture(3, "train"))
    assert texture_file("train_contrast", 3) != texture_file("train", 3)


@pytest.mark.parametrize("bank", ["train_large", "train_contrast"])
def test_train_and_heldout_banks_do_not_overlap(bank):
    """Every training texture (train_large holds all of train's) against every held-out one."""
    heldout = [make_texture(i, "heldout") for i in range(TEXTURE_BANKS["heldout"])]
    train = [make_texture(i, bank) for i in range(TEXTURE_BANKS[bank])]
    # the measure catches copies and recolours of every held-out texture ...
    for h in heldout:
        recoloured = 255 - h[..., ::-1]
        assert _similarity(h, h.copy())[0] == 0
        assert _similarity(np.flip(h, 0).copy(), h)[1] < MIN_HIST_DIST
        assert _similarity(recoloured, h)[2] > 0.99
        assert _similarity(np.clip(h * 0.6 + 40, 0, 255).astype(np.uint8), h)[2] > 0.99
    # ... and no training texture is one
    heldout_bytes = {h.tobytes() for h in heldout}
    heldout = [_features(h) for h in heldout]
    for i, t in enumerate(train):
        assert t.tobytes() not in heldout_bytes, f"train texture {i} is a held-out one"
        t = _features(t)
        for j, h in enumerate(heldout):
            pixel, hist, corr = _similarity(t, h)
            assert pixel > MIN_PIXEL_DIFF and hist > MIN_HIST_DIST and corr < MAX_PATTERN_CORR, \
                f"train texture {i} is near held-out texture {j}: {pixel:.1f} {hist:.2f} {corr:.2f}"


@pytest.mark.parametrize("bank", ["train", "heldout", "train_large", "train_contrast"])
def test_texture_bank_draws_only_its_own_textures(bank):
    cfg = dataclasses.replace(OFF, textures=True, texture_bank=bank)
    eps = draws(cfg, seed=1, n=60)
    indices = [ep.textures[k] for ep in eps for k in ("table", "floor", "object")]
    assert {ep.textures["bank"] for ep in eps} == {bank}
    assert 0 <= min(indices) and max(indices) < TEXTURE_BANKS[bank]
    assert max(indices) >= (TEXTURE_BANKS["heldout"] if bank == "train" else TEXTURE_BANKS["heldout"] - 1)
    env = AacPandaEnv(task="push", randomization=dataclasses.asdict(cfg))
    env.reset(seed=0)
    loaded = {b for b, _ in env._texture_ids}
    assert loaded == {bank}   # only that bank is loaded into the renderer, and only what was drawn
    assert len(env._texture_ids) <= 3   # table, floor and block: not the whole bank
    env.close()


@pytest.mark.parametrize("value", ["test", "Train", ""])
def test_unknown_texture_bank_is_rejected(value):
    with pytest.raises(ConfigError, match=r"randomization\.texture_bank.*'train', 'heldout'"):
        SimConfig.from_dict({"randomization": {"textures": True, "texture_bank": value}})
    with pytest.raises(ValueError, match="texture bank"):
        make_texture(0, value)


def test_textures_show_on_the_table():
    """Same seed: only the image changes, the table shows a pattern instead of one colour."""
    runs = {}
    for tex in (False, True, True):
        env = AacPandaEnv(task="push", randomization=dataclasses.asdict(dataclasses.replace(OFF, textures=tex)))
        obs, _ = env.reset(seed=11)
        runs.setdefault(tex, []).append((obs, env.episode))
        if tex:   # the choice is redrawn per seed, and the same again for the same seed
            chosen = set()
            for s in range(6):
                env.reset(seed=s)
                chosen.add(tuple(sorted(env.episode.textures.items())))
            assert len(chosen) > 1
            env.reset(seed=11)
            assert env.episode == runs[tex][0][1]
        env.close()
    (plain, ep_plain), = runs[False]
    (tex, ep_tex), (tex2, ep_tex2) = runs[True]
    assert ep_plain.textures is None and ep_tex.textures is not None and ep_tex == ep_tex2
    for k in plain:
        np.testing.assert_array_equal(tex[k], tex2[k])   # reproducible for a seed
        if k != "rgb":
            np.testing.assert_array_equal(tex[k], plain[k])
    table_plain, table_tex = plain["rgb"][TABLE_ROWS].reshape(-1, 3), tex["rgb"][TABLE_ROWS].reshape(-1, 3)
    assert len(np.unique(table_plain, axis=0)) == 1 < len(np.unique(table_tex, axis=0))
    assert (table_plain != table_tex).any(-1).mean() > 0.9


def _block_pixels(env, obs):
    """The policy image's pixels of the block (segmentation of the same view, lights and state)."""
    i = env.episode.intrinsics
    seg = p.getCameraImage(i.width, i.height, env._view, env._proj, renderer=p.ER_TINY_RENDERER,
                           physicsClientId=env.client, **env._light)[4]
    mask = np.asarray(seg).reshape(i.height, i.width) == env.block
    return obs["rgb"][mask]


def _untinted_block_pixels(env, obs):
    """The block's pixels with its texture shown untinted (base colour white), same view and lights."""
    p.changeVisualShape(env.block, -1, rgbaColor=(1, 1, 1, 1), physicsClientId=env.client)
    rgb, _ = env._render(env.episode.intrinsics)
    return _block_pixels(env, {**obs, "rgb": rgb})


@pytest.mark.parametrize("bank", ["train", "heldout"])
def test_textures_show_on_the_block(bank):
    """Same seeds: the block shows a pattern (many colours) instead of one flat colour per face, tinted by
    the episode's object colour (TinyRenderer multiplies): a random one when colours are randomized, the
    nominal one when not (an untinted block, brighter than any in training, took a student from 73 % to 30 %)."""
    def make(**changes):
        return AacPandaEnv(task="push", randomization=dataclasses.asdict(dataclasses.replace(OFF, **changes)))
    plain_env, tex_env = make(), make(textures=True, texture_bank=bank)
    tinted_env = make(textures=True, texture_bank=bank, colors=True)
    for seed in (10, 11, 12):
        (plain, tex, tinted) = [_block_pixels(e, e.reset(seed=seed)[0]) for e in (plain_env, tex_env, tinted_env)]
        assert len(plain) == len(tex) == len(tinted) > 30   # the block is in view
        assert len(np.unique(plain, axis=0)) <= 3 < len(np.unique(tex, axis=0))   # flat faces vs a pattern
        assert (plain != tex).any(-1).mean() > 0.9
        assert tinted_env.episode.textures == tex_env.episode.textures
        for env, pixels in ((tex_env, tex), (tinted_env, tinted)):
            tint = np.array(env.episode.colors["object"][:3])
            raw = _untinted_block_pixels(env, env._observe_robot())
            np.testing.assert_allclose(pixels, raw * tint, atol=3)
        assert np.allclose(tex_env.episode.colors["object"], NOMINAL_COLORS["object"])
    plain_env.close(), tex_env.close(), tinted_env.close()


def test_texture_prob_textures_a_share_of_the_episodes_and_changes_nothing_else():
    """textures with texture_prob 0.5: about half the episodes textured, the rest flat colours; no other
    stream changes (the share is drawn from the textures stream)."""
    full = DomainRandomizer(dataclasses.replace(RandomizationConfig(), textures=True), np.random.SeedSequence(3))
    half = DomainRandomizer(dataclasses.replace(RandomizationConfig(), textures=True, texture_prob=0.5),
                            np.random.SeedSequence(3))
    env = AacPandaEnv(task="push", render_images=False)
    extr, intr = env.camera_extrinsics, env.policy_intrinsics
    env.close()
    textured = 0
    for _ in range(200):
        a, b = full.episode(extr, intr, 0.04), half.episode(extr, intr, 0.04)
        assert dataclasses.replace(a, textures=None) == dataclasses.replace(b, textures=None)
        if b.textures is not None:
            textured += 1
            assert set(b.textures) == set(a.textures) and b.textures["bank"] == "train"
    assert 70 <= textured <= 130, textured
    with pytest.raises(ConfigError, match="texture_prob"):
        RandomizationConfig(texture_prob=1.5)


def test_the_held_out_sweep_stays_outside_the_training_ranges():
    """aac_policy.evaluate's held-out conditions are never inside what training randomizes."""
    from aac_policy.evaluate import SWEEP
    train = RandomizationConfig()
    light = SWEEP["lighting_heldout"][1]
    assert light["light_ambient"][1] <= train.light_ambient[0]
    assert light["light_diffuse"][0] >= train.light_diffuse[1]
    assert light["light_color_min"] < train.light_color_min
    cam = SWEEP["camera_shift"][1]
    assert cam["camera_pos_jitter_m"] > train.camera_pos_jitter_m and cam["camera_rot_jitter_deg"] > train.camera_rot_jitter_deg
    assert f"training: {train.camera_pos_jitter_m * 100:.0f} cm / {train.camera_rot_jitter_deg:.0f} deg" in SWEEP["camera_shift"][0]
    assert SWEEP["textures_heldout"][1]["texture_bank"] == "heldout" and train.texture_bank == "train"


def test_texture_mix_draws_a_share_from_the_second_bank_and_changes_nothing_else():
    """texture_mix_bank / texture_mix_prob: about that share of the textured episodes shows the second
    bank (indices within it); no other stream changes; off (prob 0) the draws are exactly as without it;
    the held-out condition turns the mix off."""
    from aac_policy.evaluate import SWEEP
    base = dataclasses.replace(RandomizationConfig(), textures=True)
    mixed = dataclasses.replace(base, texture_mix_bank="train_contrast", texture_mix_prob=0.3)
    off = dataclasses.replace(base, texture_mix_bank="train_contrast", texture_mix_prob=0.0)
    a, b, c = (DomainRandomizer(cfg, np.random.SeedSequence(5)) for cfg in (base, mixed, off))
    banks = []
    for _ in range(300):
        ea, eb, ec = (d.episode(EXTR, INTR, 0.04) for d in (a, b, c))
        assert ec == ea
        assert dataclasses.replace(eb, textures=None) == dataclasses.replace(ea, textures=None)
        banks.append(eb.textures["bank"])
        assert all(0 <= eb.textures[k] < TEXTURE_BANKS[eb.textures["bank"]] for k in ("table", "floor", "object"))
    assert set(banks) == {"train", "train_contrast"} and 60 <= banks.count("train_contrast") <= 120
    assert any(eb.textures["table"] >= TEXTURE_BANKS["train"] for eb in draws(mixed, seed=2, n=80)
               if eb.textures["bank"] == "train_contrast")
    held = dataclasses.replace(mixed, **SWEEP["textures_heldout"][1])
    assert {ep.textures["bank"] for ep in draws(held, seed=1, n=30)} == {"heldout"}
    for bad in ({"texture_mix_prob": 1.5, "texture_mix_bank": "train_contrast"},
                {"texture_mix_prob": 0.5, "texture_mix_bank": ""}, {"texture_mix_prob": 0.5, "texture_mix_bank": "x"}):
        with pytest.raises(ConfigError, match="texture_mix"):
            RandomizationConfig(**bad)
