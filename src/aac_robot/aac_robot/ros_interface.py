"""Names of the ROS 2 interface shared by the sim node, the trainer node, launch files and deploy.

Plain constants (no rclpy): the sim node publishes exactly what a real Panda + RealSense stack
publishes, so downstream code cannot tell sim from real. Topic names are RELATIVE, so a node
started in namespace `sim0` publishes `/sim0/camera/camera/color/image_raw` and so on.

Camera topics follow realsense-ros >= 4.55 (`/camera/camera/...`: camera_namespace + camera_name);
the camera part is a parameter (`camera_namespace`), so `camera` alone gives `/camera/...`.
"""
from __future__ import annotations

from pathlib import Path

# --- camera (realsense2_camera naming, rs_launch.py with align_depth.enable:=true)
DEFAULT_CAMERA_NAMESPACE = "camera/camera"
COLOR_IMAGE = "color/image_raw"                       # sensor_msgs/Image, rgb8
COLOR_INFO = "color/camera_info"                      # sensor_msgs/CameraInfo
DEPTH_IMAGE = "aligned_depth_to_color/image_raw"      # sensor_msgs/Image, 16UC1 millimetres, 0 = no reading
DEPTH_INFO = "aligned_depth_to_color/camera_info"     # sensor_msgs/CameraInfo
COLOR_OPTICAL_FRAME = "camera_color_optical_frame"

# --- robot
JOINT_STATES = "joint_states"                         # sensor_msgs/JointState
ROBOT_DESCRIPTION = "robot_description"               # std_msgs/String, transient local
CLOCK = "/clock"                                      # rosgraph_msgs/Clock (sim time; absolute name)
BASE_FRAME = "panda_link0"
ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")

# --- commands a real arm stack accepts
TWIST_COMMAND = "servo_node/delta_twist_cmds"         # geometry_msgs/TwistStamped (MoveIt Servo), m/s in BASE_FRAME
DEFAULT_ARM_CONTROLLER = "panda_arm_controller"       # trajectory_msgs/JointTrajectory on /<controller>/joint_trajectory
DEFAULT_GRIPPER_CONTROLLER = "gripper_controller"     # JointTrajectory with panda_finger_joint1 (= half the width)
JOINT_TRAJECTORY = "joint_trajectory"

# --- simulator extras (not on a real robot)
PRIVILEGED_STATE = "aac/privileged_state"             # std_msgs/Float32MultiArray, labelled layout (see ros_convert)
# sensor_msgs/Image mono8, the policy image's per-pixel surface class (aac_sim.config SEG_*), stamped as the frame;
# only from a sim whose config has `segmentation` (the trainer's re-texturing augmentation reads it)
PRIVILEGED_SEGMENTATION = "aac/privileged_segmentation"
PROPRIO = "aac/proprio"                               # std_msgs/Float32MultiArray: on a real robot this is FK of joint_states
GOAL = "aac/goal"                                     # geometry_msgs/PoseStamped, commanded goal in BASE_FRAME
MARKERS = "aac/markers"                               # visualization_msgs/MarkerArray: block + goal
SIM_INFO = "aac/sim_info"                             # std_msgs/String JSON (task, image size, intrinsics...), transient local
PERTURB = "aac/perturb"                               # geometry_msgs/Vector3Stamped: knock the block by (x, y) m
RESET_SERVICE = "aac/reset"                           # std_srvs/Trigger; response.message is JSON {"stamp_ns": ...}

# --- deployment. The policy node's command goes to the arm node (aac_driver), the only subscriber, whose
# safety layer filters it before the arm's own interfaces:
#     policy node --aac/policy/twist, aac/policy/gripper--> aac_arm_node (safety filter)
#         --> servo_node/delta_twist_cmds  |  <arm_controller>/joint_trajectory
#         --> <gripper_controller>/joint_trajectory  |  franka_gripper's GripperCommand action
POLICY_TWIST = "aac/policy/twist"                     # geometry_msgs/TwistStamped, m/s in BASE_FRAME
POLICY_GRIPPER = "aac/policy/gripper"                 # trajectory_msgs/JointTrajectory, panda_finger_joint1 = half the opening

# --- safety layer (always on, in the arm node)
SAFETY_STOP = "aac/safety/stop"                       # std_msgs/Bool: true latches a stop (zero commands) until false, then SAFETY_RESET
SAFETY_RESET = "aac/safety/reset"                     # std_srvs/Trigger: clears the latched stop (refused while one is asserted)
INTERVENTIONS = "aac/safety/interventions"            # std_msgs/String JSON, 1 Hz: {"counts": {kind: n}, "stopped": ...}
FILTERED_TWIST = "aac/safety/filtered_twist"          # TwistStamped: what the filter let through (also in dry run)
SAFETY_RELEASE = "aac/safety/release"                 # std_srvs/SetBool: true = the policy drives; false = hold (policy
                                                      # commands dropped, counted `held`; the episode runner's drive instead)
SAFETY_LIMITS = "aac/safety/limits"                   # std_msgs/String JSON, transient local: the limits in force (once, at start)
EPISODE_TWIST = "aac/episode/twist"                   # TwistStamped from the episode runner (start-pose moves), only while held
EPISODE_GRIPPER = "aac/episode/gripper"               # JointTrajectory from the episode runner (open the gripper), only while held

# --- node executables (console_scripts), used by the launch files
SIM_NODE_EXECUTABLE = "aac_sim_node"                  # package aac_sim
TRAINER_NODE_EXECUTABLE = "aac_trainer_node"          # package aac_policy
ROBOT_DESCRIPTION_EXECUTABLE = "aac_robot_description"   # package aac_sim: prints the URDF
ARM_NODE_EXECUTABLE = "aac_arm_node"                  # package aac_driver
ARM_NODE_NAME = "aac_arm_node"                        # its node name (the recorder records what it publishes)

# --- middleware: Fast DDS profile for camera-sized messages (see the XML for why and what)
FASTDDS_PROFILE = Path(__file__).resolve().parent / "data" / "fastdds_large_frames.xml"
FASTDDS_PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE",    # Fast DDS 3 (Kilted, the pip wheels)
                             "FASTRTPS_DEFAULT_PROFILES_FILE")   # Fast DDS 2 (Jazzy); Kilted's rmw warns
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")                 # ROS_DISTRO, set by a sourced install


def fastdds_profile_env(environ) -> dict[str, str]:
    """The one environment variable that makes this ROS's Fast DDS load FASTDDS_PROFILE (the old
    name on Fast DDS 2 distros, the new one otherwise: setting the old one on Kilted logs a
    deprecation warning at every node start). None if the user already names a profile file or runs
    another RMW (Cyclone DDS, Zenoh ignore it anyway)."""
    rmw = environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if not rmw.startswith("rmw_fastrtps") or any(environ.get(v) for v in FASTDDS_PROFILE_VARIABLES):
        return {}
    fast_dds_2 = environ.get("ROS_DISTRO", "") in FAST_DDS_2_DISTROS
    return {FASTDDS_PROFILE_VARIABLES[1 if fast_dds_2 else 0]: str(FASTDDS_PROFILE)}
