"""ament_python / pip setup for aac_bringup."""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'aac_bringup'

data_files = [
    ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
    ('share/' + package_name, ['package.xml']),
]
# Launch, parameter and RViz files are installed into share/aac_bringup/<dir>
# when present.  The directories may not exist yet: empty globs are skipped.
for subdir, pattern in (
    ('launch', '*.launch.py'),
    ('config', '*.yaml'),
    ('config/sros2', '*.xml'),
    ('rviz', '*.rviz'),
):
    files = sorted(glob(os.path.join(subdir, pattern)))
    if files:
        data_files.append((os.path.join('share', package_name, subdir), files))

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=data_files,
    install_requires=[],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='AAC Robotics',
    maintainer_email='dev@aac-robotics.example',
    description='Launch, parameter and RViz files that bring up the AAC stack.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [],
    },
)
