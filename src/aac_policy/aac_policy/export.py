"""Export the trained actor as ONE file that carries its observation spec: `actor.pt`, a torch.export
archive (ExportedProgram), and `actor.onnx`, the same network for ONNX Runtime.

The file holds the actor weights, the input normalization and image preprocessing, plus
`obs_spec.json` (image size, depth scaling, proprio layout, goal frame, action scaling, camera)
as an extra file. Loading needs only torch — no aac_policy code, no pickles:

    spec = {"obs_spec.json": ""}
    actor = torch.export.load("actor.pt", extra_files=spec).module()
    action = actor({"rgb": rgb_u8[None], "depth": depth_mm[None], "proprio": p[None], "desired_goal": g[None]})

Actors exported before torch.export (TorchScript, deprecated in torch 2.13) still load (`load_actor`).
"""
from __future__ import annotations

import copy
import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Dict, List

import torch
import torch.nn as nn

from .networks import DEPTH_RANGE_M, NORM_CLIP, image_tensor_plain

SPEC_FILE = "obs_spec.json"
SPEC_FORMAT = "aac_actor/1"
ONNX_OPSET = 17


class _DeployBase(nn.Module):
    def __init__(self, actor: nn.Module, image_keys: List[str], vec_keys: List[str],
                 mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.actor = actor
        self.use_rgb = "rgb" in image_keys
        self.use_depth = "depth" in image_keys
        self.vec_keys = vec_keys
        self.clip = float(NORM_CLIP)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def _vec(self, obs: Dict[str, torch.Tensor]) -> torch.Tensor:
        vec = torch.cat([obs[k].float() for k in self.vec_keys], dim=-1)
        return torch.clamp((vec - self.mean) / self.std, -self.clip, self.clip)


class DeployPixelActor(_DeployBase):
    """Raw observations in (batched: rgb (B,H,W,3) 0..255, depth (B,H,W) mm, vectors (B,n)),
    actions in [-1, 1] out. Normalization and image preprocessing are inside this module."""

    def forward(self, obs: Dict[str, torch.Tensor]) -> torch.Tensor:
        rgb = obs["rgb"] if self.use_rgb else None
        depth = obs["depth"] if self.use_depth else None
        return self.actor(image_tensor_plain(rgb, depth), self._vec(obs))


class DeployStateActor(_DeployBase):
    def forward(self, obs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.actor(self._vec(obs))


def build_obs_spec(agent, env=None, task: str | None = None) -> dict:
    """Everything a deployment needs to feed the actor the same numbers it was trained on."""
    spec = agent.spec
    base = getattr(env, "unwrapped", env)
    out = {
        "format": SPEC_FORMAT,
        "wiring": spec.wiring,
        "task": task,
        "inputs": list(spec.actor_keys),
        "batched": True,
        "image_size": spec.image_size,
        "image_keys": list(spec.image_keys),
        "rgb": {"dtype": "uint8", "layout": "HWC", "range": [0, 255]} if "rgb" in spec.image_keys else None,
        "depth": ({"dtype": "uint16", "units": "mm", "zero_means": "no reading",
                   "network_input": f"clip(depth_mm / 1000, 0, {DEPTH_RANGE_M}) / {DEPTH_RANGE_M}"}
                  if "depth" in spec.image_keys else None),
        "vectors": {k: spec.vec_dims[k] for k in spec.actor_vec_keys},
        "goal_frame": "robot base frame (panda_link0), metres",
        "action": {"dim": spec.action_dim, "range": [-1.0, 1.0]},
    }
    if base is not None and hasattr(base, "cfg") and hasattr(base, "proprio_layout"):
        cfg = base.cfg
        out["vectors_layout"] = {"proprio": [[n, s.stop - s.start] for n, s in base.proprio_layout.items()],
                                 "desired_goal": [["xyz", 3]]}
        out["action"].update(layout=["dx", "dy", "dz", "gripper"], max_ee_step_m=cfg.max_ee_step_m,
                             control_dt_s=cfg.control_dt, frame="robot base frame (panda_link0)",
                             xyz="velocity = xyz / max(1, |xyz|) * motion.max_ee_speed_m_s",
                             gripper="+1 fully open, -1 closed (width linear in between)")
        # the limits the policy was trained with (the arm node compares its own with these at start)
        out["motion"] = cfg.motion.to_spec()
        r = cfg.randomization
        out["timing"] = {"camera_timing": r.camera_timing, "camera_fps": r.camera_fps,
                         "observation_latency_s": list(r.observation_latency_s),
                         "action_latency_s": list(r.action_latency_s) if r.action else [0.0, 0.0]}
        out["task"] = cfg.task
        out["distance_threshold_m"] = cfg.distance_threshold_m
        if spec.image_keys:
            intr = base.policy_intrinsics
            out["camera"] = {
                "policy_intrinsics": {k: getattr(intr, k) for k in ("width", "height", "fx", "fy", "cx", "cy")},
                "source_intrinsics": {k: getattr(base.camera_intrinsics, k)
                                      for k in ("width", "height", "fx", "fy", "cx", "cy")},
                "crop_xywh": [base.crop.x0, base.crop.y0, base.crop.w, base.crop.h],
                "extrinsics": {"translation": list(base.camera_extrinsics.translation),
                               "rotation_xyzw": list(base.camera_extrinsics.rotation_xyzw),
                               "parent_frame": base.camera_extrinsics.parent_frame,
                               "child_frame": base.camera_extrinsics.child_frame},
                # the randomization around that pose (+- per axis): a calibrated real camera is compared with
                # it (aac_driver.camera_pose, the preflight's camera.pose check)
                "pose_range": ({"position_m": r.camera_pos_jitter_m, "rotation_deg": r.camera_rot_jitter_deg,
                                "focal_rel": r.camera_fov_jitter} if r.camera else
                               {"position_m": 0.0, "rotation_deg": 0.0, "focal_rel": 0.0}),
            }
    return out


def deploy_module(agent) -> nn.Module:
    spec = agent.spec
    from .agent import norm_name
    norms = [agent.norms[norm_name(k)] for k in spec.actor_vec_keys]
    mean = torch.cat([n.mean for n in norms]).cpu()
    std = torch.cat([n.std() for n in norms]).cpu()
    actor = copy.deepcopy(agent.actor).cpu().eval()
    if hasattr(actor, "aux"):
        actor.aux = None   # training-only head
    for p in actor.parameters():   # the encoder trains channels_last; exports store plain contiguous weights
        p.data = p.data.contiguous()
    cls = DeployPixelActor if agent.cfg.pixels else DeployStateActor
    return cls(actor, list(spec.image_keys), list(spec.actor_vec_keys), mean, std).eval()


def example_inputs(spec, batch: int = 2) -> dict[str, torch.Tensor]:
    """Zero observations of the actor's inputs in their deployed dtypes (depth: uint16 millimetres)."""
    S = spec.image_size
    example = {"rgb": torch.zeros(batch, S, S, 3, dtype=torch.uint8),
               "depth": torch.zeros(batch, S, S, dtype=torch.uint16)}
    for k in spec.actor_vec_keys:
        example[k] = torch.zeros(batch, spec.vec_dims[k])
    return {k: example[k] for k in spec.actor_keys}


def export_actor(agent, path: str | Path, obs_spec: dict) -> Path:
    """torch.export the deploy module (batch size dynamic) and write it atomically with its spec."""
    from .checkpoint import atomic_file_bytes
    example = example_inputs(agent.spec)   # batch 2: torch.export specializes sizes 0 and 1
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(deploy_module(agent), (example,),
                                  dynamic_shapes=({k: {0: batch} for k in example},))
    buf = io.BytesIO()
    torch.export.save(program, buf, extra_files={SPEC_FILE: json.dumps(obs_spec, indent=2)})
    path = Path(path)
    atomic_file_bytes(buf.getvalue(), path)
    return path


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives (older exports) hold `<name>/code/`; torch.export ones `archive/models/`."""
    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in n for n in z.namelist()) and not any(n.startswith("archive/models/")
                                                                       for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def load_actor(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Load an exported actor (no training code involved) and its observation spec."""
    path = Path(path)
    extra = {SPEC_FILE: ""}
    try:
        if _is_torchscript(path):
            with warnings.catch_warnings():   # an older export: TorchScript still loads, deprecated or not
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra).eval()
        else:
            # from a buffer: torch.export logs a warning for any file name not ending in .pt2
            module = torch.export.load(io.BytesIO(path.read_bytes()), extra_files=extra).module()
    except Exception as exc:
        raise ValueError(f"{path}: not a loadable exported actor ({type(exc).__name__}: {exc})") from exc
    try:
        spec = json.loads(extra[SPEC_FILE])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: exported actor has no valid {SPEC_FILE}") from exc
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT:
        raise ValueError(f"{path}: obs spec format is {spec.get('format') if isinstance(spec, dict) else None!r}, "
                         f"expected {SPEC_FORMAT!r}")
    return module, spec


class _PositionalInputs(nn.Module):
    """The deploy module with one positional tensor per input (ONNX has no dict inputs). Depth comes in
    as float32 millimetres: TorchScript's ONNX exporter has no uint16, so `export_onnx` puts a uint16
    input with a Cast in front (exact: every uint16 is a float32)."""

    def __init__(self, module: nn.Module, keys: List[str]):
        super().__init__()
        self.module, self.keys = module, keys

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module({k: x for k, x in zip(self.keys, inputs)})


def export_onnx(agent, path: str | Path, obs_spec: dict) -> Path:
    """The same deploy module as ONE ONNX file for ONNX Runtime (no torch needed to run it): inputs named
    as the spec's `inputs` in their dtypes (rgb uint8 (B,H,W,3), depth uint16 (B,H,W) mm, vectors
    float32 (B,n)), output `action` (B, action_dim) in [-1, 1]; the spec is the model's metadata
    property `obs_spec.json`. Written atomically."""
    import onnx
    from onnx import TensorProto, helper

    from .checkpoint import atomic_file_bytes
    spec = agent.spec
    keys = list(spec.actor_keys)
    module = deploy_module(agent)
    example = example_inputs(spec, batch=1)
    if "depth" in example:
        example["depth"] = example["depth"].float()
    names = [f"{k}_float" if k == "depth" else k for k in keys]
    buf = io.BytesIO()
    with warnings.catch_warnings():   # the TorchScript-based exporter warns that it is deprecated
        warnings.simplefilter("ignore")
        torch.onnx.export(_PositionalInputs(module, keys), tuple(example[k] for k in keys), buf, input_names=names,
                          output_names=["action"], dynamic_axes={n: {0: "batch"} for n in names + ["action"]},
                          opset_version=ONNX_OPSET, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    if "depth" in keys:   # uint16 millimetres in, cast to float in the graph
        graph = model.graph
        old = next(i for i in graph.input if i.name == "depth_float")
        dims = [d.dim_param or d.dim_value for d in old.type.tensor_type.shape.dim]
        index = list(graph.input).index(old)
        graph.input.remove(old)
        graph.input.insert(index, helper.make_tensor_value_info("depth", TensorProto.UINT16, dims))
        graph.node.insert(0, helper.make_node("Cast", ["depth"], ["depth_float"], to=TensorProto.FLOAT,
                                              name="depth_mm_to_float"))
    helper.set_model_props(model, {SPEC_FILE: json.dumps(obs_spec)})
    onnx.checker.check_model(model)
    path = Path(path)
    atomic_file_bytes(model.SerializeToString(), path)
    return path
