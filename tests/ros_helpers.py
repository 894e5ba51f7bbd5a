"""Real rclpy over Fast DDS for the tests: sim nodes in their own processes, a client node here.

Every test session gets its own ROS_DOMAIN_ID and localhost-only discovery, so parallel runs on
one machine do not see each other's nodes.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
from aac_sim.node_main import BackgroundSpin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


class SimProcess:
    """`aac_sim_node` in its own process (real DDS between processes)."""

    def __init__(self, namespace: str, **params):
        self.namespace, self.params = namespace, params
        self.proc: subprocess.Popen | None = None

    def start(self) -> "SimProcess":
        args = [sys.executable, "-m", "aac_sim.sim_node", "--ros-args", "-r", f"__ns:=/{self.namespace}"]
        for k, v in self.params.items():
            v = str(v).lower() if isinstance(v, bool) else v
            args += ["-p", f"{k}:={v}"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src" / "aac_sim"),
                                                           os.environ.get("PYTHONPATH", "")]))
        self.log = open(ROOT / ".pytest_cache" / f"sim_{self.namespace}_{os.getpid()}.log", "w") \
            if (ROOT / ".pytest_cache").is_dir() else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# a client node spun in a background thread, shut down cleanly (the product's own helper)
Spinning = BackgroundSpin


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
