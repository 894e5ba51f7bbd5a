"""Domain randomization with one independent, seeded random stream per switch.

Each switch draws from its own `numpy.random.Generator` spawned from the episode seed, so
turning a switch on or off never changes what the task or any other switch draws: a test can
check that each switch changes what it should and nothing else.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from aac_robot.camera import CameraExtrinsics, CameraIntrinsics
from .config import RandomizationConfig
from .scene import NOMINAL_COLORS, TEXTURE_BANKS

BANK_FRAMES = 32
OBJECT_SIZE_LEVELS = 6
# Append new streams at the END: SeedSequence.spawn children are indexed, so the earlier
# streams (and everything they draw) stay identical.
STREAMS = ("colors", "lighting", "camera", "depth_noise", "object_physics", "action", "textures", "camera_timing")


@dataclass(frozen=True)
class Lighting:
    # PyBullet's lightDirection is the light's position; it shines towards the origin.
    direction: tuple[float, float, float] = (0.6, 0.4, 1.5)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.6
    diffuse: float = 0.35
    specular: float = 0.05

    def pybullet_kwargs(self) -> dict:
        # Always pass every light parameter AND shadow=0: TinyRenderer keeps some of them
        # between calls (a shadow flag once set halves the frame rate and stays set).
        return dict(lightDirection=list(self.direction), lightColor=list(self.color), lightDistance=2.0,
                    lightAmbientCoeff=self.ambient, lightDiffuseCoeff=self.diffuse,
                    lightSpecularCoeff=self.specular, shadow=0)


@dataclass(frozen=True)
class EpisodeParams:
    """Everything randomized once per episode."""
    colors: dict = field(default_factory=lambda: dict(NOMINAL_COLORS))
    lighting: Lighting = Lighting()
    extrinsics: CameraExtrinsics | None = None
    intrinsics: CameraIntrinsics | None = None
    object_size: float = 0.04
    object_mass: float = 0.1
    object_friction: float = 1.0
    action_latency_s: float = 0.0  # a new command reaches the arm this long after the control tick
    # {"bank": name, "table": i, "floor": j, "object": k}: indices into scene.TEXTURE_BANKS[name] (the block's
    # texture is tinted by its colour when `colors` is on); None = plain colours
    textures: dict | None = None
    # camera clock: frames captured at camera_phase_s + k * camera_period_s (s since reset), each usable
    # by the policy observation_latency_s after capture; period 0 = a frame exactly at every control tick
    camera_period_s: float = 0.0
    camera_phase_s: float = 0.0
    observation_latency_s: float = 0.0

    def observation_age(self, t: float, max_age: float) -> float:
        """Age (s) at control time `t` of the newest frame the policy can have: captured at least
        `observation_latency_s` earlier, on the camera's clock. Capped at `max_age` (one control step:
        older frames would be from before the step and are not simulated)."""
        if self.camera_period_s <= 0.0:
            return 0.0
        usable = t - self.observation_latency_s - self.camera_phase_s
        k = math.floor(usable / self.camera_period_s)
        age = t - (self.camera_phase_s + k * self.camera_period_s)
        return min(max(age, 0.0), max_age)


def _random_color(rng, lo=0.05, hi=0.95):
    return (*rng.uniform(lo, hi, size=3).tolist(), 1.0)


class DomainRandomizer:
    def __init__(self, cfg: RandomizationConfig, seed: int | np.random.SeedSequence | None):
        self.cfg = cfg
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._bank = None
        self.rng = {name: np.random.Generator(np.random.PCG64(child))
                    for name, child in zip(STREAMS, ss.spawn(len(STREAMS)))}

    def episode(self, extrinsics: CameraExtrinsics, intrinsics: CameraIntrinsics,
                nominal_object_size: float) -> EpisodeParams:
        cfg, rng = self.cfg, self.rng
        colors = dict(NOMINAL_COLORS)
        if cfg.colors:
            r = rng["colors"]
            colors = {"table": _random_color(r), "floor": _random_color(r), "object": _random_color(r),
                      "robot": _random_color(r, 0.5, 1.0), "robot_dark": _random_color(r, 0.0, 0.5)}
        lighting = Lighting()
        if cfg.lighting:
            r = rng["lighting"]
            el_lo, el_hi = cfg.light_elevation_deg
            azimuth, elevation = r.uniform(-math.pi, math.pi), r.uniform(math.radians(el_lo), math.radians(el_hi))
            dist = 2.0
            lighting = Lighting(
                direction=(dist * math.cos(elevation) * math.cos(azimuth),
                           dist * math.cos(elevation) * math.sin(azimuth), dist * math.sin(elevation)),
                color=tuple(r.uniform(cfg.light_color_min, 1.0, size=3).tolist()),
                ambient=float(r.uniform(*cfg.light_ambient)), diffuse=float(r.uniform(*cfg.light_diffuse)),
                specular=float(r.uniform(*cfg.light_specular)))
        if cfg.camera:
            r = rng["camera"]
            dpos = r.uniform(-cfg.camera_pos_jitter_m, cfg.camera_pos_jitter_m, size=3)
            drot = r.uniform(-1, 1, size=3) * math.radians(cfg.camera_rot_jitter_deg)
            extrinsics = extrinsics.perturbed(dpos, drot)
            intrinsics = intrinsics.scaled_focal(float(1.0 + r.uniform(-cfg.camera_fov_jitter, cfg.camera_fov_jitter)))
        size, mass, friction = nominal_object_size, 0.1, 1.0
        if cfg.object_physics:
            r = rng["object_physics"]
            # a few discrete sizes: each size is a separate PyBullet body, created once and reused
            size = float(np.linspace(*cfg.object_size_m, OBJECT_SIZE_LEVELS)[r.integers(OBJECT_SIZE_LEVELS)])
            mass = float(r.uniform(*cfg.object_mass_kg))
            friction = float(r.uniform(*cfg.object_friction))
        latency = 0.0
        if cfg.action:
            latency = float(rng["action"].uniform(*cfg.action_latency_s))
        textures = None
        if cfg.textures:
            r = rng["textures"]
            bank = cfg.texture_bank
            if cfg.texture_mix_prob > 0 and r.random() < cfg.texture_mix_prob:   # drawn only with a mix
                bank = cfg.texture_mix_bank
            n = TEXTURE_BANKS[bank]
            # table and floor drawn first, as before the block got one: an episode reset with a seed (the
            # evaluation) shows the same held-out table and floor textures as before
            textures = {"bank": bank, "table": int(r.integers(n)), "floor": int(r.integers(n))}
            textures["object"] = int(r.integers(n))
            if cfg.texture_prob < 1.0 and r.random() >= cfg.texture_prob:
                textures = None   # this episode keeps flat colours (drawn last: the indices above do not change)
        period = phase = obs_latency = 0.0
        if cfg.camera_timing:
            r = rng["camera_timing"]
            period = 1.0 / (cfg.camera_fps * (1.0 + r.uniform(-cfg.camera_fps_jitter, cfg.camera_fps_jitter)))
            phase = float(r.uniform(0.0, period))
            obs_latency = float(r.uniform(*cfg.observation_latency_s))
        return EpisodeParams(colors, lighting, extrinsics, intrinsics, size, mass, friction, latency, textures,
                             period, phase, obs_latency)

    def depth(self, z: np.ndarray) -> np.ndarray:
        """Stereo-like noise on metric depth: std grows with z^2; dropped pixels become 0 (no reading).

        Drawing 2 x H x W fresh random numbers per frame cost ~0.1 ms, 3 % of a whole env step.
        Instead a bank of BANK_FRAMES frames of noise is drawn once per seed and each frame takes
        a window at a random offset: still seeded and reproducible, ~10x cheaper.
        """
        if not self.cfg.depth_noise:
            return z
        r, n = self.rng["depth_noise"], z.size
        if self._bank is None or self._bank[0].size < 2 * n:
            self._bank = (r.standard_normal(BANK_FRAMES * n, dtype=np.float32),
                          r.random(BANK_FRAMES * n, dtype=np.float32))
        normal, uniform = self._bank
        i, j = r.integers(0, normal.size - n, size=2)
        z2 = z * z
        z2 *= self.cfg.depth_noise_std_m_at_1m
        z2 *= normal[i:i + n].reshape(z.shape)
        noisy = z + z2
        if self.cfg.depth_dropout_prob > 0:
            noisy[uniform[j:j + n].reshape(z.shape) < self.cfg.depth_dropout_prob] = 0.0
        return noisy

    def action(self, a: np.ndarray) -> np.ndarray:
        if not self.cfg.action or self.cfg.action_noise_std == 0:
            return a
        noisy = a + self.rng["action"].normal(0.0, self.cfg.action_noise_std, size=a.shape)
        return np.clip(noisy, -1.0, 1.0)
