"""ROS 2 RealSense node on pyrealsense2 alone, for machines without realsense-ros (`aac_realsense_node`).

Publishes what `realsense2_camera` publishes with `align_depth.enable:=true` (relative names, so
`-r __ns:=/x` prefixes them):
  <camera_namespace>/color/image_raw                      sensor_msgs/Image rgb8
  <camera_namespace>/color/camera_info                    sensor_msgs/CameraInfo
  <camera_namespace>/aligned_depth_to_color/image_raw     sensor_msgs/Image 16UC1, millimetres, 0 = no reading
  <camera_namespace>/aligned_depth_to_color/camera_info   sensor_msgs/CameraInfo (the colour intrinsics)
all with frame_id camera_color_optical_frame and one stamp per frame pair: the node clock when the
pair arrived. Parameters: camera_namespace ('camera/camera'), width (640), height (480), fps (30),
serial_no ('' = first device; any type, so `-p serial_no:=012345` keeps working, and a leading
'_' is dropped as in realsense-ros: `serial_no:=_012345` keeps leading zeros), frame_timeout_ms (1000).

A reader thread takes frames from the source (`RealSenseSource`, or any object with `start()`,
`stop()`, `read(timeout_ms)` and `intrinsics`); a frame timeout is logged and counted
(`timeouts`), never fatal, and publishing resumes when frames come back.
"""
from __future__ import annotations

import threading

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from aac_robot import ros_interface as ri
from aac_robot.ros_convert import camera_info_msg, numpy_to_image
from aac_robot.node_main import declare_parameters, run_node

from .realsense_source import FrameTimeout, RealSenseError, RealSenseSource

NODE_NAME = "aac_realsense_node"
PARAMETERS = {"camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE, "width": 640, "height": 480, "fps": 30,
              "serial_no": "", "frame_timeout_ms": 1000}


class RealSenseNode(Node):
    def __init__(self, source=None, *, node_name: str = NODE_NAME, **kwargs):
        super().__init__(node_name, **kwargs)
        values = declare_parameters(self, PARAMETERS, lambda name: ParameterDescriptor(dynamic_typing=name == "serial_no"))
        serial = values["serial_no"]
        serial = "" if serial is None else str(serial)
        values["serial_no"] = serial[1:] if serial.startswith("_") else serial
        self.params = values
        self.timeout_ms = int(values["frame_timeout_ms"])
        if self.timeout_ms <= 0:
            raise RealSenseError(f"frame_timeout_ms must be > 0, got {self.timeout_ms}")
        if source is None:   # an injected source (tests, replay) brings its own width/height/fps/device
            source = RealSenseSource(int(values["width"]), int(values["height"]), int(values["fps"]),
                                     str(values["serial_no"]), timeout_ms=self.timeout_ms)
        self.source = source
        self.frame_id = ri.COLOR_OPTICAL_FRAME
        cam = str(values["camera_namespace"]).strip("/")
        self.pub_color = self.create_publisher(Image, f"{cam}/{ri.COLOR_IMAGE}", 10)
        self.pub_color_info = self.create_publisher(CameraInfo, f"{cam}/{ri.COLOR_INFO}", 10)
        self.pub_depth = self.create_publisher(Image, f"{cam}/{ri.DEPTH_IMAGE}", 10)
        self.pub_depth_info = self.create_publisher(CameraInfo, f"{cam}/{ri.DEPTH_INFO}", 10)
        self.published = 0      # frame pairs published
        self.timeouts = 0       # reads that timed out
        self.errors = 0         # other SDK errors while streaming

        try:
            self.source.start()
        except Exception:
            Node.destroy_node(self)
            raise
        intr = self.source.intrinsics
        distortion = getattr(self.source, "distortion", None)
        if distortion and any(abs(c) > 1e-9 for c in distortion[1]):
            self.get_logger().warning(f"colour stream has {distortion[0]} distortion {list(distortion[1])}; "
                                      "camera_info carries plumb_bob with zero coefficients")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="realsense_reader", daemon=True)
        self._thread.start()
        describe = getattr(self.source, "describe", lambda: "camera")()
        self.get_logger().info(f"{describe}: {intr.width}x{intr.height} rgb8 + aligned 16UC1 depth on "
                               f"{self.resolve_topic_name(cam)}/..., depth scale "
                               f"{getattr(self.source, 'depth_scale', None)} m/unit")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source.read(self.timeout_ms)
            except FrameTimeout as exc:
                self.timeouts += 1
                self.get_logger().warning(f"{exc} [{self.timeouts} timeouts so far]",
                                          throttle_duration_sec=5.0)
                continue
            except RealSenseError as exc:   # e.g. read() racing stop() at shutdown
                if self._stop.is_set():
                    return
                self.errors += 1
                self.get_logger().error(str(exc), throttle_duration_sec=5.0)
                self._stop.wait(0.1)
                continue
            except RuntimeError as exc:     # an SDK error in the middle of streaming (device lost, ...)
                if self._stop.is_set():
                    return
                self.errors += 1
                self.get_logger().error(f"RealSense read failed: {exc}", throttle_duration_sec=5.0)
                self._stop.wait(0.1)
                continue
            if self._stop.is_set():
                return
            self.publish(frame)

    def publish(self, frame) -> None:
        """Publish one colour + aligned depth pair, stamped now with the node clock."""
        stamp = self.get_clock().now().nanoseconds
        intr = self.source.intrinsics
        info = camera_info_msg(intr, stamp, self.frame_id)
        self.pub_color.publish(numpy_to_image(frame.rgb, "rgb8", stamp, self.frame_id))
        self.pub_color_info.publish(info)
        self.pub_depth.publish(numpy_to_image(frame.depth_mm, "16UC1", stamp, self.frame_id))
        self.pub_depth_info.publish(info)
        self.published += 1

    def destroy_node(self):
        stop, thread = getattr(self, "_stop", None), getattr(self, "_thread", None)
        if stop is not None:
            stop.set()
        if thread is not None and thread.is_alive():
            thread.join(self.timeout_ms / 1000.0 + 2.0)
        if getattr(self, "source", None) is not None:
            self.source.stop()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(RealSenseNode, "aac_realsense_node", (RealSenseError, ParameterException), args)


if __name__ == "__main__":
    raise SystemExit(main())
