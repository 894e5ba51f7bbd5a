"""How long a camera frame pair takes to cross processes over rclpy + Fast DDS, without any policy.

    .venv/bin/python bench/frame_transport.py [--frames 600]

The diagnostic behind bench/deploy_latency.py's split (issue 18): this process publishes colour + aligned
depth at 30 Hz, as the deploy latency bench does; an echo process (its own rclpy node, the same
subscriptions and QoS as aac_policy_node: depth 5, reliable) answers every colour frame whose depth
partner has arrived with a small TwistStamped carrying the frame's stamp. Round trip = answer arrival -
frame send, minus nothing: it holds the frame's transport, the echo's rclpy callback and one small
message back (the policy node's own hop out). Cases 84x84 and 640x480 in one run. Writes
bench/results/frame_transport.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("aac_robot", "aac_policy"):
    sys.path.insert(0, str(ROOT / "src" / pkg))
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
NS = "transport"


def echo_process(ns: str) -> None:
    """The policy node's inputs without the policy: pair colour with depth by stamp, answer at once."""
    import rclpy
    from geometry_msgs.msg import TwistStamped
    from sensor_msgs.msg import Image

    from aac_robot import ros_interface as ri
    from aac_robot.node_main import init_rclpy
    from aac_robot.ros_convert import ns_from_stamp
    init_rclpy()
    node = rclpy.create_node("aac_transport_echo")
    cam = f"/{ns}/{ri.DEFAULT_CAMERA_NAMESPACE}"
    pub = node.create_publisher(TwistStamped, f"/{ns}/echo", 10)
    depth_stamps: set = set()

    def on_depth(msg):
        depth_stamps.add((msg.header.stamp.sec, msg.header.stamp.nanosec))

    def on_color(msg):
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key in depth_stamps:
            depth_stamps.discard(key)
            out = TwistStamped()
            out.header.stamp = msg.header.stamp
            # one way, on the shared system clock: the frame's send time (its stamp) -> this callback
            out.twist.linear.x = (node.get_clock().now().nanoseconds - ns_from_stamp(msg.header.stamp)) * 1e-6
            pub.publish(out)

    node.create_subscription(Image, f"{cam}/{ri.DEPTH_IMAGE}", on_depth, 5)
    node.create_subscription(Image, f"{cam}/{ri.COLOR_IMAGE}", on_color, 5)
    try:
        rclpy.spin(node)
    except Exception:   # terminated by the parent
        pass


def run_case(node, size: tuple[int, int], frames: int, rate_hz: float) -> dict:
    from geometry_msgs.msg import TwistStamped
    from sensor_msgs.msg import Image

    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import ns_from_stamp, numpy_to_image
    cam = f"/{NS}/{ri.DEFAULT_CAMERA_NAMESPACE}"
    pub_c = node.create_publisher(Image, f"{cam}/{ri.COLOR_IMAGE}", 10)
    pub_d = node.create_publisher(Image, f"{cam}/{ri.DEPTH_IMAGE}", 10)
    sent: dict[int, float] = {}
    rtt: list[float] = []
    one_way: list[float] = []
    publish_ms: list[float] = []

    def on_echo(msg):
        t = time.perf_counter()
        s = ns_from_stamp(msg.header.stamp)
        if s in sent:
            rtt.append((t - sent.pop(s)) * 1e3)
            one_way.append(msg.twist.linear.x)
    sub = node.create_subscription(TwistStamped, f"/{NS}/echo", on_echo, 100)
    h, w = size
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    depth = rng.integers(300, 2000, (h, w), dtype=np.uint16)
    echo = mp.get_context("spawn").Process(target=echo_process, args=(NS,), daemon=True)
    echo.start()
    try:
        deadline = time.monotonic() + 60
        while node.count_subscribers(f"{cam}/{ri.COLOR_IMAGE}") < 1 or node.count_publishers(f"/{NS}/echo") < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the echo process did not come up")
            time.sleep(0.1)
        time.sleep(1.0)
        for k in range(frames + 50):   # 50 warm-up frames
            t_ns = node.get_clock().now().nanoseconds
            if k == 50:
                rtt.clear()
                one_way.clear()
                publish_ms.clear()
            t0 = sent[t_ns] = time.perf_counter()
            pub_d.publish(numpy_to_image(depth, "16UC1", t_ns, ri.COLOR_OPTICAL_FRAME))
            pub_c.publish(numpy_to_image(rgb, "rgb8", t_ns, ri.COLOR_OPTICAL_FRAME))
            publish_ms.append((time.perf_counter() - t0) * 1e3)
            time.sleep(1.0 / rate_hz)
        time.sleep(0.5)
    finally:
        echo.terminate()
        echo.join(10)
        node.destroy_subscription(sub)
        node.destroy_publisher(pub_c)
        node.destroy_publisher(pub_d)
    lat = np.array(rtt)
    if lat.size == 0:
        raise RuntimeError(f"{w}x{h}: no echo came back")
    pct = lambda a, q: float(np.percentile(np.asarray(a), q))  # noqa: E731
    return {"frames_sent": frames, "answered": int(lat.size), "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90),
            "p99_ms": pct(lat, 99), "max_ms": float(lat.max()),
            # the parts: building + publishing the pair here (the camera driver's share), frame send -> the
            # echo's colour callback (one way, system clock), and the rest (the small answer back)
            "publish_pair_p50_ms": pct(publish_ms, 50), "publish_pair_p99_ms": pct(publish_ms, 99),
            "one_way_p50_ms": pct(one_way, 50), "one_way_p99_ms": pct(one_way, 99)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--rate", type=float, default=30.0)
    args = ap.parse_args()
    from aac_robot.node_main import BackgroundSpin
    results = {}
    with BackgroundSpin("aac_frame_transport") as node:
        for name, size in (("84x84", (84, 84)), ("640x480", (480, 640))):
            results[name] = run_case(node, size, args.frames, args.rate)
            r = results[name]
            print(f"{name}: round trip p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms "
                  f"({r['answered']} of {r['frames_sent']}); publishing the pair p50 {r['publish_pair_p50_ms']:.2f} ms, "
                  f"send -> echo callback p50 {r['one_way_p50_ms']:.2f} ms", flush=True)
    out = {"command": "python bench/frame_transport.py " + " ".join(sys.argv[1:]),
           "what": "colour + depth frame pair published here -> echo process (rclpy, policy node's QoS) -> small "
                   "stamped answer back; no policy", "rate_hz": args.rate, "cpus": os.cpu_count(), "results": results}
    (ROOT / "bench" / "results" / "frame_transport.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
