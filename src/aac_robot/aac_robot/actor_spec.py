"""Read an exported actor's observation spec without torch, and compare the motion limits it was
trained with against the limits a deployment runs with.

The exported `actor.pt` is a zip archive (torch.export; older exports TorchScript) whose `extra/obs_spec.json` holds the spec
(`aac_policy.export`). The arm node reads it here, so the safety layer never imports torch.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from .config_base import ConfigError
from .motion import MotionLimits

SPEC_NAME = "obs_spec.json"


def read_actor_spec(path: str | Path) -> dict:
    """The obs spec stored in an exported actor file (actor.pt: a zip member; actor.onnx: model metadata,
    read with onnxruntime, which a robot PC has); ConfigError if there is none."""
    path = Path(path)
    if path.suffix == ".onnx":
        try:
            import onnxruntime as ort
            meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
            return json.loads(meta.custom_metadata_map[SPEC_NAME])
        except ImportError:
            raise ConfigError(f"{path}: reading an ONNX actor's spec needs onnxruntime (requirements-robot.txt)") from None
        except KeyError:
            raise ConfigError(f"{path}: the ONNX model has no {SPEC_NAME} metadata: not an exported actor") from None
        except Exception as exc:   # missing, truncated, not a model
            raise ConfigError(f"{path}: cannot read the actor's spec ({type(exc).__name__}: {exc})") from None
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(f"/extra/{SPEC_NAME}")]
            if not names:
                raise ConfigError(f"{path}: no extra/{SPEC_NAME} inside: not an exported actor")
            return json.loads(z.read(names[0]))
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the actor's spec ({type(exc).__name__}: {exc})") from None


def trained_limits(spec: dict) -> tuple[MotionLimits, list[str]]:
    """The motion limits an actor was trained with, and the names of those its spec does not record.
    Exports from before the limits were recorded carry only the action scaling (rate and speed come
    from it; the workspace and gripper width are then unknown and the defaults are assumed)."""
    recorded = spec.get("motion")
    if recorded:
        return MotionLimits.from_dict(recorded), []
    act = spec.get("action", {})
    dt, step = act.get("control_dt_s"), act.get("max_ee_step_m")
    if not dt or not step:
        raise ConfigError("the actor's spec records neither motion limits nor an action scaling "
                          "(action.max_ee_step_m, action.control_dt_s): it cannot be deployed")
    return (MotionLimits(control_rate_hz=1.0 / dt, max_ee_speed_m_s=step / dt),
            ["workspace_low", "workspace_high", "gripper_max_width_m"])


def limit_mismatches(trained: MotionLimits, max_ee_speed_m_s: float, rate_hz: float, workspace_low,
                     workspace_high, gripper_max_width_m: float) -> list[str]:
    """Where the deployment's limits are tighter than (or differ from) those the policy was trained
    with: each is a place where the safety layer will intervene in normal operation, or where the
    policy runs at a rate it never saw. The safety limits still win; nothing is loosened."""
    out = []
    if max_ee_speed_m_s < trained.max_ee_speed_m_s - 1e-9:
        out.append(f"max_ee_speed_m_s {max_ee_speed_m_s} is below the {trained.max_ee_speed_m_s} m/s the policy was "
                   f"trained with: faster commands will be clipped (speed_clipped) and the arm moves slower than "
                   f"in training")
    if abs(rate_hz - trained.control_rate_hz) > 1e-6:
        out.append(f"rate_hz {rate_hz} differs from the policy's control rate {trained.control_rate_hz} Hz")
    for axis, (lo, hi, tlo, thi) in enumerate(zip(workspace_low, workspace_high, trained.workspace_low,
                                                  trained.workspace_high)):
        if lo > tlo + 1e-9 or hi < thi - 1e-9:
            out.append(f"workspace {'xyz'[axis]} [{lo}, {hi}] m is inside the trained box [{tlo}, {thi}] m: motion "
                       f"the policy learned may be stopped at the box (workspace)")
    if gripper_max_width_m < trained.gripper_max_width_m - 1e-9:
        out.append(f"gripper_max_width_m {gripper_max_width_m} is below the trained {trained.gripper_max_width_m} m")
    return out
