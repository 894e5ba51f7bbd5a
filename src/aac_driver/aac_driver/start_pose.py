"""Moving the real arm to an episode's start pose with MoveIt 2 (`moveit_py`), where it is installed.

`aac_episodes --start-planner moveit` plans a collision-free joint-space move to the start joints with the
table and the camera mount in the planning scene, slowly (velocity and acceleration scaling 0.1 by default),
and executes it through MoveIt's trajectory execution (the arm's FollowJointTrajectory controller, e.g.
franka_ros2's fr3_arm_controller). While it runs the arm node holds (`aac/safety/release` false): it sends
nothing while there is no command and no hazard, and if one of its watchdogs fires (camera, joint states)
its hold command pre-empts MoveIt's trajectory, so the arm stops: the safety layer still wins.

moveit_py (ros-jazzy-moveit-py) is not installable from PyPI, so this path never ran here: the API calls
below are those of moveit2's jazzy branch (moveit_py/src/moveit/moveit_ros/moveit_cpp/*.cpp,
moveit_core/planning_scene/planning_scene.cpp), and MoveItPy needs the MoveIt parameters of the robot
(robot_description, robot_description_semantic, kinematics, planning pipelines, controllers) on its node:
run `aac_episodes` with `--ros-args --params-file <moveit_py.yaml>` (docs/real_evaluation.md; README, "Evaluation episodes on the
real arm"). What is tested here: the planning-scene objects (`scene_boxes`) and the refusal when moveit_py
is missing. Without it, the start pose is reached by the slow twist moves through the arm node's filter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aac_robot.panda import TABLE_CENTER, TABLE_HALF

# The cell as the simulator models it (aac_sim.scene): the table top at z = 0 under the robot base, 1.15 m
# x 1.0 m, centred 0.425 m in front of it. The camera mount: a post from the table to the camera, whose
# pose comes from the calibrated extrinsics (camera_extrinsics.yaml).
TABLE_SIZE_M = tuple(2 * h for h in TABLE_HALF)
TABLE_CENTER_M = TABLE_CENTER
CAMERA_BOX_M = (0.12, 0.12, 0.12)     # a D435 (90 x 25 x 25 mm) in its bracket, with margin
MOUNT_POST_M = 0.06                   # the post's width
VELOCITY_SCALING = 0.1                # of the URDF / joint_limits.yaml limits: a slow, watched move
ACCELERATION_SCALING = 0.1


@dataclass(frozen=True)
class SceneBox:
    """An axis-aligned box in the planning frame: what becomes a moveit_msgs/CollisionObject."""
    name: str
    size: tuple[float, float, float]
    center: tuple[float, float, float]


def scene_boxes(camera_position, table_size=TABLE_SIZE_M, table_center=TABLE_CENTER_M) -> list[SceneBox]:
    """The table, the camera and the post that holds it, in the robot's base frame (m)."""
    cam = np.asarray(camera_position, dtype=float)
    if cam.shape != (3,) or not np.isfinite(cam).all():
        raise ValueError(f"camera position must be 3 finite numbers, got {camera_position!r}")
    table_top = table_center[2] + table_size[2] / 2
    if cam[2] <= table_top:
        raise ValueError(f"the camera ({cam.round(3).tolist()}) is not above the table top (z = {table_top} m)")
    post_height = cam[2] - CAMERA_BOX_M[2] / 2 - table_top
    boxes = [SceneBox("table", tuple(map(float, table_size)), tuple(map(float, table_center))),
             SceneBox("camera", CAMERA_BOX_M, tuple(cam.tolist()))]
    if post_height > 0:
        boxes.append(SceneBox("camera_post", (MOUNT_POST_M, MOUNT_POST_M, float(post_height)),
                              (float(cam[0]), float(cam[1]), float(table_top + post_height / 2))))
    return boxes


def moveit_available() -> bool:
    try:
        import moveit.planning  # noqa: F401
    except ImportError:
        return False
    return True


class MoveItStartPose:
    """Plan + execute joint-space moves of one planning group with moveit_py (import guarded)."""

    def __init__(self, group: str, frame: str, boxes: list[SceneBox], node_name: str = "aac_episodes_moveit",
                 velocity_scaling: float = VELOCITY_SCALING, acceleration_scaling: float = ACCELERATION_SCALING):
        try:
            from geometry_msgs.msg import Pose
            from moveit.planning import MoveItPy, PlanRequestParameters
            from moveit_msgs.msg import CollisionObject
            from shape_msgs.msg import SolidPrimitive
        except ImportError as exc:
            raise RuntimeError(f"--start-planner moveit needs moveit_py (ros-jazzy-moveit-py) and moveit_msgs: "
                               f"{exc}; use --start-planner twist") from None
        if not (0 < velocity_scaling <= 1 and 0 < acceleration_scaling <= 1):
            raise ValueError("velocity / acceleration scaling must be in (0, 1]")
        self.group = group
        self.moveit = MoveItPy(node_name=node_name)
        self.arm = self.moveit.get_planning_component(group)
        self.params = PlanRequestParameters(self.moveit, "")   # plan_request_params.* of the node, or defaults
        self.params.max_velocity_scaling_factor = float(velocity_scaling)
        self.params.max_acceleration_scaling_factor = float(acceleration_scaling)
        with self.moveit.get_planning_scene_monitor().read_write() as scene:
            for box in boxes:
                obj = CollisionObject()
                obj.header.frame_id = frame
                obj.id = f"aac_{box.name}"
                shape = SolidPrimitive(type=SolidPrimitive.BOX, dimensions=list(box.size))
                pose = Pose()
                pose.position.x, pose.position.y, pose.position.z = box.center
                pose.orientation.w = 1.0
                obj.primitives.append(shape)
                obj.primitive_poses.append(pose)
                obj.operation = CollisionObject.ADD
                scene.apply_collision_object(obj)
            scene.current_state.update()

    def move_to(self, joints) -> None:
        """Plan from the current state to `joints` (the group's 7 arm joints) and execute; RuntimeError
        when planning or execution fails (the arm stays where it stopped)."""
        from moveit.core.robot_state import RobotState
        goal = RobotState(self.moveit.get_robot_model())
        goal.set_joint_group_positions(self.group, np.asarray(joints, dtype=float))
        goal.update()
        self.arm.set_start_state_to_current_state()
        self.arm.set_goal_state(robot_state=goal)
        plan = self.arm.plan(single_plan_parameters=self.params)
        if not plan:
            raise RuntimeError(f"MoveIt found no collision-free plan to the start pose (error code "
                               f"{plan.error_code.val}); the arm did not move")
        status = self.moveit.execute(plan.trajectory, controllers=[])
        if not status:
            raise RuntimeError(f"MoveIt's execution of the start-pose move did not succeed ({status.status}); "
                               "the arm stopped where it was")

    def close(self) -> None:
        self.moveit.shutdown()
