"""Installed size of the robot PC's environment against the full (training) one, issue 18.

    .venv/bin/python bench/robot_install_size.py        # builds /tmp/aac-venv-robot with the README's command

The robot venv is made by `VENV=<dir> ./scripts/setup_env.sh requirements-robot.txt` (the README's robot
PC command); the full one is this checkout's .venv (`./scripts/setup_env.sh`). Sizes are the bytes of the
files under each venv's site-packages; the largest top-level entries are listed. Writes
bench/results/robot_install_size.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent


def site_packages(venv: Path) -> Path:
    rel = Path(sysconfig.get_path("purelib")).relative_to(sys.prefix)
    return venv / rel


def size_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            fp = os.path.join(root, f)
            if not os.path.islink(fp):
                total += os.path.getsize(fp)
    return total / 2**20


def breakdown(sp: Path, top: int = 8) -> list[list]:
    sizes = [[p.name, round(size_mb(p) if p.is_dir() else p.stat().st_size / 2**20, 1)] for p in sp.iterdir()]
    return sorted(sizes, key=lambda x: -x[1])[:top]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--robot-venv", type=Path, default=Path("/tmp/aac-venv-robot"))
    args = ap.parse_args()
    subprocess.run(["./scripts/setup_env.sh", "requirements-robot.txt"], cwd=REPO, check=True,
                   env={**os.environ, "VENV": str(args.robot_venv)})
    full, robot = site_packages(REPO / ".venv"), site_packages(args.robot_venv)
    missing = [m for m in ("torch", "gymnasium", "tensorboard", "matplotlib") if (robot / m).exists()]
    out = {"command": "python bench/robot_install_size.py",
           "robot_install": "VENV=<dir> ./scripts/setup_env.sh requirements-robot.txt",
           "full_mb": round(size_mb(full), 1), "robot_mb": round(size_mb(robot), 1),
           "full_largest_mb": breakdown(full), "robot_largest_mb": breakdown(robot),
           "training_packages_in_robot_venv": missing}
    out["robot_over_full"] = round(out["robot_mb"] / out["full_mb"], 2)
    (HERE / "results" / "robot_install_size.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
