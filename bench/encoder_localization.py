"""Can the pixel encoder locate the block? Camera placement vs how precisely the actor's encoder
learns the block position from the policy image (the paper's auxiliary regression, alone).

For each camera mount: N reset frames of `push` (random block and goal, all domain randomization
on, 0-2 random steps), the actor's `ImageEncoder` + a linear head trained to regress the block
position (z-scored, batch 128, DrQ shift) and tested on 400 frames of unseen episodes. Reports
the mean absolute test error in metres (x, y) during training.

    .venv/bin/python bench/encoder_localization.py [--frames 2000] [--steps 1200]

Writes bench/results/encoder_localization.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from aac_policy.networks import ImageEncoder, image_tensor, random_shift
from aac_robot.camera import optical_look_at
from aac_sim.config import SimConfig
from aac_sim.env import AacPandaEnv

OUT = Path(__file__).parent / "results" / "encoder_localization.json"
TEST_FRAMES = 400
# (eye, target) in panda_link0: the packaged default, and the earlier default 0.98 m away
MOUNTS = {"default (0.95, 0, 0.5) -> (0.5, 0, 0.05)": ((0.95, 0.0, 0.5), (0.5, 0.0, 0.05)),
          "earlier (1.2, 0, 0.75) -> (0.45, 0, 0.12)": ((1.2, 0.0, 0.75), (0.45, 0.0, 0.12))}


def extrinsics_yaml(eye, target, directory: Path) -> str:
    q = [float(v) for v in optical_look_at(eye, target)]
    path = directory / f"mount_{len(list(directory.iterdir()))}.yaml"
    path.write_text("parent_frame: panda_link0\nchild_frame: camera_color_optical_frame\n"
                    f"translation: {list(eye)}\nrotation_xyzw: {q}\n")
    return str(path)


def frames(extrinsics: str, n: int):
    env = AacPandaEnv(config=SimConfig(task="push", camera_extrinsics=extrinsics))
    obj = env.state_layout["object_pos"]
    fx = env.policy_intrinsics.fx   # focal length in policy-image pixels
    rgb, depth, pos = [], [], []
    for i in range(n):
        rng = np.random.default_rng(i)
        o, _ = env.reset(seed=i)
        for _ in range(int(rng.integers(0, 3))):
            o, *_ = env.step(rng.uniform(-1, 1, 4))
        rgb.append(o["rgb"])
        depth.append(o["depth"])
        pos.append(o["state"][obj])
    env.close()
    return np.stack(rgb), np.stack(depth), np.stack(pos), fx


def train_and_test(rgb, depth, pos, n_train: int, steps: int, evals: int = 4) -> list[dict]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mu, sd = pos[:n_train].mean(0), pos[:n_train].std(0)
    enc, head = ImageEncoder(4, rgb.shape[1], 50), nn.Linear(50, 3)
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), 1e-3)

    def batch(idx, pad):
        r, d = random_shift([rgb[idx], depth[idx]], pad, rng)
        return image_tensor(torch.from_numpy(r), torch.from_numpy(d)), torch.from_numpy((pos[idx] - mu) / sd)
    curve = []
    for step in range(1, steps + 1):
        x, y = batch(rng.integers(0, n_train, 128), 4)
        loss = F.mse_loss(head(enc(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % (steps // evals) == 0:
            with torch.no_grad():
                x, y = batch(np.arange(n_train, len(pos)), 0)
                err = ((head(enc(x)) - y).abs().numpy() * sd).mean(0)
            curve.append({"step": step, "test_abs_err_m_x": round(float(err[0]), 4),
                          "test_abs_err_m_y": round(float(err[1]), 4)})
    return curve


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=2000, help="training frames (distinct episodes)")
    ap.add_argument("--steps", type=int, default=1200)
    args = ap.parse_args()
    torch.set_num_threads(2)
    results = {"command": "python bench/encoder_localization.py " + " ".join(sys.argv[1:]),
               "train_frames": args.frames, "test_frames": TEST_FRAMES, "steps": args.steps, "batch": 128,
               "mounts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (eye, target) in MOUNTS.items():
            t = time.perf_counter()
            rgb, depth, pos, fx = frames(extrinsics_yaml(eye, target, Path(tmp)), args.frames + TEST_FRAMES)
            curve = train_and_test(rgb, depth, pos, args.frames, args.steps)
            dist = float(np.linalg.norm(np.subtract(eye, target)))
            results["mounts"][name] = {"distance_to_workspace_centre_m": round(dist, 3),
                                       # the nominal 4 cm block at the workspace centre
                                       "block_width_px": round(0.04 * fx / dist, 1), "curve": curve,
                                       "seconds": round(time.perf_counter() - t, 1)}
            print(name, json.dumps(results["mounts"][name]), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
