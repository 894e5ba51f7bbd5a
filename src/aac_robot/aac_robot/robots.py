"""The arms a deployment can drive: joint, frame, controller and gripper-action names as each robot's own
bringup gives them, and the safety limits that differ from the arm node's (Panda) defaults.

Used by deploy_real.launch.py (aac_bringup.launch_utils), the preflight (aac_driver.preflight) and the
tests. Names are checked against franka_ros2 v3.4.0 (= jazzy); see docs/upstream_interfaces.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ros_interface import ARM_JOINTS, BASE_FRAME, FINGER_JOINTS


@dataclass(frozen=True)
class RobotPreset:
    """What differs between the arms deploy_real can drive (names as franka_ros2 gives them; checked
    against franka_ros2 v3.4.0 = jazzy, see docs/upstream_interfaces.md)."""

    name: str
    arm_joints: tuple[str, ...]
    finger_joints: tuple[str, str]
    base_frame: str              # the robot's own base link (its TF root for our purposes)
    arm_controller: str          # ros2_control joint_trajectory_controller
    gripper_action: str          # control_msgs/GripperCommand action server
    finger_joint_states: str = ""   # a JointState topic with the finger joints ('' = they are in joint_states)
    safety: dict = field(default_factory=dict)   # aac_arm_node safety parameters that differ from its (Panda) defaults

    def arm_parameters(self) -> dict:
        """aac_arm_node parameters of this robot (given BEFORE the config file, so a config may override)."""
        return {"gripper_joint": self.finger_joints[0], "gripper_output": "gripper_command",
                "gripper_action": self.gripper_action, "command_frame": self.base_frame,
                **{k: list(v) if isinstance(v, (list, tuple)) else v for k, v in self.safety.items()}}


# franka_gripper (franka_ros2 >= v2.0): node `franka_gripper` whatever the robot type, action ~/gripper_action
# (franka_gripper/launch/gripper.launch.py, src/gripper_action_server.cpp); its own finger joint states on
# ~/joint_states. Under franka_fr3_moveit_config's moveit.launch.py (v3.4.0) /joint_states takes the fingers
# from fr3_gripper/joint_states, which nothing publishes: they stay 0.0, so the policy reads this topic.
FRANKA_GRIPPER_ACTION = "franka_gripper/gripper_action"
FRANKA_GRIPPER_JOINT_STATES = "/franka_gripper/joint_states"

ROBOTS = {
    # Franka Research 3 on franka_ros2 (robot_type:=fr3). Same kinematics (DH parameters) as the Panda the
    # policy and the arm node's IK were built on; different joint limits: the "rectangular" joint-space limits
    # of the Franka docs (control-parameters-joint-fr3-rectangular.csv), a box inside the FR3's
    # configuration-dependent limits, with its velocity limits. fr3_arm_controller exists only in
    # franka_fr3_moveit_config (config/fr3_ros_controllers.yaml, spawned by its moveit.launch.py).
    "fr3": RobotPreset(
        name="fr3",
        arm_joints=tuple(f"fr3_joint{i}" for i in range(1, 8)),
        finger_joints=("fr3_finger_joint1", "fr3_finger_joint2"),
        base_frame="fr3_link0",
        arm_controller="fr3_arm_controller",
        gripper_action=FRANKA_GRIPPER_ACTION,
        finger_joint_states=FRANKA_GRIPPER_JOINT_STATES,
        safety={"joint_lower": [-2.3093, -1.5133, -2.4937, -2.7478, -2.4800, 0.8521, -2.6895],
                "joint_upper": [2.3093, 1.5133, 2.4937, -0.4461, 2.4800, 4.2094, 2.6895],
                "joint_velocity_limits": [2.0, 1.0, 1.5, 1.25, 3.0, 1.5, 3.0]},
    ),
    # Franka Emika Panda on franka_ros2 Jazzy: robot_type:=fer (fer_joint1..7, fer_link0). franka_ros2 ships
    # no arm controller for it: configure a JointTrajectoryController named fer_arm_controller (a copy of
    # fr3_ros_controllers.yaml with fer_ joints). Its limits are the arm node's defaults (the FER URDF's).
    "fer": RobotPreset(
        name="fer",
        arm_joints=tuple(f"fer_joint{i}" for i in range(1, 8)),
        finger_joints=("fer_finger_joint1", "fer_finger_joint2"),
        base_frame="fer_link0",
        arm_controller="fer_arm_controller",
        gripper_action=FRANKA_GRIPPER_ACTION,
        finger_joint_states=FRANKA_GRIPPER_JOINT_STATES,
    ),
    # The simulator's names (panda_joint1..7, panda_link0): the sim twin, or a stack that publishes ROS 1
    # franka_ros / franka_ros2 < v1 names. No franka_ros2 Jazzy configuration uses them: on a Jazzy Panda use fer.
    "panda": RobotPreset(
        name="panda",
        arm_joints=ARM_JOINTS,
        finger_joints=FINGER_JOINTS,
        base_frame=BASE_FRAME,
        arm_controller="panda_arm_controller",
        gripper_action="panda_gripper/gripper_action",
    ),
}
