"""Names of the deployment interface between the policy node, the arm node and the safety layer.

Plain constants (no rclpy). Topic names are RELATIVE, like `aac_sim.ros_interface`, so a robot (or a
sim twin) in namespace `s` has `/s/aac/policy/twist` and so on. The arm-side names (MoveIt Servo
twist, `<controller>/joint_trajectory`, camera topics, `joint_states`) are those of
`aac_sim.ros_interface`: the arm node talks to the sim twin and to the real stack alike.

    policy node --aac/policy/twist, aac/policy/gripper--> aac_arm_node (safety filter)
        --> servo_node/delta_twist_cmds  |  <arm_controller>/joint_trajectory
        --> <gripper_controller>/joint_trajectory
"""
from __future__ import annotations

from aac_sim import ros_interface as _ri

# --- what the policy node (aac_policy) publishes; the arm node is the only subscriber. Defined once,
# in aac_sim.ros_interface (the policy node uses them from there).
POLICY_TWIST = _ri.POLICY_TWIST        # "aac/policy/twist": TwistStamped, m/s of the grasp point in panda_link0
POLICY_GRIPPER = _ri.POLICY_GRIPPER    # "aac/policy/gripper": JointTrajectory, panda_finger_joint1 = half the opening

# --- safety layer (always on, in the arm node)
STOP_TOPIC = "aac/safety/stop"             # std_msgs/Bool: true latches a stop (zero commands) until false, then RESET_SERVICE
RESET_SERVICE = "aac/safety/reset"         # std_srvs/Trigger: clears the latched stop (refused while one is asserted)
INTERVENTIONS = "aac/safety/interventions"  # std_msgs/String JSON, 1 Hz: {"counts": {kind: n}, "stopped": ...}
FILTERED_TWIST = "aac/safety/filtered_twist"  # TwistStamped: what the filter let through (also in dry run)
RELEASE_SERVICE = "aac/safety/release"     # std_srvs/SetBool: true = the policy drives; false = hold (policy commands
                                           # dropped, counted `held`; the episode runner's commands drive instead)
EPISODE_TWIST = "aac/episode/twist"        # TwistStamped from the episode runner (start-pose moves), only while held
EPISODE_GRIPPER = "aac/episode/gripper"    # JointTrajectory from the episode runner (open the gripper), only while held
LIMITS = "aac/safety/limits"               # std_msgs/String JSON, transient local: the limits in force (once, at start)

ARM_NODE_EXECUTABLE = "aac_arm_node"       # console_scripts entry point (package aac_driver)
