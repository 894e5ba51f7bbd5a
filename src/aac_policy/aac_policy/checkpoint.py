"""Atomic checkpoints: write to a temp file, fsync, rename. Load with `weights_only=True`.

A checkpoint is a plain dict of tensors / numbers / strings (no pickled objects), so loading it
never runs code. If the newest file is truncated or corrupt, the previous one is used.
"""
from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

import torch

log = logging.getLogger(__name__)
PATTERN = re.compile(r"^checkpoint_(\d{9})\.pt$")
FORMAT = "aac_checkpoint/1"
BEST_FILE = "best.pt"   # a run's best-eval checkpoint (TrainConfig.keep_best), next to the numbered ones


class CheckpointError(RuntimeError):
    """No usable checkpoint, or a checkpoint that does not match this run."""


def atomic_file_bytes(data: bytes, path: str | Path) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)   # make the rename itself durable
    finally:
        os.close(dir_fd)


def atomic_torch_save(obj, path: str | Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_file_bytes(buf.getvalue(), path)


def checkpoint_path(directory: str | Path, step: int) -> Path:
    return Path(directory) / f"checkpoint_{step:09d}.pt"


def list_checkpoints(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted((p for p in d.iterdir() if PATTERN.match(p.name)), key=lambda p: p.name)


def write_checkpoint(path: str | Path, step: int, payload: dict) -> Path:
    """One checkpoint file at `path`, written atomically (its folder made if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({"format": FORMAT, "step": step, **payload}, path)
    return path


def save_checkpoint(directory: str | Path, step: int, payload: dict, keep: int = 2) -> Path:
    path = write_checkpoint(checkpoint_path(directory, step), step, payload)
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint_file(path: str | Path) -> dict:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # truncated zip, bad pickle opcode, disallowed global, ...
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an {FORMAT} checkpoint")
    return data


def load_latest(directory: str | Path) -> tuple[dict, Path] | None:
    """Newest readable checkpoint in `directory`, falling back past corrupt ones; None if there is none."""
    errors = []
    for path in reversed(list_checkpoints(directory)):
        try:
            return load_checkpoint_file(path), path
        except CheckpointError as exc:
            log.warning("skipping corrupt checkpoint: %s", exc)
            errors.append(str(exc))
    if errors:
        raise CheckpointError("every checkpoint is unreadable:\n  " + "\n  ".join(errors))
    return None


def config_mismatch(saved: dict, current: dict, prefix: str = "",
                    labels: tuple[str, str] = ("checkpoint has", "this run has")) -> list[str]:
    """Field-by-field differences between two nested config dicts
    ("sim.image_size: checkpoint has 84, this run has 64"); lists and tuples compare equal."""
    out = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k, "<missing>"), current.get(k, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_mismatch(a, b, f"{prefix}{k}.", labels)
        elif (list(a) if isinstance(a, (list, tuple)) else a) != (list(b) if isinstance(b, (list, tuple)) else b):
            out.append(f"{prefix}{k}: {labels[0]} {a!r}, {labels[1]} {b!r}")
    return out


# the sim fields a teacher and its student must share (everything that changes what the state means
# or what the task asks); rendering, camera and image fields may differ: the teacher never sees images
TEACHER_SIM_FIELDS = ("task", "max_episode_steps", "motion", "physics_substeps", "distance_threshold_m",
                      "object_size_m")


def _best_or_latest(path: str | Path, what: str, kind: str, how: str) -> tuple[dict, Path]:
    """The checkpoint at `path` (a run folder, its checkpoints/ folder or a file): the best-eval one
    (`best.pt`, `keep_best` runs) where there is one, else the newest readable one."""
    p = Path(path)
    folder = p / "checkpoints" if (p / "checkpoints").is_dir() else p
    if not p.is_file() and (folder / BEST_FILE).is_file():
        p = folder / BEST_FILE
    if p.is_file():
        return load_checkpoint_file(p), p
    latest = load_latest(folder) if p.exists() else None
    if latest is None:
        raise CheckpointError(f"{what} {p}: no {kind} checkpoint there; {how}")
    return latest


def load_student_checkpoint(path: str | Path, spec: dict) -> tuple[dict, Path]:
    """The checkpoint of a distilled pixel student (stage 2: `state_teacher` with `teacher_path`) at `path`,
    for stage 3 to start from; its observation spec must be this run's exactly."""
    ckpt, found = _best_or_latest(path, "finetune_from", "student",
                                  "train the student first (stage 2 of the staged pipeline)")
    cfg = ckpt.get("config", {})
    if cfg.get("wiring") != "asymmetric" or not cfg.get("state_teacher") or not cfg.get("teacher_path"):
        raise CheckpointError(f"finetune_from {found}: not a distilled pixel student (wiring {cfg.get('wiring')!r}, "
                              f"state_teacher {cfg.get('state_teacher')!r}, teacher_path {cfg.get('teacher_path')!r})")
    diffs = config_mismatch(ckpt.get("obs_spec", {}), spec, "obs spec ", labels=("student has", "this run has"))
    if diffs:
        raise CheckpointError(f"finetune_from {found} does not fit this run:\n  " + "\n  ".join(diffs))
    return ckpt, found


def load_teacher_checkpoint(path: str | Path, student_cfg: dict, student_spec: dict) -> tuple[dict, Path]:
    """The checkpoint of a privileged teacher run (`wiring: state`) at `path` (its run folder, its
    checkpoints/ folder or a checkpoint file): its best-eval one (`best.pt`, kept by `keep_best` runs such as
    the staged teacher stage) where there is one, else the newest; checked against the student's config and
    obs spec: a teacher from another task, spec or wiring is refused naming the field."""
    how = ("train one first: `aac_train --set wiring=state --set sim.task=<task> --run-dir <folder>`, "
           "or run the staged pipeline (`scripts/run_main.sh`), which trains it as stage 1")
    ckpt, found = _best_or_latest(path, "teacher_path", "teacher", how)
    cfg = ckpt.get("config", {})
    if cfg.get("wiring") != "state":
        raise CheckpointError(f"teacher {found}: wiring is {cfg.get('wiring')!r}; a teacher must be a "
                              f"'state' (privileged) run")
    diffs = []
    for k in TEACHER_SIM_FIELDS:
        a, b = cfg.get("sim", {}).get(k, "<missing>"), student_cfg["sim"].get(k, "<missing>")
        if a != b:
            diffs += config_mismatch({k: a}, {k: b}, "sim.", labels=("teacher has", "student has"))
    if cfg.get("hidden_dim") != student_cfg["hidden_dim"]:
        diffs.append(f"hidden_dim: teacher has {cfg.get('hidden_dim')}, student has {student_cfg['hidden_dim']}")
    spec = ckpt.get("obs_spec", {})
    state_key = student_spec["state_key"]
    for key in (state_key, "desired_goal"):
        a, b = spec.get("vec_dims", {}).get(key), student_spec["vec_dims"].get(key)
        if a != b:
            diffs.append(f"obs spec vec_dims[{key!r}]: teacher has {a}, student has {b}")
    if spec.get("action_dim") != student_spec["action_dim"]:
        diffs.append(f"obs spec action_dim: teacher has {spec.get('action_dim')}, student has {student_spec['action_dim']}")
    if diffs:
        raise CheckpointError(f"teacher {found} does not fit this student:\n  " + "\n  ".join(diffs))
    return ckpt, found
