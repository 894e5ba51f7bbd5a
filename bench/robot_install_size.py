"""Installed size and policy-node cold start of the robot PC's environment against the full (training)
one, issue 18.

    .venv/bin/python bench/robot_install_size.py        # builds /tmp/aac-venv-robot with the README's command

The robot venv is made by `VENV=<dir> ./scripts/setup_env.sh requirements-robot.txt` (the README's robot
PC command); the full one is this checkout's .venv (`./scripts/setup_env.sh`). Sizes are the bytes of the
files under each venv's site-packages; the largest top-level entries are listed.

Cold start: `aac_policy_node` started as a fresh process (robot venv: actor.onnx on ONNX Runtime; full
venv: actor.pt on torch), with this process already publishing camera frames, camera_info, the goal and
(from a helper process) joint states; the time from the process start to its first command on
aac/policy/twist. Median of --cold-runs starts per case, cases interleaved. Writes
bench/results/robot_install_size.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

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


def cold_starts(cases: dict[str, tuple[Path, Path]], runs: int) -> dict[str, dict]:
    """{case: (python, actor)} -> {case: first-command latencies of fresh policy-node processes}."""
    from deploy_latency import make_actor, robot_process   # noqa: F401 (bench/, this script's folder)
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from sensor_msgs.msg import CameraInfo, Image

    from aac_robot import ros_interface as ri
    from aac_robot.camera import CameraIntrinsics
    from aac_robot.node_main import BackgroundSpin
    from aac_robot.ros_convert import camera_info_msg, numpy_to_image, pose_stamped
    ns = "cold"
    intr = CameraIntrinsics.from_yaml()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (intr.height, intr.width, 3), dtype=np.uint8)
    depth = rng.integers(300, 2000, (intr.height, intr.width), dtype=np.uint16)
    times: dict[str, list[float]] = {k: [] for k in cases}
    robot = mp.get_context("spawn").Process(target=robot_process, args=(ns,), daemon=True)
    robot.start()
    with BackgroundSpin("aac_cold_start_feeder") as node:
        cam = f"/{ns}/{ri.DEFAULT_CAMERA_NAMESPACE}"
        pubs = (node.create_publisher(Image, f"{cam}/{ri.COLOR_IMAGE}", 10),
                node.create_publisher(Image, f"{cam}/{ri.DEPTH_IMAGE}", 10),
                node.create_publisher(CameraInfo, f"{cam}/{ri.COLOR_INFO}", 10),
                node.create_publisher(PoseStamped, f"/{ns}/{ri.GOAL}", 10))
        first: list[float] = []
        node.create_subscription(TwistStamped, f"/{ns}/{ri.POLICY_TWIST}",
                                 lambda _m: first.append(time.perf_counter()) if not first else None, 10)
        stop = threading.Event()

        def feed() -> None:   # the camera and the goal, 30 Hz, the whole time
            while not stop.is_set():
                t_ns = node.get_clock().now().nanoseconds
                pubs[3].publish(pose_stamped((0.6, 0.1, 0.02), t_ns, ri.BASE_FRAME))
                pubs[2].publish(camera_info_msg(intr, t_ns, ri.COLOR_OPTICAL_FRAME))
                pubs[1].publish(numpy_to_image(depth, "16UC1", t_ns, ri.COLOR_OPTICAL_FRAME))
                pubs[0].publish(numpy_to_image(rgb, "rgb8", t_ns, ri.COLOR_OPTICAL_FRAME))
                time.sleep(1 / 30)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for _ in range(runs):
                for case, (python, actor) in cases.items():
                    first.clear()
                    t0 = time.perf_counter()
                    proc = subprocess.Popen([str(python), "-m", "aac_policy.policy_node", "--ros-args", "-r",
                                             f"__ns:=/{ns}", "-p", f"actor:={actor}"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    while not first and time.perf_counter() - t0 < 120 and proc.poll() is None:
                        time.sleep(0.005)
                    if not first:
                        raise RuntimeError(f"{case}: no command within 120 s (exit {proc.poll()}): "
                                           f"{proc.stderr.read()[-2000:] if proc.poll() is not None else ''}")
                    times[case].append(first[0] - t0)
                    proc.send_signal(subprocess.signal.SIGINT)
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                    time.sleep(1.0)
        finally:
            stop.set()
            robot.terminate()
    return {k: {"runtime": "onnxruntime" if cases[k][1].suffix == ".onnx" else "torch",
                "first_command_s": [round(t, 3) for t in v], "median_s": round(statistics.median(v), 3)}
            for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--robot-venv", type=Path, default=Path("/tmp/aac-venv-robot"))
    ap.add_argument("--cold-runs", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
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
    from deploy_latency import make_actor
    actor = make_actor(Path(tempfile.mkdtemp()) / "actor.pt")   # actor.pt + actor.onnx (untrained push actor)
    cold = cold_starts({"robot venv, actor.onnx": (args.robot_venv / "bin" / "python", actor.with_suffix(".onnx")),
                        "full venv, actor.pt": (REPO / ".venv" / "bin" / "python", actor)}, args.cold_runs)
    out["cold_start"] = {"what": "policy node process start -> first command on aac/policy/twist (640x480 "
                                 "camera frames already flowing), median of starts", **cold}
    (HERE / "results" / "robot_install_size.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
