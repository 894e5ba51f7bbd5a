"""Draw what the policy sees: actor RGB and depth for several randomization draws of each task.

    aac_sim_image_grid --out runs/actor_images.png [--draws 4] [--image-size 84]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .config import TASKS  # noqa: E402
from .env import AacPandaEnv  # noqa: E402


def collect(task: str, draws: int, image_size: int, settle_steps: int = 3):
    env = AacPandaEnv(task=task, image_size=image_size)
    frames = []
    try:
        for seed in range(draws):
            obs, _ = env.reset(seed=seed)
            for _ in range(settle_steps):
                obs, *_ = env.step(np.array([0.0, 0.0, -0.3, 1.0]))
            frames.append((obs["rgb"], obs["depth"]))
    finally:
        env.close()
    return frames


def draw_grid(out: Path, draws: int = 4, image_size: int = 84, tasks=TASKS) -> Path:
    fig, axes = plt.subplots(len(tasks), 2 * draws, figsize=(2 * draws * 1.6, len(tasks) * 1.7), squeeze=False)
    for row, task in enumerate(tasks):
        for k, (rgb, depth) in enumerate(collect(task, draws, image_size)):
            axes[row, 2 * k].imshow(rgb)
            masked = np.ma.masked_equal(depth, 0)   # 0 = no reading: shown white
            axes[row, 2 * k + 1].imshow(masked, cmap="viridis")
            axes[row, 2 * k].set_title(f"{task} #{k} rgb", fontsize=7)
            axes[row, 2 * k + 1].set_title("depth (mm)", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"Actor images ({image_size}x{image_size}), domain randomization draws = seeds 0..{draws - 1}",
                 fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/actor_images.png"))
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=84)
    args = ap.parse_args(argv)
    print(f"wrote {draw_grid(args.out, args.draws, args.image_size)}")


if __name__ == "__main__":
    main()
