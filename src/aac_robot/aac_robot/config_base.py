"""Strict config loading shared by every config dataclass of the project: unknown keys and wrong
types are errors that name the offending field. Imports nothing but the standard library and PyYAML."""
from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path

import yaml


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
        if len(args) == 2 and args[1] is Ellipsis:   # tuple[T, ...]: any length
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: expected a list, got {value!r}")
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
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


def check_range(where: str, rng: tuple[float, float], lo: float = -math.inf, hi: float = math.inf):
    if not (lo <= rng[0] <= rng[1] <= hi):
        raise ConfigError(f"{where}: need {lo} <= low <= high <= {hi}, got {rng}")


def set_by_path(data: dict, dotted: str, value) -> None:
    """`set_by_path(d, "sim.task", "reach")` for command-line overrides (`--set sim.task=reach`)."""
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            raise ConfigError(f"--set {dotted}: {k!r} is not a config section")
        node = node[k]
    if keys[-1] not in node:
        raise ConfigError(f"--set {dotted}: unknown key {keys[-1]!r}; valid keys: {sorted(node)}")
    node[keys[-1]] = value


def apply_overrides(data: dict, overrides: list[str], what: str = "--set") -> dict:
    """Apply KEY=VALUE strings (values parsed as YAML, dotted keys into sections) to a config dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{what} expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        set_by_path(data, key.strip(), yaml.safe_load(value))
    return data
