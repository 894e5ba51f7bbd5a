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
import tempfile
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
from aac_robot.node_main import BackgroundSpin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


class SimProcess:
    """`aac_sim_node` in its own process (real DDS between processes)."""

    def __init__(self, namespace: str, **params):
        self.namespace, self.params = namespace, params
        self.proc: subprocess.Popen | None = None
        self.log = None

    def start(self) -> "SimProcess":
        args = [sys.executable, "-m", "aac_sim.sim_node", "--ros-args", "-r", f"__ns:=/{self.namespace}"]
        for k, v in self.params.items():
            v = str(v).lower() if isinstance(v, bool) else v
            args += ["-p", f"{k}:={v}"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src" / "aac_sim"), str(ROOT / "src" / "aac_robot"),
                                                           os.environ.get("PYTHONPATH", "")]))
        # one log per sim process; its tail is printed when the test fails (pytest shows it)
        if self.log is None or self.log.closed:   # a restarted sim appends to the same log
            self.log = tempfile.NamedTemporaryFile("w", prefix=f"aac_sim_{self.namespace}_", suffix=".log",
                                                   delete=False)
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.closed:
            self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

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

    def __exit__(self, exc_type, *exc):
        alive = self.proc is not None and self.proc.poll() is None
        self.stop()
        if exc_type is not None:
            print(f"--- sim /{self.namespace} ({'was running' if alive else f'had exited, rc {self.proc.returncode}'}), "
                  f"last lines of {self.log.name}:\n{self.log_tail()}", flush=True)
        self.log.close()
        if exc_type is None and self.proc.returncode in (0, -signal.SIGINT):   # kept otherwise
            os.unlink(self.log.name)


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


def call_trigger(client, timeout: float = 10.0, attempts: int = 3, what: str = "service"):
    """A std_srvs/Trigger call that may be re-sent (the product's call_service: an answer can be lost
    right after wait_for_service); fails the test if no call is answered."""
    from std_srvs.srv import Trigger

    from aac_policy.ros_env import call_service
    assert client.wait_for_service(timeout_sec=timeout), f"{what} not available"
    result = call_service(client, Trigger.Request(), timeout, attempts)
    assert result is not None, f"{what}: no answer to {attempts} calls of {timeout} s"
    return result
