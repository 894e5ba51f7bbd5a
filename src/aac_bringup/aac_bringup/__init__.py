"""Bring-up package for the AAC project.

Installs the launch files (``launch/*.launch.py``), parameter files (``config/*.yaml``) and
RViz configurations (``rviz/*.rviz``) that start simulated training and deployment. The only
Python here is ``aac_bringup.launch_utils``: plain helpers the launch files use (no ROS imports).
"""
