"""Each domain-randomization switch changes what it should and nothing else (same seed)."""
import dataclasses
import math

import numpy as np
import pytest

from aac_sim.camera import CameraExtrinsics, CameraIntrinsics, DEFAULT_EXTRINSICS_YAML, DEFAULT_INTRINSICS_YAML
from aac_sim.config import ConfigError, RandomizationConfig, SimConfig
from aac_sim.env import AacPandaEnv
from aac_sim.randomization import STREAMS, DomainRandomizer
from aac_sim.scene import NUM_TEXTURES, make_texture, texture_files

OFF = RandomizationConfig.off()
ACTIONS = np.random.default_rng(5).uniform(-1, 1, (6, 4))


def trace(switch):
    dr = OFF if switch is None else dataclasses.replace(OFF, **{switch: True})
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


def test_default_lighting_draws_as_before():
    """The configurable ranges reproduce the formerly hard-coded ones, draw for draw."""
    explicit = RandomizationConfig(light_elevation_deg=(25.0, 85.0), light_color_min=0.8, light_ambient=(0.3, 0.8),
                                   light_diffuse=(0.2, 0.7), light_specular=(0.0, 0.3))
    default = draws(RandomizationConfig())
    assert default == draws(explicit)
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


def test_textures_do_not_change_other_draws():
    dr_on = DomainRandomizer(dataclasses.replace(RandomizationConfig(), textures=True), np.random.SeedSequence(7))
    dr_off = DomainRandomizer(RandomizationConfig(), np.random.SeedSequence(7))
    z, a = np.full((84, 84), 0.8, np.float32), np.full(4, 0.3)
    for _ in range(4):
        on, off = dr_on.episode(EXTR, INTR, 0.04), dr_off.episode(EXTR, INTR, 0.04)
        assert off.textures is None and set(on.textures) == {"table", "floor"}
        assert all(0 <= i < NUM_TEXTURES for i in on.textures.values())
        assert dataclasses.replace(on, textures=None) == off
        np.testing.assert_array_equal(dr_on.depth(z.copy()), dr_off.depth(z.copy()))
        np.testing.assert_array_equal(dr_on.action(a), dr_off.action(a))


def test_texture_bank_is_deterministic(tmp_path, monkeypatch):
    bank = [make_texture(i) for i in range(NUM_TEXTURES)]
    assert all(np.array_equal(t, make_texture(i)) for i, t in enumerate(bank))
    assert len({t.tobytes() for t in bank}) == NUM_TEXTURES
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = texture_files()
    assert len(files) == NUM_TEXTURES and all(f.startswith(str(tmp_path)) for f in files)
    assert texture_files() == files   # written once, then reused


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
