"""Per-step topics served from the caller's own thread: wait, take, call back. No executor.

In lockstep training every control step is one round trip (commands out, observation back), and on
two cores the CPU that rclpy's Python executor spends per message is what the round trip waits for:
on every wake-up `SingleThreadedExecutor` rebuilds its wait set from every entity of the node
(services, parameter services, clients, guard conditions...) in Python, and the message then crosses
a thread (executor thread -> the thread that waits for the observation). A `TakeLoop` owns a
private node that no executor spins, holds only the per-step subscriptions, and is driven by the
thread that needs their messages: `spin_once(timeout)` waits on a wait set of just those
subscriptions and runs the callbacks of everything that has arrived, in that thread.

It uses the same rclpy calls as rclpy's own `rclpy.wait_for_message` (`_rclpy.WaitSet`,
`Subscription.handle.take_message`). Everything else of a node (services, latched topics,
parameters, timers) stays on the node its executor spins.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

from aac_robot.node_main import QUIET_SUB

from .config import ConfigError

# the `step_reliability` parameter of the sim and trainer nodes
STEP_QOS = {
    "best_effort": qos_profile_sensor_data,
    "reliable": QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
}


def step_qos(reliability: str) -> QoSProfile:
    """QoS of the per-step subscriptions: `best_effort` (default: no heartbeat/acknack wake-ups; a
    lost message shows as a step timeout) or `reliable` (lost samples are re-sent; for sims on
    other machines over a lossy network or with large frames that Fast DDS splits into fragments)."""
    if reliability not in STEP_QOS:
        raise ConfigError(f"step_reliability must be one of {sorted(STEP_QOS)}, got {reliability!r}")
    return STEP_QOS[reliability]


_names = itertools.count()


class TakeLoop:
    def __init__(self, owner, suffix: str = "steps", reliability: str = "best_effort"):
        """A private node next to `owner` (same namespace, context and remappings; named
        `<owner>_<suffix><n>`: a local `__node` remap, because a launch file's `name=` is a global
        one that would give both nodes the owner's name)."""
        self.qos = step_qos(reliability)   # checked before anything is created
        name = f"{owner.get_name()}_{suffix}{next(_names)}"
        self.node = rclpy.create_node(name, namespace=owner.get_namespace(), context=owner.context,
                                      cli_args=["--ros-args", "-r", f"__node:={name}"],
                                      start_parameter_services=False)
        self.subscriptions: list[tuple[Any, Callable]] = []
        self._wait_set = None

    def subscribe(self, msg_type, topic: str, callback: Callable):
        """Best effort unless the loop was made `reliable` (rclpy's sensor-data profile, as camera
        consumers use; it matches reliable and best-effort publishers alike). A reliable reader
        makes Fast DDS's event and listener threads of both processes wake for heartbeats and
        acknacks around every message: with 2 lockstep sims that was ~4x the context switches per
        step, most of them preempting the sims' main threads. Lockstep has one message per topic in
        flight; a lost one shows as a step timeout, which the trainer already handles (the sim is
        dropped for that episode)."""
        sub = self.node.create_subscription(msg_type, topic, lambda _msg: None, self.qos,
                                            event_callbacks=QUIET_SUB)
        self.subscriptions.append((sub, callback))
        self._wait_set = None
        return sub

    def take_all(self) -> int:
        """Run the callback of every message already received; returns how many."""
        n = 0
        for sub, callback in self.subscriptions:
            while (got := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                callback(got[0])
                n += 1
        return n

    def spin_once(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for messages; take one from each subscription that has any and run
        its callback. Returns how many were taken (0: timed out, or a signal arrived).

        A subscription with unread messages is ready at once in the next wait (level-triggered), so
        a take is only tried where one is waiting: an empty take costs as much as a full one."""
        if self._wait_set is None:
            self._wait_set = _rclpy.WaitSet(len(self.subscriptions), 0, 0, 0, 0, 0, self.node.context.handle)
        ws = self._wait_set
        ws.clear_entities()
        for sub, _ in self.subscriptions:
            ws.add_subscription(sub.handle)
        # no sigint guard condition here: with one, ~1 in 10 stops by a signal ended in SIGSEGV (likely
        # rclpy's signal thread triggering it while the stopping process destroyed it); a wait is
        # bounded by its timeout, then Python raises KeyboardInterrupt as usual
        ws.wait(max(0, int(timeout_s * 1e9)))
        ready = ws.get_ready_entities("subscription")
        n = 0
        for sub, callback in self.subscriptions:
            if sub.handle.pointer in ready and (got := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                callback(got[0])
                n += 1
        return n

    def destroy(self) -> None:
        # the wait set first: it still points at the subscriptions (not finalized after them at exit)
        if self._wait_set is not None:
            self._wait_set.destroy_when_not_in_use()
            self._wait_set = None
        self.node.destroy_node()
