"""ament_python / pip setup for aac_driver."""

from setuptools import find_packages
from setuptools import setup

package_name = 'aac_driver'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    # ROS 2 dependencies (rclpy, message packages) come from package.xml /
    # rosdep, not pip.  torch is never listed here: it is pinned elsewhere.
    install_requires=[],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='AAC Robotics',
    maintainer_email='dev@aac-robotics.example',
    description='RealSense camera and arm-output ROS 2 nodes for AAC.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'aac_recorder_node = aac_driver.recorder:main',
            'aac_arm_node = aac_driver.arm_node:main',
            'aac_realsense_node = aac_driver.realsense_node:main',
            'aac_preflight = aac_driver.preflight:main',
            'aac_episodes = aac_driver.episode_runner:main',
            'aac_calibrate = aac_driver.calibrate_node:main',
        ],
    },
)
