#!/bin/bash
# Source ROS 2 Jazzy and the AAC workspace overlay, then run the given command.
set -e

# setup.bash scripts reference unset variables; do not run them under `set -u`.
source /opt/ros/jazzy/setup.bash
if [ -f /opt/aac/ros2_ws/install/setup.bash ]; then
  source /opt/aac/ros2_ws/install/setup.bash
fi

exec "$@"
