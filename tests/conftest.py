import sys
from pathlib import Path

# Tests run from a checkout even if the packages were not pip-installed.
ROOT = Path(__file__).resolve().parents[1]
for pkg in ("aac_robot", "aac_sim", "aac_policy", "aac_driver", "aac_bringup"):
    path = str(ROOT / "src" / pkg)
    if path not in sys.path:
        sys.path.insert(0, path)


# The ROS half of the suite needs real rclpy and the message packages. Outside CI (a laptop without them)
# those modules skip (pytest.importorskip); with AAC_REQUIRE_ROS=1 (scripts/run_tests.sh, so CI) a missing
# one stops the session with what is missing: a broken install cannot turn half the suite into skips.
ROS_MODULES = ("rclpy", "std_msgs.msg", "sensor_msgs.msg", "geometry_msgs.msg", "trajectory_msgs.msg",
               "visualization_msgs.msg", "std_srvs.srv", "rosgraph_msgs.msg")


def pytest_configure(config):
    import importlib
    import os
    if os.environ.get("AAC_REQUIRE_ROS") != "1":
        return
    for module in ROS_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RuntimeError(f"AAC_REQUIRE_ROS=1 but {module} does not import ({exc}): install the ros-kilted-* "
                               "wheels (requirements.txt), or unset AAC_REQUIRE_ROS to let the ROS tests skip") from exc
