"""The one `main()` of every aac rclpy node: init, build, spin, clean shutdown, exit code.

Ctrl-C / SIGTERM / launch shutdown end the spin normally (exit 0, the node's destroy_node() runs,
e.g. the recorder closes its bag); a start-up error of the kinds the node names (bad parameters,
no camera, port taken...) prints one line and exits 2 instead of a traceback.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading

import rclpy
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from .config_base import ConfigError
from .ros_interface import fastdds_profile_env

# Endpoints that carry a message every control step are created without rclpy's default QoS event
# handlers (`event_callbacks=QUIET_PUB` / `QUIET_SUB`). Each handler is a waitable that the Python
# executor adds to its wait set and checks on every wake-up; with two per endpoint they made up most
# of a sim node's wait set (bench/ros_overhead.py: lockstep steps/s +10 % without them). What is lost
# is the incompatible-QoS / -type warning on those endpoints; they are reliable + volatile, which
# every subscriber except a transient-local one accepts, and a trainer whose sim stays silent drops
# it after step_timeout_s with a log line. Latched topics (transient local) keep the warnings.
QUIET_PUB = PublisherEventCallbacks(use_default_callbacks=False)
QUIET_SUB = SubscriptionEventCallbacks(use_default_callbacks=False)


def declare_parameters(node, parameters: dict, descriptor=None) -> dict:
    """Declare a node module's PARAMETERS ({name: default}: the one declaration of the node's parameters;
    launch files, config YAML and tests read the same dict) and return {name: value}. `descriptor`: one
    rcl_interfaces ParameterDescriptor for all, or a function name -> descriptor (None = rclpy's default)."""
    for name, default in parameters.items():
        d = descriptor(name) if callable(descriptor) else descriptor
        node.declare_parameter(name, default, d) if d is not None else node.declare_parameter(name, default)
    return {name: node.get_parameter(name).value for name in parameters}


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_malloc_for_frames() -> bool:
    """glibc: serve allocations up to 64 MB from the heap and keep up to 128 MB of freed memory, instead
    of an mmap + munmap per buffer. Otherwise every ~1 MB buffer of a 640x480 frame (message, CDR,
    payload) faults in fresh zeroed pages on every message: bench/frame_transport.py, a colour + depth
    pair across processes, round trip p50 6.7 -> 3.4 ms, p99 9.3 -> 4.7 ms. Returns whether it was set;
    not off glibc, nor when the user tunes malloc themselves (GLIBC_TUNABLES, MALLOC_*)."""
    if os.environ.get("GLIBC_TUNABLES") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 128 << 20))


def set_thread_priority(priority: int) -> str | None:
    """SCHED_FIFO at `priority` (1-99) for every thread of this process: the executor's, the middleware's
    receive threads, ONNX Runtime's (threads started later inherit it from the thread that starts
    them). ros2_control's controller_manager does the same for its control loop (its `thread_priority`,
    50 by default), so a node on the command path is not kept waiting behind ordinary processes on a
    busy robot PC. 0 leaves the OS default. Returns None when set, else why not: the node logs that and
    runs on at normal priority, as controller_manager does. Needs the rtprio limit (ros2_control's
    docs: a `realtime` group with `rtprio 99` in /etc/security/limits.conf) or CAP_SYS_NICE."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 99:
        raise ConfigError(f"thread_priority must be an integer 0 (off) to 99, got {priority!r}")
    if priority == 0:
        return None
    if not hasattr(os, "SCHED_FIFO") or not os.path.isdir("/proc/self/task"):
        return "SCHED_FIFO needs Linux"
    done = []
    for tid in sorted(int(t) for t in os.listdir("/proc/self/task")):
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
            done.append(tid)
        except ProcessLookupError:   # the thread ended meanwhile
            continue
        except OSError as exc:
            for t in done:   # all threads or none: lowering back is always allowed
                try:
                    os.sched_setscheduler(t, os.SCHED_OTHER, os.sched_param(0))
                except OSError:
                    pass
            return (f"could not set SCHED_FIFO priority {priority} ({exc.strerror}); the user needs the rtprio "
                    f"limit (e.g. /etc/security/limits.conf: @realtime - rtprio 99, as for ros2_control)")
    return None


def apply_thread_priority(node, priority: int) -> None:
    """`set_thread_priority` for a node at the end of its construction, logged."""
    why_not = set_thread_priority(priority)
    if why_not:
        node.get_logger().warning(f"thread_priority {priority}: {why_not}; running at normal priority")
    elif priority:
        node.get_logger().info(f"running with SCHED_FIFO priority {priority}")


def init_rclpy(args=None) -> None:
    """rclpy.init with the packaged Fast DDS profile for camera-sized messages (unless the user names
    their own; Fast DDS reads it when the process's first participant is created) and malloc tuned for
    frame-sized buffers (`tune_malloc_for_frames`)."""
    os.environ.update(fastdds_profile_env(os.environ))
    tune_malloc_for_frames()
    rclpy.init(args=args)


def run_node(make_node, name: str, errors: tuple[type[BaseException], ...], args=None, on_close=None,
             run=rclpy.spin) -> int:
    """`run(node)` is what the node does until it ends: spin (the default), or e.g. train."""
    init_rclpy(args)
    node = None
    try:
        node = make_node()
        run(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        print(f"{name}: {exc}", file=sys.stderr, flush=True)
        return 2
    except Exception:
        if rclpy.ok():
            raise
        return 0   # SIGTERM while the node was being built: rclpy shut the context down under it
    finally:
        if node is not None:
            if on_close is not None:
                on_close(node)
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


class ExecutorThread:
    """`with ExecutorThread(node) as spin:` the node's callbacks run on a SingleThreadedExecutor in a
    daemon thread while the body runs on this one (more nodes: `spin.executor.add_node(other)`).
    On exit the executor stops and the thread is joined before the caller destroys the node: a
    thread still inside rcl when the process exits aborts it ("terminate called without an active
    exception"). An exception the spin raised (a callback's) is raised here, as rclpy.spin would
    (`raise_failures=False`: only printed by the thread, for clients whose nodes come and go)."""

    def __init__(self, node, raise_failures: bool = True):
        self.raise_failures = raise_failures
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(node)
        self.failed: list[BaseException] = []
        self.thread = threading.Thread(target=self._spin, daemon=True)

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except ExternalShutdownException:   # rclpy shut down (SIGTERM): a stop, not a failure
            pass
        except BaseException as exc:
            if not self.raise_failures:
                raise
            self.failed.append(exc)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def __enter__(self) -> "ExecutorThread":
        self.thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.thread.join(5)
        if self.failed and exc_type is None:
            raise self.failed[0]


class BackgroundSpin:
    """`with BackgroundSpin("name") as node:` rclpy.init (if needed) + a node spun by an
    ExecutorThread, for code that waits on the main thread (benchmarks, evals, tests). More nodes:
    `spin.executor.add_node(other)`. Clean shutdown on exit."""

    def __init__(self, name: str = "aac_client"):
        self.name = name

    def __enter__(self):
        if not rclpy.ok():
            init_rclpy()
        self.node = rclpy.create_node(self.name)
        self.spin = ExecutorThread(self.node, raise_failures=False).__enter__()
        self.executor = self.spin.executor
        return self.node

    def __exit__(self, *exc):
        try:
            self.spin.__exit__(*exc)
        finally:
            self.node.destroy_node()
            if rclpy.ok():
                rclpy.shutdown()
