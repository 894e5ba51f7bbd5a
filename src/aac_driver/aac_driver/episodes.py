"""Evaluation episodes on a robot: plans, verdicts and the report (plain module, no rclpy).

The episode runner (`aac_driver.episode_runner`, console script `aac_episodes`) runs N episodes: it
holds the arm, moves it to the start pose through the safety layer, opens the gripper, publishes the
goal (from a goals YAML, or the twin draws it), releases the policy, waits for a verdict, holds the arm
again and records the episode. This module is what can be checked without ROS: goals and start poses
refused before anything moves, the verdict bookkeeping, and the report (success rate with a 95 %
Wilson interval per condition tag, time to success, interventions per kind, manual stops, aborted
episodes, recovery after a marked disturbance).

Goals YAML:

    goals:                      # one per episode, in the arm's base frame (m); cycled if fewer
      - [0.55, 0.10, 0.02]
      - {x: 0.60, y: -0.05, z: 0.02}
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

VERDICTS = ("success", "failure", "timeout", "aborted")   # timeout counts as a failure; aborted is not judged


class EpisodeInputError(ValueError):
    """A goal, start pose or condition the runner refuses before the arm moves."""


def parse_conditions(items: list[str] | None) -> dict[str, str]:
    """`["lighting=dim", "background=cloth"]` -> {"lighting": "dim", "background": "cloth"}."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise EpisodeInputError(f"a condition is TAG=VALUE (e.g. lighting=dim), got {item!r}")
        out[key.strip()] = value.strip()
    return out


def check_in_box(point, low, high, what: str) -> np.ndarray:
    p = np.asarray(point, dtype=np.float64).reshape(-1)
    if p.shape != (3,) or not np.isfinite(p).all():
        raise EpisodeInputError(f"{what} must be 3 finite numbers (x, y, z in m), got {list(np.atleast_1d(point))}")
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    outside = [f"{axis} = {v:.3f} not in [{lo:.3f}, {hi:.3f}]"
               for axis, v, lo, hi in zip("xyz", p, low, high) if not lo <= v <= hi]
    if outside:
        raise EpisodeInputError(f"{what} {p.round(3).tolist()} is outside the workspace box: {'; '.join(outside)}")
    return p


def load_goals(path: str | Path, low, high) -> list[np.ndarray]:
    """Goals from a YAML file, each checked against the workspace box [low, high]."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EpisodeInputError(f"cannot read goals file {path}: {exc}") from exc
    goals = data.get("goals") if isinstance(data, dict) else None
    if not isinstance(goals, list) or not goals:
        raise EpisodeInputError(f"{path}: expected a non-empty list under `goals:`")
    out = []
    for i, g in enumerate(goals):
        if isinstance(g, dict):
            if set(g) != {"x", "y", "z"}:
                raise EpisodeInputError(f"{path}: goal {i} needs exactly x, y, z, got {sorted(g)}")
            g = [g["x"], g["y"], g["z"]]
        try:
            values = [float(v) for v in g]
        except (TypeError, ValueError) as exc:
            raise EpisodeInputError(f"{path}: goal {i} is not 3 numbers: {g!r}") from exc
        out.append(check_in_box(values, low, high, f"{path}: goal {i}"))
    return out


def check_joints(q, lower, upper, what: str = "start pose") -> np.ndarray:
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    if q.shape != (len(lower),) or not np.isfinite(q).all():
        raise EpisodeInputError(f"{what} must be {len(lower)} finite joint positions (rad), got {q.tolist()}")
    bad = [f"joint {i + 1} = {v:.3f} not in [{lo:.3f}, {hi:.3f}]"
           for i, (v, lo, hi) in enumerate(zip(q, lower, upper)) if not lo <= v <= hi]
    if bad:
        raise EpisodeInputError(f"{what} is outside the joint limits: {'; '.join(bad)}")
    return q


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95 % Wilson score interval of a success rate (behaves at 0 and n, unlike the normal approximation)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EpisodeRecord:
    index: int
    verdict: str                          # one of VERDICTS
    condition: dict = field(default_factory=dict)
    time_to_success_s: float | None = None   # from the release of the policy to success
    duration_s: float = 0.0               # from the release to the verdict
    steps: int | None = None              # control steps (twin only)
    first_success_step: int | None = None   # (twin only)
    interventions: dict = field(default_factory=dict)   # safety events during the episode, per kind
    manual_stops: int = 0                 # stop requests (aac/safety/stop true) during the episode
    disturbed: bool = False               # the operator (or the twin's perturbation) marked a disturbance
    goal: list | None = None
    judge: str = "operator"               # operator | twin
    # the episode's window, release to verdict, in system time (ns): the recorder's bag (record:=true) stamps
    # messages with their receive time, so aac_driver.bags.read_bag(bag, start_ns=..., stop_ns=...) is the episode
    start_ns: int | None = None
    end_ns: int | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def condition_key(condition: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(condition.items())) or "untagged"


def summarize_records(records: list[EpisodeRecord]) -> dict:
    judged = [r for r in records if r.verdict != "aborted"]
    wins = [r for r in judged if r.verdict == "success"]
    times = [r.time_to_success_s for r in wins if r.time_to_success_s is not None]
    counts = Counter()
    for r in judged:
        counts.update(r.interventions)
    ci = wilson_interval(len(wins), len(judged))
    out = {"episodes": len(records), "judged": len(judged), "successes": len(wins),
           "success_rate": len(wins) / len(judged) if judged else None,
           "success_rate_ci95": list(ci) if ci else None,
           "mean_time_to_success_s": float(np.mean(times)) if times else None,
           "failures": sum(r.verdict == "failure" for r in records),
           "timeouts": sum(r.verdict == "timeout" for r in records),
           "aborted": sum(r.verdict == "aborted" for r in records),
           "manual_stops": sum(r.manual_stops for r in records),
           "interventions": dict(counts),
           "episodes_with_interventions": sum(1 for r in judged if r.interventions)}
    disturbed = [r for r in judged if r.disturbed]
    if disturbed:
        ok = sum(r.verdict == "success" for r in disturbed)
        out["after_disturbance"] = {"episodes": len(disturbed), "success_rate": ok / len(disturbed),
                                    "success_rate_ci95": list(wilson_interval(ok, len(disturbed)))}
    return out


def build_report(records: list[EpisodeRecord], meta: dict) -> dict:
    groups: dict[str, list[EpisodeRecord]] = {}
    for r in records:
        groups.setdefault(condition_key(r.condition), []).append(r)
    return {**meta, "overall": summarize_records(records),
            "by_condition": {k: summarize_records(v) for k, v in sorted(groups.items())},
            "episodes": [r.to_dict() for r in records]}


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def markdown(rep: dict) -> str:
    lines = [f"# Evaluation episodes ({rep.get('judge', 'operator')} verdicts)", "",
             f"- actor: {rep.get('actor') or '(not named)'}; task: {rep.get('task') or '-'}", "",
             "| condition | episodes judged | success (95 % CI) | mean time to success | timeouts | aborted "
             "| manual stops | interventions |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in [("**all**", rep["overall"]), *rep["by_condition"].items()]:
        ci = s["success_rate_ci95"]
        rate = f"{_pct(s['success_rate'])} ({_pct(ci[0])}-{_pct(ci[1])})" if ci else "-"
        tts = "-" if s["mean_time_to_success_s"] is None else f"{s['mean_time_to_success_s']:.1f} s"
        iv = ", ".join(f"{k} {v}" for k, v in sorted(s["interventions"].items())) or "none"
        lines.append(f"| {name} | {s['judged']} | {rate} | {tts} | {s['timeouts']} | {s['aborted']} | "
                     f"{s['manual_stops']} | {iv} |")
    after = rep["overall"].get("after_disturbance")
    if after:
        lines += ["", f"- after a marked disturbance: {_pct(after['success_rate'])} of {after['episodes']} "
                      f"episodes succeeded"]
    lines += ["", "A 95 % interval narrower than +-10 points needs ~95 judged episodes per condition at 50 % "
                  "success, ~35 at 90 %."]
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, rep: dict) -> None:
    """report.json + report.md, each written atomically (a run stopped mid-way keeps what it recorded)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("report.json", json.dumps(rep, indent=2)), ("report.md", markdown(rep))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out / name)
