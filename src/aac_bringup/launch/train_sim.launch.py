"""Train in simulation over ROS 2: N lockstep sim nodes + one trainer node (+ RViz).

    ros2 launch aac_bringup train_sim.launch.py                    # push, 2 sims, RViz
    ros2 launch aac_bringup train_sim.launch.py task:=reach num_sims:=4 rviz:=false run_dir:=runs/reach_ros

Graph (N = num_sims):
  /sim{i}/aac_sim_node           aac_sim: PyBullet Panda + RealSense topics, mode=lockstep, seed=i
  /sim{i}/robot_state_publisher  URDF from `aac_robot_description` (Panda + calibrated camera mount)
  /aac_trainer_node              aac_policy: steps every sim, learns, checkpoints into run_dir
  /rviz2                         shows sim0 (rviz/aac.rviz), only when rviz:=true

Time: sim0 publishes /clock (sim time; its `publish_clock` is true, every other sim's false:
several lockstep sims advance at different rates, and one /clock must have one source).
robot_state_publisher and RViz run with use_sim_time.

TF: robot_state_publisher publishes on the absolute /tf and /tf_static; with N robots using the
same frame names they are remapped into each namespace (/sim{i}/tf, /sim{i}/tf_static) and RViz
listens to sim0's. The camera mount (panda_link0 -> camera_link -> camera_color_optical_frame)
is part of the URDF, so no tf2_ros static_transform_publisher is needed.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import ExecutableInPackage, FindPackageShare

from aac_bringup.launch_utils import robot_description_args, sim_namespaces, tf_remappings, tf_remappings_to

SIM_NODE_NAME = 'aac_sim_node'
TRAINER_NODE_NAME = 'aac_trainer_node'


def _robot_description(camera_extrinsics):
    """robot_description parameter: the output of aac_sim's `aac_robot_description`.

    ExecutableInPackage finds the console script in <prefix>/lib/aac_sim (where colcon installs
    ament_python scripts; they are not on PATH). The sim node's camera_extrinsics is passed on,
    so the URDF's camera mount is the one the sim renders from.
    """
    return ParameterValue(
        Command([ExecutableInPackage(executable='aac_robot_description', package='aac_sim'),
                 robot_description_args(camera_extrinsics)], on_stderr='warn'),
        value_type=str)


def _launch_setup(context, *args, **kwargs):
    task = LaunchConfiguration('task').perform(context)
    namespaces = sim_namespaces(LaunchConfiguration('num_sims').perform(context))
    config = LaunchConfiguration('config').perform(context)
    run_dir = LaunchConfiguration('run_dir').perform(context)
    extrinsics = LaunchConfiguration('camera_extrinsics').perform(context)
    if not os.path.isfile(config):
        raise RuntimeError(f'train_sim.launch.py: config file not found: {config}')

    actions = []
    for i, ns in enumerate(namespaces):
        actions.append(Node(
            package='aac_sim',
            executable='aac_sim_node',
            name=SIM_NODE_NAME,
            namespace=ns,
            output='screen',
            parameters=[config, {
                'task': task,
                'mode': 'lockstep',
                'seed': i,
                # one /clock source: sim0
                'publish_clock': i == 0,
                'camera_extrinsics': extrinsics,
            }],
            remappings=tf_remappings(ns),
        ))
        actions.append(Node(
            package='robot_state_publisher',
            executable='robot_state_publisher',
            name='robot_state_publisher',
            namespace=ns,
            output='screen',
            parameters=[{
                'robot_description': _robot_description(extrinsics),
                'use_sim_time': True,
            }],
            remappings=tf_remappings(ns),
        ))

    actions.append(Node(
        package='aac_policy',
        executable='aac_trainer_node',
        name=TRAINER_NODE_NAME,
        output='screen',
        parameters=[config, {
            'sim_namespaces': namespaces,
            'run_dir': run_dir,
        }],
    ))

    rviz_config = os.path.join(get_package_share_directory('aac_bringup'), 'rviz', 'aac.rviz')
    actions.append(Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        output='screen',
        arguments=['-d', rviz_config],
        parameters=[{'use_sim_time': True}],
        remappings=tf_remappings_to(namespaces[0]),
        condition=IfCondition(LaunchConfiguration('rviz')),
    ))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            'task', default_value='push',
            description='aac_sim task: reach, push, pick, pick_place'),
        DeclareLaunchArgument(
            'num_sims', default_value='2',
            description='number of sim nodes (namespaces sim0..sim{N-1}), stepped in lockstep'),
        DeclareLaunchArgument(
            'rviz', default_value='true',
            description='start RViz showing sim0'),
        DeclareLaunchArgument(
            'config',
            default_value=PathJoinSubstitution(
                [FindPackageShare('aac_bringup'), 'config', 'train_sim.yaml']),
            description='ROS 2 parameter file for the sim and trainer nodes'),
        DeclareLaunchArgument(
            'camera_extrinsics', default_value='',
            description="camera pose YAML (camera_extrinsics.yaml format) for every sim's camera and its URDF "
                        "mount; '' = the packaged mount"),
        DeclareLaunchArgument(
            'run_dir', default_value='runs/ros',
            description='trainer run folder (checkpoints, replay, exported actor), resumable'),
        OpaqueFunction(function=_launch_setup),
    ])
