"""Digital twin: the full deploy pipeline (policy -> safety filter -> arm) against a real-time sim.

    ros2 launch aac_bringup deploy_sim.launch.py actor:=runs/main/actor.pt       # root namespace, like the real robot
    ros2 launch aac_bringup deploy_sim.launch.py actor:=... namespace:=twin rviz:=false task:=reach record:=false

Graph (all in <namespace>; '' = the real robot's topic names):
  aac_sim_node           mode=realtime: steps at wall-clock rate (25 Hz), publishes what the Panda +
                         RealSense publish (camera/camera/..., joint_states, aac/goal) and takes the
                         real arm's commands (MoveIt Servo twists / joint trajectories)
  robot_state_publisher  URDF from `aac_robot_description` (Panda + camera mount)
  aac_policy_node        actor.pt on the sim's camera + joint_states + goal -> aac/policy/*
  aac_arm_node           the same safety filter as on the robot -> output servo (the sim's
                         servo_node/delta_twist_cmds), gripper_controller/joint_trajectory;
                         dry_run (default false here)
  aac_recorder_node      rosbag2 (MCAP) of the run in runs/bags, record:=true
  /rviz2                 rviz/deploy_sim.rviz, its topics remapped to <namespace> and the camera

The sim node publishes /clock (`publish_clock` in config/deploy_sim.yaml); robot_state_publisher
and RViz use it (use_sim_time). The policy, arm and recorder nodes run on wall time, as on the real
robot (their watchdogs are wall-clock; the realtime sim steps at wall-clock rate).
The camera mount is in the URDF: no static_transform_publisher.
In a namespace, /tf and /tf_static are remapped into it (as in train_sim.launch.py).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import ExecutableInPackage, FindPackageShare

from aac_bringup import launch_utils as lu

SIM_NODE_NAME = 'aac_sim_node'
POLICY_NODE_NAME = 'aac_policy_node'
ARM_NODE_NAME = 'aac_arm_node'
RECORDER_NODE_NAME = 'aac_recorder_node'
ARM_OUTPUT = 'servo'


def _launch_setup(context, *args, **kwargs):
    scope, open_warning = lu.discovery_range(LaunchConfiguration('discovery_range').perform(context))
    # before any process starts: every node of this launch (realsense2_camera included) inherits it
    scope_actions = [SetEnvironmentVariable(lu.DISCOVERY_VARIABLE, scope)]
    if open_warning:
        scope_actions.append(LogInfo(msg=f'{lu.DISCOVERY_VARIABLE}={scope}: WARNING: {open_warning}'))
    task = LaunchConfiguration('task').perform(context)
    config = LaunchConfiguration('config').perform(context)
    ns = LaunchConfiguration('namespace').perform(context).strip('/')
    actor = LaunchConfiguration('actor').perform(context)
    dry_run = lu.parse_bool(LaunchConfiguration('dry_run').perform(context), 'dry_run')
    if not os.path.isfile(config):
        raise RuntimeError(f'deploy_sim.launch.py: config file not found: {config}')

    cam = LaunchConfiguration('camera_namespace').perform(context).strip('/')
    extrinsics = LaunchConfiguration('camera_extrinsics').perform(context)

    actions = []
    if not actor:
        actions.append(LogInfo(msg='deploy_sim: actor:= is empty; aac_policy_node will refuse to start '
                                   '(pass actor:=runs/main/actor.pt); the twin runs without a policy'))
    actions.append(Node(
        package='aac_sim',
        executable='aac_sim_node',
        name=SIM_NODE_NAME,
        namespace=ns,
        output='screen',
        parameters=[config, {'task': task, 'mode': 'realtime', 'camera_namespace': cam,
                             'camera_extrinsics': extrinsics}],
        remappings=lu.tf_remappings(ns),
    ))
    # robot_description: aac_sim's console script (in <prefix>/lib/aac_sim, not on PATH), with the
    # sim's camera_extrinsics so the URDF mount is the one the sim renders from.
    description = ParameterValue(
        Command([ExecutableInPackage(executable='aac_robot_description', package='aac_sim'),
                 lu.robot_description_args(extrinsics)], on_stderr='warn'),
        value_type=str)
    actions.append(Node(
        package='robot_state_publisher',
        executable='robot_state_publisher',
        name='robot_state_publisher',
        namespace=ns,
        output='screen',
        parameters=[{'robot_description': description, 'use_sim_time': True}],
        remappings=lu.tf_remappings(ns),
    ))
    actions.append(Node(
        package='aac_policy',
        executable='aac_policy_node',
        name=POLICY_NODE_NAME,
        namespace=ns,
        output='screen',
        parameters=[config, {'actor': actor, 'camera_namespace': cam}],
    ))
    actions.append(Node(
        package='aac_driver',
        executable='aac_arm_node',
        name=ARM_NODE_NAME,
        namespace=ns,
        output='screen',
        parameters=[config, {'output': ARM_OUTPUT, 'dry_run': dry_run, 'actor': actor, 'camera_namespace': cam}],
    ))
    actions.append(Node(
        package='aac_driver',
        executable='aac_recorder_node',
        name=RECORDER_NODE_NAME,
        namespace=ns,
        output='screen',
        parameters=[config, {'camera_namespace': cam}],   # its default topics + what aac_arm_node publishes
        condition=IfCondition(LaunchConfiguration('record')),
    ))
    rviz_config = os.path.join(get_package_share_directory('aac_bringup'), 'rviz', 'deploy_sim.rviz')
    actions.append(Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        output='screen',
        arguments=['-d', rviz_config],
        parameters=[{'use_sim_time': True}],
        remappings=lu.rviz_remappings(ns, cam),
        condition=IfCondition(LaunchConfiguration('rviz')),
    ))
    return scope_actions + actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            'actor', default_value='',
            description='path of the exported actor.pt (the policy node refuses to start without it)'),
        DeclareLaunchArgument(
            'discovery_range', default_value='LOCALHOST',
            description='ROS_AUTOMATIC_DISCOVERY_RANGE for every node started here: LOCALHOST (only this machine '
                        'can reach the arm), SUBNET or SYSTEM_DEFAULT (camera or arm driver on another host)'),
        DeclareLaunchArgument(
            'task', default_value='push',
            description='aac_sim task: reach, push, pick, pick_place (the actor must be trained for it)'),
        DeclareLaunchArgument(
            'rviz', default_value='true',
            description='start RViz'),
        DeclareLaunchArgument(
            'record', default_value='true',
            description='record the run to rosbag2 (aac_recorder_node, runs/bags)'),
        DeclareLaunchArgument(
            'dry_run', default_value='false',
            description='true: the safety filter runs and counts, nothing is sent to the sim arm'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description="namespace of the twin ('' = root, the real robot's topic names)"),
        DeclareLaunchArgument(
            'camera_namespace', default_value='camera/camera',
            description='camera topics under <namespace>/<camera_namespace> (realsense2_camera >= 4.55 naming)'),
        DeclareLaunchArgument(
            'camera_extrinsics', default_value='',
            description="camera pose YAML (camera_extrinsics.yaml format, e.g. aac_calibrate's result) for the "
                        "twin's camera and the URDF mount; '' = the packaged mount"),
        DeclareLaunchArgument(
            'config',
            default_value=PathJoinSubstitution(
                [FindPackageShare('aac_bringup'), 'config', 'deploy_sim.yaml']),
            description='ROS 2 parameter file for the sim, policy, arm and recorder nodes'),
        OpaqueFunction(function=_launch_setup),
    ])
