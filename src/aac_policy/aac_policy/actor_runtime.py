"""Run an exported actor for inference: ONNX Runtime for `actor.onnx` (no torch needed), torch for
`actor.pt` (a torch.export archive; older TorchScript exports load too). Both files hold the same network with its normalization and preprocessing and the same
observation spec (`aac_policy.export`); a robot PC needs only numpy + onnxruntime for the first.

    run, spec = load_runtime("runs/main/actor.onnx")
    actions = run({"rgb": rgb_u8[None], "depth": depth_mm[None], "proprio": p[None], "desired_goal": g[None]})
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

SPEC_FILE = "obs_spec.json"   # = aac_policy.export.SPEC_FILE (that module imports torch)
SPEC_FORMAT = "aac_actor/1"
RUNTIMES = ("auto", "onnxruntime", "torch")


def _check_spec(spec, path) -> dict:
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT:
        raise ValueError(f"{path}: obs spec format is {spec.get('format') if isinstance(spec, dict) else None!r}, "
                         f"expected {SPEC_FORMAT!r}")
    return spec


def load_onnx(path: str | Path, threads: int = 1) -> tuple[Callable[[dict], np.ndarray], dict]:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), opts, providers=[p for p in ("CUDAExecutionProvider",
                                                                                "CPUExecutionProvider")
                                                                   if p in ort.get_available_providers()])
    except Exception as exc:   # not a model, truncated, wrong opset...
        raise ValueError(f"{path}: not a loadable ONNX actor ({type(exc).__name__}: {exc})") from exc
    meta = session.get_modelmeta().custom_metadata_map
    try:
        spec = _check_spec(json.loads(meta[SPEC_FILE]), path)
    except (KeyError, json.JSONDecodeError):
        raise ValueError(f"{path}: the ONNX model has no valid {SPEC_FILE} metadata") from None
    names = [i.name for i in session.get_inputs()]

    def run(obs: dict) -> np.ndarray:
        return session.run(["action"], {k: np.ascontiguousarray(obs[k]) for k in names})[0]
    return run, spec


def load_torch(path: str | Path, threads: int = 1) -> tuple[Callable[[dict], np.ndarray], dict]:
    import torch

    from .export import load_actor
    torch.set_num_threads(max(1, int(threads)))
    module, spec = load_actor(path)

    @torch.inference_mode()
    def run(obs: dict) -> np.ndarray:
        return module({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in obs.items()}).numpy()
    return run, spec


def load_runtime(path: str | Path, runtime: str = "auto", threads: int = 1) -> tuple[Callable[[dict], np.ndarray], dict]:
    """(run(batched obs) -> actions, spec). `auto`: by the file's suffix (.onnx -> onnxruntime, else torch)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {list(RUNTIMES)}, got {runtime!r}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such exported actor")
    if runtime == "onnxruntime" or (runtime == "auto" and path.suffix == ".onnx"):
        return load_onnx(path, threads)
    return load_torch(path, threads)
