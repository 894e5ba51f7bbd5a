"""One config object for the simulator, loaded strictly: unknown keys and wrong types are errors."""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TASKS = ("reach", "push", "pick", "pick_place")
RENDER_MODELS = ("low_poly", "full")


class ConfigError(ValueError):
    """A configuration value or key is invalid."""


def _coerce(value, tp, where: str):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin is typing.Union or origin is getattr(__import__("types"), "UnionType", None):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, where)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported config field type {tp}")


def from_dict(cls, data: dict, where: str | None = None):
    """Build dataclass `cls` from a mapping; unknown keys and wrong types raise ConfigError."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def load_yaml(cls, path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    return from_dict(cls, data, where=str(path))


class StrictConfig:
    """Loading helpers shared by the project's config dataclasses."""

    @classmethod
    def from_dict(cls, data: dict):
        return from_dict(cls, data)

    @classmethod
    def from_yaml(cls, path: str | Path):
        return load_yaml(cls, path)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _check_range(where: str, rng: tuple[float, float], lo: float = -math.inf, hi: float = math.inf):
    if not (lo <= rng[0] <= rng[1] <= hi):
        raise ConfigError(f"{where}: need {lo} <= low <= high <= {hi}, got {rng}")


@dataclass(frozen=True)
class RandomizationConfig:
    """Domain randomization. Every switch is independent and draws from its own seeded stream,
    so turning one on never changes what another one draws."""

    colors: bool = True               # table / floor / object / robot colours, per episode
    lighting: bool = True             # light direction, ambient / diffuse / specular, per episode
    light_elevation_deg: tuple[float, float] = (25.0, 85.0)   # above the horizon; azimuth is uniform
    light_color_min: float = 0.8      # each RGB channel of the light uniform in [light_color_min, 1]
    light_ambient: tuple[float, float] = (0.3, 0.8)
    light_diffuse: tuple[float, float] = (0.2, 0.7)
    light_specular: tuple[float, float] = (0.0, 0.3)
    camera: bool = True               # extrinsic pose and FOV jitter, per episode
    camera_pos_jitter_m: float = 0.02
    camera_rot_jitter_deg: float = 2.0
    camera_fov_jitter: float = 0.03   # relative change of the focal length
    depth_noise: bool = True          # per frame: z-dependent Gaussian noise + dropout (reads 0)
    depth_noise_std_m_at_1m: float = 0.002
    depth_dropout_prob: float = 0.02
    object_physics: bool = True       # block size / mass / friction, per episode
    object_size_m: tuple[float, float] = (0.035, 0.05)   # 6 evenly spaced sizes in this range
    object_mass_kg: tuple[float, float] = (0.05, 0.3)
    object_friction: tuple[float, float] = (0.6, 1.2)
    action: bool = True               # per step Gaussian action noise + per episode latency
    action_noise_std: float = 0.02
    action_latency_max_steps: int = 1
    textures: bool = False            # procedural texture on table and floor, per episode (off in training:
                                      # a held-out condition for evaluation)

    def __post_init__(self):
        w = "randomization"
        for name in ("camera_pos_jitter_m", "camera_rot_jitter_deg", "camera_fov_jitter",
                     "depth_noise_std_m_at_1m", "action_noise_std"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{w}.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.depth_dropout_prob < 1:
            raise ConfigError(f"{w}.depth_dropout_prob must be in [0, 1), got {self.depth_dropout_prob}")
        if self.camera_fov_jitter >= 0.5:
            raise ConfigError(f"{w}.camera_fov_jitter must be < 0.5, got {self.camera_fov_jitter}")
        _check_range(f"{w}.light_elevation_deg", self.light_elevation_deg, 0.0, 90.0)
        if not 0 <= self.light_color_min <= 1:
            raise ConfigError(f"{w}.light_color_min must be in [0, 1], got {self.light_color_min}")
        for name in ("light_ambient", "light_diffuse", "light_specular"):
            _check_range(f"{w}.{name}", getattr(self, name), 0.0, 1.0)
        _check_range(f"{w}.object_size_m", self.object_size_m, 0.02, 0.07)  # must fit the 8 cm gripper
        _check_range(f"{w}.object_mass_kg", self.object_mass_kg, 1e-3, 2.0)
        _check_range(f"{w}.object_friction", self.object_friction, 0.0, 5.0)
        if not 0 <= self.action_latency_max_steps <= 5:
            raise ConfigError(f"{w}.action_latency_max_steps must be in [0, 5], got {self.action_latency_max_steps}")

    @classmethod
    def off(cls) -> "RandomizationConfig":
        return cls(colors=False, lighting=False, camera=False, depth_noise=False, object_physics=False, action=False,
                   textures=False)


@dataclass(frozen=True)
class SimConfig(StrictConfig):
    task: str = "push"
    image_size: int = 84              # policy image is image_size x image_size
    render_images: bool = True        # False: no rgb/depth in the observation (state-only use)
    max_episode_steps: int = 50
    control_dt: float = 0.04          # 25 Hz control
    physics_substeps: int = 10        # physics timestep = control_dt / physics_substeps
    max_ee_step_m: float = 0.05       # end-effector displacement for |action| = 1
    distance_threshold_m: float = 0.05
    object_size_m: float = 0.04       # nominal block edge (when object_physics randomization is off)
    camera_intrinsics: str | None = None  # YAML path; None = packaged RealSense D435 640x480
    camera_extrinsics: str | None = None  # YAML path; None = packaged default mount
    render_model: str = "low_poly"    # "full" uses the stock visual meshes (~8x slower to render)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose one of {list(TASKS)}")
        if self.render_model not in RENDER_MODELS:
            raise ConfigError(f"unknown render_model {self.render_model!r}; choose one of {list(RENDER_MODELS)}")
        if not 1 <= self.max_episode_steps <= 10_000:
            raise ConfigError(f"max_episode_steps must be in [1, 10000], got {self.max_episode_steps}")
        if not 0.005 <= self.control_dt <= 0.5:
            raise ConfigError(f"control_dt must be in [0.005, 0.5] s, got {self.control_dt}")
        if not 1 <= self.physics_substeps <= 100:
            raise ConfigError(f"physics_substeps must be in [1, 100], got {self.physics_substeps}")
        if not 0 < self.max_ee_step_m <= 0.1:
            raise ConfigError(f"max_ee_step_m must be in (0, 0.1], got {self.max_ee_step_m}")
        if not 0 < self.distance_threshold_m <= 0.2:
            raise ConfigError(f"distance_threshold_m must be in (0, 0.2], got {self.distance_threshold_m}")
        if not 0.02 <= self.object_size_m <= 0.07:
            raise ConfigError(f"object_size_m must be in [0.02, 0.07], got {self.object_size_m}")
        # image_size is checked against the camera in the env (it must fit the crop); basic sanity here
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 16:
            raise ConfigError(f"image_size must be an integer >= 16, got {self.image_size!r}")
