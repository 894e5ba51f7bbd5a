"""franka_gripper goal handling (aac_driver.gripper): deadband, clamping, what an abort means.

The action itself (control_msgs/GripperCommand) is not installable on the pip path, so the arm node's
use of it runs only on a full ROS install; the decisions it takes are tested here."""
import pytest

from aac_driver.gripper import MIN_LIMIT_M, GripperGoals


def test_goals_are_sent_on_real_changes_only_and_clamped_to_the_limit():
    g = GripperGoals(max_width_m=0.08, deadband_m=0.002)
    assert g.next_goal(0.05) == 0.05
    assert g.next_goal(0.051) is None                 # within the deadband of the last goal
    assert g.next_goal(0.2) == 0.08                   # never wider than the limit
    assert g.next_goal(-0.01) == 0.0


def test_an_aborted_opening_goal_shrinks_the_limit_and_is_sent_again():
    g = GripperGoals(max_width_m=0.08)
    assert g.next_goal(0.08) == 0.08
    again, why = g.on_aborted(0.08, measured_m=0.03)  # homed max_width below 8 cm: the server refused
    assert again == pytest.approx(0.078) and g.max_width_m == pytest.approx(0.078) and "limit now 0.0780" in why
    assert g.next_goal(0.08) is None                  # later commands are clamped to the new limit


def test_an_aborted_closing_goal_is_a_grasp_not_an_error():
    g = GripperGoals()
    g.next_goal(0.0)
    again, why = g.on_aborted(0.0, measured_m=0.041)  # closing on a 4 cm block: stopped wider than asked
    assert again is None and "grasped" in why and g.max_width_m == 0.08   # nothing re-sent, limit kept


def test_repeated_refusals_stop_at_a_floor_and_ask_for_homing():
    g = GripperGoals(max_width_m=MIN_LIMIT_M + 0.001)
    again, why = g.on_aborted(MIN_LIMIT_M + 0.001, measured_m=None)
    assert again is None and "homing" in why
