"""The packaged Fast DDS profile for camera-sized messages: chosen only when the user names none,
parsed by the real Fast DDS without errors, and its shared-memory segment holds full RealSense frames."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from aac_robot import ros_interface as ri

NS = "{http://www.eprosima.com}"


def test_profile_is_used_only_when_the_user_names_none_and_the_rmw_is_fast_dds():
    profile = str(ri.FASTDDS_PROFILE)
    new, old = ri.FASTDDS_PROFILE_VARIABLES   # Fast DDS 3 / Fast DDS 2 names: exactly one is set
    assert ri.fastdds_profile_env({}) == {new: profile}   # the pip wheels (Kilted): no ROS_DISTRO
    assert ri.fastdds_profile_env({"ROS_DISTRO": "kilted"}) == {new: profile}
    assert ri.fastdds_profile_env({"ROS_DISTRO": "jazzy"}) == {old: profile}
    assert ri.fastdds_profile_env({"RMW_IMPLEMENTATION": "rmw_fastrtps_dynamic_cpp"}) == {new: profile}
    assert ri.fastdds_profile_env({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}) == {}
    assert ri.fastdds_profile_env({"RMW_IMPLEMENTATION": "rmw_zenoh_cpp"}) == {}
    for var in ri.FASTDDS_PROFILE_VARIABLES:   # either name (Fast DDS 3 or 2) set by the user wins
        assert ri.fastdds_profile_env({var: "/home/me/my_profile.xml"}) == {}


def test_segment_holds_a_full_realsense_colour_and_depth_pair_several_times():
    root = ET.parse(ri.FASTDDS_PROFILE).getroot()
    shm = [t for t in root.iter(f"{NS}transport_descriptor") if t.findtext(f"{NS}type") == "SHM"]
    assert len(shm) == 1
    pair = 640 * 480 * 3 + 640 * 480 * 2   # rgb8 + 16UC1, bytes
    assert int(shm[0].findtext(f"{NS}segment_size")) >= 8 * pair
    participant = root.find(f"{NS}participant")
    assert participant.get("is_default_profile") == "true"


def test_a_node_started_by_aac_loads_the_profile_without_parser_errors():
    """In a fresh process (Fast DDS reads profiles once per process): init_rclpy sets the variables
    and the real Fast DDS parses the file; a malformed one would print XMLPARSER errors."""
    code = ("import os, rclpy\n"
            "from aac_robot.node_main import init_rclpy\n"
            "init_rclpy()\n"
            "node = rclpy.create_node('aac_profile_check')\n"
            "print(os.environ['FASTDDS_DEFAULT_PROFILES_FILE'])\n"
            "node.destroy_node()\n"
            "rclpy.shutdown()\n")
    env = {k: v for k, v in os.environ.items() if k not in ri.FASTDDS_PROFILE_VARIABLES}
    env.pop("RMW_IMPLEMENTATION", None)
    env.pop("ROS_DISTRO", None)   # the kilted wheels
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(ri.FASTDDS_PROFILE)
    assert "XMLPARSER" not in out.stderr and "Error" not in out.stderr, out.stderr
    assert "deprecated" not in out.stderr, out.stderr   # e.g. the old variable name on Fast DDS 3


def test_malloc_is_tuned_for_frame_buffers_unless_the_user_tunes_it(monkeypatch):
    """aac nodes keep ~1 MB frame buffers on the heap (bench/frame_transport.py halves the 640x480 transport
    with it); a user's own GLIBC_TUNABLES / MALLOC_* settings win."""
    import platform

    from aac_robot.node_main import tune_malloc_for_frames
    for var in [k for k in os.environ if k == "GLIBC_TUNABLES" or k.startswith("MALLOC_")]:
        monkeypatch.delenv(var)
    if platform.libc_ver()[0] == "glibc":
        assert tune_malloc_for_frames() is True
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1048576")
    assert tune_malloc_for_frames() is False
    monkeypatch.delenv("GLIBC_TUNABLES")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert tune_malloc_for_frames() is False
