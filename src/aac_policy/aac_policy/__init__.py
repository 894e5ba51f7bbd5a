"""Asymmetric actor-critic learner for the AAC project.

This package will hold the learner (an image-based actor trained against a
critic that sees privileged simulator state), its networks, replay/rollout
storage and checkpoint I/O, plus a thin ROS 2 node that runs a trained policy.
The core modules never import rclpy, so training and tests run without ROS;
only the node module(s) depend on ROS 2.
"""
