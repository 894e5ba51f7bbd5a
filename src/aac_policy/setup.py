"""ament_python / pip setup for aac_policy."""

from setuptools import find_packages
from setuptools import setup

package_name = 'aac_policy'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    # named training configs (aac_train --config main; the trainer node's config_file: main)
    package_data={package_name: ['configs/*.yaml']},
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
    description='Asymmetric actor-critic learner and policy node for AAC.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'aac_train = aac_policy.train:main',
            'aac_evaluate = aac_policy.evaluate:main',
            'aac_compare = aac_policy.compare:main',
            'aac_trainer_node = aac_policy.trainer_node:main',
            'aac_policy_node = aac_policy.policy_node:main',
            'aac_deploy_eval = aac_policy.deploy_eval:main',
        ],
    },
)
