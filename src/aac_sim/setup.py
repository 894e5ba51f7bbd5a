"""ament_python / pip setup for aac_sim.

Works both under colcon (ament_python build type) and with
``pip install -e src/aac_sim``.
"""

from setuptools import find_packages
from setuptools import setup

package_name = 'aac_sim'

data_files = [
    ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
    ('share/' + package_name, ['package.xml']),
]

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
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
