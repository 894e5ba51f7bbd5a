"""Deploy an exported actor on the real arm (robot PC): camera -> policy -> safety filter -> arm.

    ros2 launch aac_bringup deploy_real.launch.py actor:=/path/to/actor.pt            # DRY RUN (default)
    ros2 launch aac_bringup deploy_real.launch.py actor:=/path/to/actor.pt dry_run:=false
    ros2 launch aac_bringup deploy_real.launch.py actor:=... robot:=fer camera:=pyrealsense2 output:=servo

Start the robot's own bringup first (franka_ros2 Jazzy, checked against v3.4.0: see
docs/upstream_interfaces.md and the README's "First run on a real Franka"): for an FR3,
`ros2 launch franka_fr3_moveit_config moveit.launch.py robot_ip:=<ip>`: it spawns the arm controller
(`fr3_arm_controller`, a joint_trajectory_controller; franka_bringup's franka.launch.py spawns none),
starts franka_gripper (`/franka_gripper/gripper_action`, finger joints on /franka_gripper/joint_states,
which the policy reads: under this launch file the fingers in /joint_states stay 0.0),
/robot_description and its robot_state_publisher (TF). This file starts NO robot_state_publisher: a
second one would publish a second, conflicting TF tree for the same robot. Run `aac_preflight` before
leaving dry run.

Graph (root namespace, the real robot's topic names):
  camera                realsense2_camera's rs_launch.py (align_depth, enable_sync, colour/depth
                        profile camera_profile:=640,480,30, serial_no:=), or
                        /aac_realsense_node (pyrealsense2 only) publishing the same topics
  /aac_policy_node      actor.pt on <camera_namespace>/color + aligned depth, joint_states, aac/goal
                        -> aac/policy/twist, aac/policy/gripper
  /aac_arm_node         safety filter (always on) -> output: joint_trajectory
                        (<arm_controller>/joint_trajectory) | servo (servo_node/delta_twist_cmds,
                        MoveIt Servo) | none; gripper via franka_gripper's GripperCommand action;
                        dry_run (default TRUE): everything runs and is counted, nothing is sent
  /aac_recorder_node    rosbag2 (MCAP) of the run in runs/bags, record:=true
  /aac_base_frame_alias static TF fr3_link0 -> panda_link0 (identity; FR3 only): the policy, its goal
                        and the filtered twist use panda_link0
  /rviz2                rviz/deploy_real.rviz: camera + depth, robot model, goal pose, filtered twist

The goal: publish a geometry_msgs/PoseStamped in panda_link0 (= the robot base) on /aac/goal,
e.g. `ros2 topic pub -r 1 /aac/goal geometry_msgs/msg/PoseStamped
"{header: {frame_id: panda_link0}, pose: {position: {x: 0.5, y: 0.0, z: 0.03}}}"`.
Stop: `ros2 topic pub --once /aac/safety/stop std_msgs/msg/Bool "{data: true}"` (latched until `{data: false}`
there and then `ros2 service call /aac/safety/reset std_srvs/srv/Trigger`). The graph is localhost-only
(`discovery_range:=LOCALHOST`, the default): widen it only when the camera or arm driver runs elsewhere.

realsense2_camera is optional (not an exec_depend of aac_bringup): camera:=auto uses it when it is
installed, else aac_realsense_node. The camera's TF (camera_link, camera_color_optical_frame) is not
attached to the robot here: no node needs it (the actor was trained for the mounted camera); publish
your hand-eye transform from panda_link0 yourself to see it in RViz.
"""
import os

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, ExecuteProcess, GroupAction, IncludeLaunchDescription,
                            LogInfo, OpaqueFunction, RegisterEventHandler, SetEnvironmentVariable)
from launch.event_handlers import OnProcessExit
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import ExecutableInPackage, FindPackageShare

from aac_bringup import launch_utils as lu
from aac_robot.ros_interface import fastdds_profile_env

POLICY_NODE_NAME = 'aac_policy_node'
ARM_NODE_NAME = 'aac_arm_node'
REALSENSE_NODE_NAME = 'aac_realsense_node'
RECORDER_NODE_NAME = 'aac_recorder_node'
PREFLIGHT_EXECUTABLE = 'aac_preflight'


def _realsense2_camera_share():
    try:
        return get_package_share_directory('realsense2_camera')
    except PackageNotFoundError:
        return None


def _launch_setup(context, *args, **kwargs):
    scope, open_warning = lu.discovery_range(LaunchConfiguration('discovery_range').perform(context))
    # before any process starts: every node of this launch (realsense2_camera included) inherits it
    scope_actions = [SetEnvironmentVariable(lu.DISCOVERY_VARIABLE, scope)]
    # DDS Security: every node below runs in its enclave (config/sros2/deploy.policy.xml); a missing keystore
    # or enclave stops the launch here, before anything starts
    secure = lu.parse_bool(LaunchConfiguration('enclaves').perform(context), 'enclaves')
    security_env = lu.security_environment(secure, LaunchConfiguration('keystore').perform(context))
    scope_actions += [SetEnvironmentVariable(k, v) for k, v in security_env.items()]
    if secure:
        scope_actions.append(LogInfo(msg=f'deploy_real: DDS Security on (Enforce), keystore '
                                         f'{security_env["ROS_SECURITY_KEYSTORE"]}'))
    if open_warning:
        scope_actions.append(LogInfo(msg=f'{lu.DISCOVERY_VARIABLE}={scope}: WARNING: {open_warning}'))
    config = LaunchConfiguration('config').perform(context)
    if not os.path.isfile(config):
        raise RuntimeError(f'deploy_real.launch.py: config file not found: {config}')
    actor = LaunchConfiguration('actor').perform(context)
    robot = lu.robot_preset(LaunchConfiguration('robot').perform(context))
    arm_joints, finger_joints = lu.parse_joint_names(LaunchConfiguration('joint_names').perform(context), robot)
    cam = LaunchConfiguration('camera_namespace').perform(context).strip('/')
    width, height, fps = lu.camera_profile(LaunchConfiguration('camera_profile').perform(context))
    serial_no = LaunchConfiguration('serial_no').perform(context)
    output = lu.check_choice(LaunchConfiguration('output').perform(context), lu.ARM_OUTPUTS, 'output')
    arm_controller = LaunchConfiguration('arm_controller').perform(context).strip('/') or robot.arm_controller
    dry_run = lu.parse_bool(LaunchConfiguration('dry_run').perform(context), 'dry_run')
    lu.parse_bool(LaunchConfiguration('record').perform(context), 'record')
    lu.parse_bool(LaunchConfiguration('rviz').perform(context), 'rviz')
    realsense_share = _realsense2_camera_share()
    camera = lu.resolve_camera(LaunchConfiguration('camera').perform(context), realsense_share is not None)

    actions = [LogInfo(msg=f'deploy_real: robot {robot.name} (joints {arm_joints + finger_joints}), '
                           f'camera {camera} on /{cam}, arm output {output!r} to {arm_controller}, '
                           f'{"DRY RUN: nothing is sent to the arm (dry_run:=false to command it)" if dry_run else "COMMANDS THE ARM"}')]
    if not actor:
        actions.append(LogInfo(msg='deploy_real: actor:= is empty; aac_policy_node will refuse to start '
                                   '(pass actor:=/path/to/actor.pt)'))

    # --- camera: realsense2_camera's own launch file, or our pyrealsense2 node (same topics)
    if camera == 'realsense2_camera':
        include = IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(realsense_share, 'launch', 'rs_launch.py')),
            launch_arguments=lu.realsense_launch_arguments(cam, width, height, fps, serial_no).items(),
        )
        # rs_launch.py takes no enclave: its process gets one from the environment, in this group only
        actions.append(GroupAction([SetEnvironmentVariable(lu.ENCLAVE_OVERRIDE_VARIABLE,
                                                           lu.SECURITY_ENCLAVES['realsense2_camera']), include],
                                   scoped=True) if secure else include)
    else:
        actions.append(Node(
            package='aac_driver',
            executable='aac_realsense_node',
            name=REALSENSE_NODE_NAME,
            ros_arguments=lu.enclave_arguments(REALSENSE_NODE_NAME, secure),
            output='screen',
            parameters=[config, {'camera_namespace': cam, 'width': width, 'height': height, 'fps': fps,
                                 'serial_no': serial_no}],
        ))

    actions.append(Node(
        package='aac_policy',
        executable='aac_policy_node',
        name=POLICY_NODE_NAME,
        ros_arguments=lu.enclave_arguments(POLICY_NODE_NAME, secure),
        output='screen',
        parameters=[config, {
            'actor': actor,
            'camera_namespace': cam,
            'joint_names': arm_joints + finger_joints,
            'finger_joint_states': robot.finger_joint_states,
        }],
    ))

    # robot-specific arm parameters first, so a config file may override them
    robot_params = robot.arm_parameters()
    arm_node = Node(
        package='aac_driver',
        executable='aac_arm_node',
        name=ARM_NODE_NAME,
        ros_arguments=lu.enclave_arguments(ARM_NODE_NAME, secure),
        output='screen',
        parameters=[robot_params, config, {
            'output': output,
            'dry_run': dry_run,
            'actor': actor,   # the arm node says at start where its limits are below the trained ones
            'camera_namespace': cam,
            'arm_controller': arm_controller,
            'joint_names': arm_joints,
        }],
    )
    # aac_preflight checks the live graph (camera, intrinsics, joints, fingers, controller, gripper, goal).
    # In dry run it only prints its checklist; live, the arm node starts only once every check passed.
    if lu.parse_bool(LaunchConfiguration('preflight').perform(context), 'preflight'):
        preflight = ExecuteProcess(
            cmd=[ExecutableInPackage(executable=PREFLIGHT_EXECUTABLE, package='aac_driver'),
                 *lu.preflight_arguments(robot.name, arm_joints + finger_joints, cam, output, arm_controller,
                                         config, robot.finger_joint_states, actor)],
            name='aac_preflight', output='screen',
            additional_env={lu.ENCLAVE_OVERRIDE_VARIABLE: lu.SECURITY_ENCLAVES['aac_preflight']} if secure else None)
        actions.append(preflight)
        if dry_run:
            actions.append(arm_node)
        else:
            def after_preflight(event, _context):
                if event.returncode == 0:
                    return [LogInfo(msg='deploy_real: preflight passed; starting aac_arm_node (COMMANDS THE ARM)'),
                            arm_node]
                return [LogInfo(msg=f'deploy_real: preflight FAILED (exit {event.returncode}): aac_arm_node NOT '
                                    'started, the arm stays still. Fix the misses above, or start it in dry run.')]
            actions.append(RegisterEventHandler(OnProcessExit(target_action=preflight, on_exit=after_preflight)))
    else:
        actions.append(arm_node)

    actions.append(Node(
        package='aac_driver',
        executable='aac_recorder_node',
        name=RECORDER_NODE_NAME,
        ros_arguments=lu.enclave_arguments(RECORDER_NODE_NAME, secure),
        output='screen',
        parameters=[config, {'camera_namespace': cam}],   # + what aac_arm_node publishes, whatever its output
        condition=IfCondition(LaunchConfiguration('record')),
    ))

    # panda_link0 (policy, goal, camera extrinsics frame) = the robot's base frame, when they differ.
    # robot_state_publisher itself comes from the robot's bringup (see the module docstring).
    alias = lu.base_frame_alias_arguments(robot.base_frame)
    if alias is not None:
        actions.append(Node(
            package='tf2_ros',
            executable='static_transform_publisher',
            name='aac_base_frame_alias',
            ros_arguments=lu.enclave_arguments('aac_base_frame_alias', secure),
            output='screen',
            arguments=alias,
        ))

    rviz_config = os.path.join(get_package_share_directory('aac_bringup'), 'rviz', 'deploy_real.rviz')
    actions.append(Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        ros_arguments=lu.enclave_arguments('rviz2', secure),
        output='screen',
        arguments=['-d', rviz_config],
        remappings=lu.rviz_remappings('', cam),
        condition=IfCondition(LaunchConfiguration('rviz')),
    ))
    return scope_actions + actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            'actor', default_value='',
            description='path of the exported actor.pt (required: the policy node refuses to start without it)'),
        DeclareLaunchArgument(
            'robot', default_value='fr3',
            description='fr3 | panda: joint names, arm controller, gripper action, base frame, FR3 joint limits'),
        DeclareLaunchArgument(
            'camera', default_value='auto',
            description='realsense2_camera | pyrealsense2 | auto (realsense2_camera when installed)'),
        DeclareLaunchArgument(
            'camera_namespace', default_value='camera/camera',
            description='camera topics prefix; realsense2_camera: camera_namespace/camera_name'),
        DeclareLaunchArgument(
            'camera_profile', default_value='640,480,30',
            description='colour and aligned-depth profile WIDTH,HEIGHT,FPS (realsense2_camera or aac_realsense_node)'),
        DeclareLaunchArgument(
            'serial_no', default_value='',
            description="the camera's serial number ('' = the first device found)"),
        DeclareLaunchArgument(
            'output', default_value='joint_trajectory',
            description='arm output: joint_trajectory (<arm_controller>/joint_trajectory) | servo '
                        '(servo_node/delta_twist_cmds, MoveIt Servo) | none'),
        DeclareLaunchArgument(
            'arm_controller', default_value='',
            description="joint_trajectory_controller name; '' = the robot's (fr3_arm_controller)"),
        DeclareLaunchArgument(
            'joint_names', default_value='',
            description="'' = the robot's; else a YAML list of 7 arm (+ 2 finger) joints in panda_joint1..7 order"),
        DeclareLaunchArgument(
            'dry_run', default_value='true',
            description='true: everything runs and is counted, NOTHING is sent to the arm or gripper'),
        DeclareLaunchArgument(
            'discovery_range', default_value='LOCALHOST',
            description='ROS_AUTOMATIC_DISCOVERY_RANGE for every node started here: LOCALHOST (only this machine '
                        'can reach the arm), SUBNET or SYSTEM_DEFAULT (camera or arm driver on another host)'),
        DeclareLaunchArgument(
            'enclaves', default_value='false',
            description='DDS Security (SROS2, Enforce): each node in its enclave of config/sros2/deploy.policy.xml; '
                        'needs keystore:= (a full ROS install with a security-enabled DDS)'),
        DeclareLaunchArgument(
            'keystore', default_value='',
            description="the SROS2 keystore for enclaves:=true ('' = ROS_SECURITY_KEYSTORE)"),
        DeclareLaunchArgument(
            'preflight', default_value='true',
            description='run aac_preflight first; with dry_run:=false the arm node starts only if it passes'),
        DeclareLaunchArgument(
            'record', default_value='true',
            description='record the run to rosbag2 (aac_recorder_node, runs/bags)'),
        DeclareLaunchArgument(
            'rviz', default_value='true',
            description='start RViz (camera, robot model, goal, filtered twist)'),
        DeclareLaunchArgument(
            'config',
            default_value=PathJoinSubstitution(
                [FindPackageShare('aac_bringup'), 'config', 'deploy_real.yaml']),
            description='ROS 2 parameter file for the policy, arm, camera and recorder nodes'),
        # realsense2_camera writes 640x480 frames: give it the Fast DDS shared-memory segment they
        # fit in (the aac nodes load the same profile themselves; a profile of yours wins)
        *[SetEnvironmentVariable(name, value) for name, value in fastdds_profile_env(os.environ).items()],
        OpaqueFunction(function=_launch_setup),
    ])
