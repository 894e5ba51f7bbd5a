"""Digital twin: one sim node in real time, publishing what the real Panda + RealSense publish.

    ros2 launch aac_bringup deploy_sim.launch.py                   # root namespace, like the real robot
    ros2 launch aac_bringup deploy_sim.launch.py namespace:=twin rviz:=false task:=reach

Graph:
  /<namespace>/aac_sim_node           mode=realtime: steps at wall-clock rate, takes the real arm's
                                      commands (MoveIt Servo twists / joint trajectories)
  /<namespace>/robot_state_publisher  URDF from `aac_robot_description` (Panda + camera mount)
  /rviz2                              rviz/aac.rviz with its topics moved to <namespace>

The sim node publishes /clock (`publish_clock` in config/deploy_sim.yaml); robot_state_publisher
and RViz use it (use_sim_time). The camera mount is in the URDF: no static_transform_publisher.
In a namespace, /tf and /tf_static are remapped into it (as in train_sim.launch.py).
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

from aac_bringup.launch_utils import (node_parameters_from_file, robot_description_args,
                                      rviz_config_for_namespace, tf_remappings, tf_remappings_to)

SIM_NODE_NAME = 'aac_sim_node'


def _launch_setup(context, *args, **kwargs):
    task = LaunchConfiguration('task').perform(context)
    config = LaunchConfiguration('config').perform(context)
    ns = LaunchConfiguration('namespace').perform(context).strip('/')
    if not os.path.isfile(config):
        raise RuntimeError(f'deploy_sim.launch.py: config file not found: {config}')
    node_fqn = f'/{ns}/{SIM_NODE_NAME}' if ns else f'/{SIM_NODE_NAME}'
    sim_params = node_parameters_from_file(config, node_fqn)

    sim = Node(
        package='aac_sim',
        executable='aac_sim_node',
        name=SIM_NODE_NAME,
        namespace=ns,
        output='screen',
        parameters=[config, {'task': task, 'mode': 'realtime'}],
        remappings=tf_remappings(ns),
    )
    # robot_description: aac_sim's console script (in <prefix>/lib/aac_sim, not on PATH), with the
    # sim's camera_extrinsics so the URDF mount is the one the sim renders from.
    description = ParameterValue(
        Command([ExecutableInPackage(executable='aac_robot_description', package='aac_sim'),
                 robot_description_args(sim_params.get('camera_extrinsics', ''))], on_stderr='warn'),
        value_type=str)
    state_publisher = Node(
        package='robot_state_publisher',
        executable='robot_state_publisher',
        name='robot_state_publisher',
        namespace=ns,
        output='screen',
        parameters=[{'robot_description': description, 'use_sim_time': True}],
        remappings=tf_remappings(ns),
    )
    rviz_config = os.path.join(get_package_share_directory('aac_bringup'), 'rviz', 'aac.rviz')
    rviz = Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        output='screen',
        arguments=['-d', rviz_config_for_namespace(rviz_config, ns)],
        parameters=[{'use_sim_time': True}],
        remappings=tf_remappings_to(ns),
        condition=IfCondition(LaunchConfiguration('rviz')),
    )
    return [sim, state_publisher, rviz]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            'task', default_value='push',
            description='aac_sim task: reach, push, pick, pick_place'),
        DeclareLaunchArgument(
            'rviz', default_value='true',
            description='start RViz'),
        DeclareLaunchArgument(
            'config',
            default_value=PathJoinSubstitution(
                [FindPackageShare('aac_bringup'), 'config', 'deploy_sim.yaml']),
            description='ROS 2 parameter file for the sim node'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description="namespace of the twin ('' = root, the real robot's topic names)"),
        OpaqueFunction(function=_launch_setup),
    ])
