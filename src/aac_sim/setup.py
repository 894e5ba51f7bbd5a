"""ament_python / pip setup for aac_sim.

Works both under colcon (ament_python build type) and with
``pip install -e src/aac_sim``.
"""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'aac_sim'

# Environment/task YAML files live inside the Python package (so they are found
# via package data when pip-installed) and are also installed into the ament
# share directory (share/aac_sim/config) for launch files.  glob() returns []
# when there are none yet; an empty entry is skipped.
config_files = sorted(glob(os.path.join(package_name, 'data', '*.yaml')))

data_files = [
    ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
    ('share/' + package_name, ['package.xml']),
]
if config_files:
    data_files.append(('share/' + package_name + '/config', config_files))

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={package_name: ['data/*.yaml', 'data/*.xml']},
    data_files=data_files,
    # Keep minimal.  torch is NOT listed here (it is pinned to 2.13.0 in the
    # requirements files / Dockerfile and must not be re-resolved by pip).
    install_requires=[
        'numpy',
        'pyyaml',
        'gymnasium>=1.0',
        'pybullet==3.2.7',
        'opencv-python-headless',
    ],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='AAC Robotics',
    maintainer_email='dev@aac-robotics.example',
    description='PyBullet/Gymnasium simulation environments for AAC training.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'aac_sim_demo = aac_sim.demo:main',
            'aac_sim_image_grid = aac_sim.image_grid:main',
            'aac_robot_description = aac_sim.robot_description:main',
            'aac_sim_node = aac_sim.sim_node:main',
            'aac_foxglove_view = aac_sim.foxglove_view:main',
        ],
    },
)
