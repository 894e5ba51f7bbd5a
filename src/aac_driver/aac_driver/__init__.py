"""Hardware-facing ROS 2 nodes for the AAC project.

This package will hold the RealSense camera node (publishing images in the
format the policy was trained on) and the arm-output node that turns policy
actions into arm commands (trajectory / twist messages).
"""
