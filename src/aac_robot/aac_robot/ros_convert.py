"""numpy <-> ROS 2 message conversions shared by the sim node, the trainer node and deployment.

Uses only standard message packages (sensor_msgs, std_msgs, geometry_msgs, ...), never rclpy, so
it is importable and testable anywhere those packages are (the `ros-kilted-*` wheels or a full
install). Images: `rgb8`, `bgr8`, `16UC1` and `32FC1` are understood; anything else is refused with
a clear error (no silent guessing). Where cv_bridge is installed (a full ROS install) it turns the
validated message into the array; elsewhere (the pip wheels, where it does not exist) numpy does.

Labelled float arrays (`std_msgs/Float32MultiArray` has no header): `layout.dim[0]` carries the
stamp (`label="stamp"`, `size=sec`, `stride=nanosec`); every following dim is one named segment
of the flat `data` (`label=name`, `size=length`, `stride=offset`). `pack_labelled` /
`unpack_labelled` are the only code that needs to know this.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped, TwistStamped
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float32MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from .camera import CameraIntrinsics
from .ros_interface import FINGER_JOINTS

try:   # import guarded: not on PyPI, so the pip path (and CI) run the numpy conversion below
    from cv_bridge import CvBridge
    _CV_BRIDGE = CvBridge()
except ImportError:
    _CV_BRIDGE = None

# encoding -> (dtype, channels)
ENCODINGS = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "16UC1": (np.uint16, 1), "32FC1": (np.float32, 1),
             "mono8": (np.uint8, 1)}   # mono8: label images (the simulator's surface classes)


class MessageError(ValueError):
    """A message that cannot be used: wrong encoding, size, layout, NaN, unknown joint, ..."""


# ---------------------------------------------------------------------- stamps
def stamp_from_ns(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def ns_from_stamp(t) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


# ---------------------------------------------------------------------- images
def numpy_to_image(array: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Image:
    if encoding not in ENCODINGS:
        raise MessageError(f"unsupported image encoding {encoding!r}; supported: {sorted(ENCODINGS)}")
    dtype, ch = ENCODINGS[encoding]
    a = np.ascontiguousarray(array)
    want = 3 if ch == 3 else 2
    if a.dtype != dtype or a.ndim != want or (ch == 3 and a.shape[2] != 3):
        raise MessageError(f"{encoding} needs a {'HxWx3' if ch == 3 else 'HxW'} {np.dtype(dtype).name} array, "
                           f"got {a.shape} {a.dtype}")
    msg = Image()
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(a.strides[0])
    msg.data = a.tobytes()
    return msg


def image_to_numpy(msg: Image, expect_size: tuple[int, int] | None = None) -> np.ndarray:
    """The image as an array in its own encoding (HxWx3 uint8, HxW uint16 / float32); validated."""
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise MessageError(f"unsupported image encoding {enc!r}; supported: {sorted(ENCODINGS)}")
    dtype, ch = ENCODINGS[enc]
    h, w = int(msg.height), int(msg.width)
    if expect_size is not None and (h, w) != tuple(expect_size):
        raise MessageError(f"{enc} image is {w}x{h}, expected {expect_size[1]}x{expect_size[0]}")
    row = w * ch * np.dtype(dtype).itemsize
    if h == 0 or w == 0 or msg.step < row or len(msg.data) != msg.step * h:
        raise MessageError(f"{enc} image {w}x{h}: step {msg.step} / {len(msg.data)} data bytes do not fit")
    if _CV_BRIDGE is not None:   # passthrough: HxW or HxWx3 of the encoding's dtype, row padding dropped
        return np.asarray(_CV_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough")).astype(dtype, copy=False)
    buf = np.frombuffer(msg.data, np.uint8)   # array.array / bytes / list-free: no copy of the frame
    rows = buf.reshape(h, msg.step)[:, :row]
    out = rows.view(np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<"))
    out = out.astype(dtype, copy=False)
    return out.reshape(h, w, 3) if ch == 3 else out.reshape(h, w)


def image_to_rgb(msg: Image, expect_size=None) -> np.ndarray:
    a = image_to_numpy(msg, expect_size)
    if msg.encoding not in ("rgb8", "bgr8"):
        raise MessageError(f"colour image must be rgb8 or bgr8, got {msg.encoding!r}")
    return np.ascontiguousarray(a[..., ::-1]) if msg.encoding == "bgr8" else a


def image_to_labels(msg: Image, expect_size=None) -> np.ndarray:
    """A mono8 label image (one class id per pixel) as HxW uint8."""
    if msg.encoding != "mono8":
        raise MessageError(f"label image must be mono8, got {msg.encoding!r}")
    return image_to_numpy(msg, expect_size)


def image_to_depth_mm(msg: Image, expect_size=None) -> np.ndarray:
    """Depth as uint16 millimetres, 0 = no reading (RealSense convention). 32FC1 is metres;
    NaN/inf/<= 0 there become 0 (no reading), values beyond 65.535 m are refused."""
    a = image_to_numpy(msg, expect_size)
    if msg.encoding == "16UC1":
        return a
    if msg.encoding != "32FC1":
        raise MessageError(f"depth image must be 16UC1 (mm) or 32FC1 (m), got {msg.encoding!r}")
    valid = np.isfinite(a) & (a > 0)
    if (a[valid] > 65.535).any():
        raise MessageError("32FC1 depth has values beyond 65.535 m; is it in millimetres instead of metres?")
    return np.where(valid, np.rint(np.where(valid, a, 0) * 1000.0), 0).astype(np.uint16)


def camera_info_msg(intr: CameraIntrinsics, stamp_ns: int, frame_id: str) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(intr.width), int(intr.height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def intrinsics_from_camera_info(msg: CameraInfo) -> CameraIntrinsics:
    """Pinhole intrinsics of a camera_info (the inverse of `camera_info_msg`; distortion is ignored)."""
    k = msg.k
    return CameraIntrinsics(width=int(msg.width), height=int(msg.height), fx=float(k[0]), fy=float(k[4]),
                            cx=float(k[2]), cy=float(k[5]))


# ---------------------------------------------------------------------- labelled float arrays
def pack_labelled(segments: dict[str, np.ndarray], stamp_ns: int) -> Float32MultiArray:
    msg = Float32MultiArray()
    t = stamp_from_ns(stamp_ns)
    dims = [MultiArrayDimension(label="stamp", size=t.sec, stride=t.nanosec)]
    parts, offset = [], 0
    for name, values in segments.items():
        v = np.asarray(values, dtype=np.float32).ravel()
        dims.append(MultiArrayDimension(label=name, size=v.size, stride=offset))
        parts.append(v)
        offset += v.size
    msg.layout.dim = dims
    msg.data = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return msg


def unpack_labelled(msg: Float32MultiArray) -> tuple[int, dict[str, np.ndarray]]:
    dims = list(msg.layout.dim)
    if not dims or dims[0].label != "stamp":
        raise MessageError("labelled array must start with a 'stamp' dim (see aac_robot.ros_convert)")
    stamp = int(dims[0].size) * 1_000_000_000 + int(dims[0].stride)
    data = np.asarray(msg.data, dtype=np.float32)
    out = {}
    for d in dims[1:]:
        if d.stride + d.size > data.size:
            raise MessageError(f"segment {d.label!r} [{d.stride}:{d.stride + d.size}] is beyond the "
                               f"{data.size} values in the message")
        out[d.label] = data[d.stride:d.stride + d.size].copy()
    return stamp, out


# ---------------------------------------------------------------------- robot
def joint_state_msg(names, positions, velocities, stamp_ns: int) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.name = list(names)
    msg.position = [float(v) for v in positions]
    msg.velocity = [float(v) for v in velocities]
    return msg


def pose_stamped(position, stamp_ns: int, frame_id: str, quat_xyzw=(0.0, 0.0, 0.0, 1.0)) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in position)
    (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
     msg.pose.orientation.w) = (float(v) for v in quat_xyzw)
    return msg


def twist_stamped(linear_xyz, stamp: Time, frame_id: str) -> TwistStamped:
    """An end-effector velocity command (m/s; MoveIt Servo's delta_twist_cmds type)."""
    msg = TwistStamped()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in linear_xyz)
    return msg


def gripper_command(width: float, stamp: Time | None = None, joint: str = FINGER_JOINTS[0],
                    time_from_start=None) -> JointTrajectory:
    """A gripper opening (m) as a one-point JointTrajectory for one finger joint (each finger moves half)."""
    point = JointTrajectoryPoint(positions=[float(width) / 2.0])
    if time_from_start is not None:
        point.time_from_start = time_from_start
    msg = JointTrajectory(joint_names=[joint], points=[point])
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def pose_position(msg: PoseStamped, frame_id: str) -> np.ndarray:
    if msg.header.frame_id not in ("", frame_id):
        raise MessageError(f"pose is in frame {msg.header.frame_id!r}; expected {frame_id!r} (no TF here)")
    p = msg.pose.position
    v = np.array([p.x, p.y, p.z], dtype=np.float64)
    if not np.isfinite(v).all():
        raise MessageError(f"pose position is not finite: {v.tolist()}")
    return v


def trajectory_target(msg, known_joints) -> dict[str, float]:
    """Final positions of a trajectory_msgs/JointTrajectory, by joint name; validated."""
    names = list(msg.joint_names)
    unknown = [n for n in names if n not in known_joints]
    if not names or unknown or len(set(names)) != len(names):
        raise MessageError(f"joint_names {names} must be distinct names from {list(known_joints)}")
    if not msg.points:
        raise MessageError("joint trajectory has no points")
    pos = np.asarray(msg.points[-1].positions, dtype=np.float64)
    if pos.shape != (len(names),) or not np.isfinite(pos).all():
        raise MessageError(f"trajectory point needs {len(names)} finite positions, got {pos.tolist()}")
    return dict(zip(names, pos.tolist()))
