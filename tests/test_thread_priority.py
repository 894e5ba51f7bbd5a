"""`thread_priority` of the policy and arm nodes (aac_robot.node_main.set_thread_priority): SCHED_FIFO for
every thread of the node's process, as ros2_control's controller_manager does for its loop; all threads or
none, and a clear reason when the OS refuses."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aac_robot import node_main
from aac_robot.config_base import ConfigError

CHILD = r"""
import json, os, sys, threading
from aac_robot.node_main import set_thread_priority
stop = threading.Event()
early = threading.Thread(target=stop.wait)   # a thread that exists before, like the middleware's
early.start()
why_not = set_thread_priority(int(sys.argv[1]))
seen = {}
late = threading.Thread(target=lambda: seen.update(late=os.sched_getscheduler(0)))   # started after
late.start(); late.join()
policies = {t: os.sched_getscheduler(int(t)) for t in os.listdir("/proc/self/task")}
stop.set(); early.join()
print(json.dumps({"why_not": why_not, "policies": list(policies.values()), "late": seen["late"],
                  "fifo": os.SCHED_FIFO, "other": os.SCHED_OTHER,
                  "priority": os.sched_getparam(0).sched_priority}))
"""

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="SCHED_FIFO per thread: Linux")


def run_child(priority: int, drop_rtprio: bool = False) -> dict:
    def no_rtprio():   # like a user without the rtprio limit; root also loses CAP_SYS_NICE for the child
        import ctypes
        import resource
        resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
        if os.geteuid() == 0:   # prctl(PR_CAPBSET_DROP, CAP_SYS_NICE): the exec'd child lacks the capability
            if ctypes.CDLL(None, use_errno=True).prctl(24, 23, 0, 0, 0) != 0:
                raise PermissionError(ctypes.get_errno(), "cannot drop CAP_SYS_NICE")
    out = subprocess.run([sys.executable, "-c", CHILD, str(priority)], capture_output=True, text=True, timeout=180,
                         preexec_fn=no_rtprio if drop_rtprio else None, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@linux_only
def test_every_thread_gets_the_priority_or_none_does():
    r = run_child(7)
    if r["why_not"] is None:   # allowed here (root, or the rtprio limit): every thread, and later ones inherit it
        assert set(r["policies"]) == {r["fifo"]} and r["late"] == r["fifo"] and r["priority"] == 7
    else:
        assert "rtprio" in r["why_not"] and set(r["policies"]) == {r["other"]}
    off = run_child(0)
    assert off["why_not"] is None and set(off["policies"]) == {off["other"]}


@linux_only
def test_without_the_rtprio_limit_it_says_why_and_leaves_the_threads_as_they_were():
    try:
        r = run_child(7, drop_rtprio=True)
    except (AssertionError, PermissionError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot start a process without rtprio here: {exc}")
    assert r["why_not"] and "rtprio" in r["why_not"] and "Operation not permitted" in r["why_not"]
    assert set(r["policies"]) == {r["other"]} and r["late"] == r["other"]


def test_a_refusal_half_way_puts_back_the_threads_already_changed(monkeypatch):
    calls = []

    def fake(tid, policy, param):
        calls.append((tid, policy))
        if policy == os.SCHED_FIFO and len([c for c in calls if c[1] == os.SCHED_FIFO]) == 2:
            raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(node_main.os, "sched_setscheduler", fake)
    monkeypatch.setattr(node_main.os, "listdir", lambda path: ["11", "12", "13"])
    why_not = node_main.set_thread_priority(30)
    assert "Operation not permitted" in why_not
    assert calls == [(11, os.SCHED_FIFO), (12, os.SCHED_FIFO), (11, os.SCHED_OTHER)]


@pytest.mark.parametrize("bad", [-1, 100, 2.5, True, "50"])
def test_out_of_range_priorities_are_refused(bad):
    with pytest.raises(ConfigError, match="thread_priority"):
        node_main.set_thread_priority(bad)
