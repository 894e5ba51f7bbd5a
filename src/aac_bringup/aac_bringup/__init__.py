"""Bring-up package for the AAC project.

Holds no Python logic: it installs the launch files (``launch/*.launch.py``),
parameter files (``config/*.yaml``) and RViz configurations (``rviz/*.rviz``)
that start simulated training and deployment.
"""
