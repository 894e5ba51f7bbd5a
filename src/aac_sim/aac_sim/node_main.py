"""The one `main()` of every aac rclpy node: init, build, spin, clean shutdown, exit code.

Ctrl-C / SIGTERM / launch shutdown end the spin normally (exit 0, the node's destroy_node() runs,
e.g. the recorder closes its bag); a start-up error of the kinds the node names (bad parameters,
no camera, port taken...) prints one line and exits 2 instead of a traceback.
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException


def run_node(make_node, name: str, errors: tuple[type[BaseException], ...], args=None, on_close=None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        print(f"{name}: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        if node is not None:
            if on_close is not None:
                on_close(node)
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
