"""ament_python / pip setup for aac_robot: the robot contract (no simulator, gymnasium or torch).

Works both under colcon (ament_python build type) and with ``pip install -e src/aac_robot``.
"""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'aac_robot'

# The camera model (D435 intrinsics, the trained mount) and the Fast DDS profile live inside the Python
# package (found as package data when pip-installed) and in the ament share directory (share/aac_robot/config).
config_files = sorted(glob(os.path.join(package_name, 'data', '*.yaml'))
                      + glob(os.path.join(package_name, 'data', '*.xml')))

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={package_name: ['data/*.yaml', 'data/*.xml']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/config', config_files),
    ],
    install_requires=[
        'numpy',
        'pyyaml',
        'opencv-python-headless',
        'pybullet==3.2.7',
    ],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='AAC Robotics',
    maintainer_email='dev@aac-robotics.example',
    description='The robot contract shared by the AAC simulator, driver and policy runtime.',
    license='Apache-2.0',
    entry_points={'console_scripts': []},   # a library: its users' nodes live in aac_driver / aac_policy / aac_sim
)
