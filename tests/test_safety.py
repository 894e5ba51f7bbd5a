"""The safety filter (pure numpy): every limit triggers and is counted; the IK helper (PyBullet)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from aac_driver.arm_ik import ArmIK
from aac_driver.safety import EVENTS, SafetyConfig, SafetyFilter
from aac_sim.config import ConfigError
from aac_sim.env import WORKSPACE_HIGH, WORKSPACE_LOW, AacPandaEnv
from aac_robot import ros_interface as ri
from aac_robot.motion import GRIPPER_MAX_WIDTH
from aac_robot.panda import NEUTRAL_ARM_Q

EE = np.array([0.45, 0.0, 0.2])      # well inside the workspace box
NOW = 100.0
FRESH = NOW - 0.01                   # a camera frame 10 ms ago


def _twist(f, v, ee=EE, now=NOW, cam=FRESH, **kw):
    return f.filter_twist(now, v, ee, cam, **kw)


def _only(f, kind, n=1):
    """`kind` was counted n times and nothing else was counted."""
    assert f.counts[kind] == n, f.counts
    assert sum(f.counts.values()) == n, f.counts


def test_config_defaults_match_the_sim_and_franka():
    c = SafetyConfig()
    np.testing.assert_allclose(c.workspace_low, WORKSPACE_LOW)
    np.testing.assert_allclose(c.workspace_high, WORKSPACE_HIGH)
    assert c.max_ee_speed_m_s == 0.25 and c.joint_velocity_scale == 0.5
    assert c.joint_velocity_limits == (2.175,) * 4 + (2.61,) * 3
    assert c.camera_timeout_s == 0.2 and c.gripper_max_width_m == GRIPPER_MAX_WIDTH
    # the allowed joint band is inside the sim URDF's limits (the twin refuses anything outside them)
    env = AacPandaEnv(task="reach", render_images=False)
    try:
        low, high = env.joint_limits()
    finally:
        env.close()
    band_low, band_high = c.joint_band()
    assert (band_low > low[:7]).all() and (band_high < high[:7]).all()
    assert ((np.array(NEUTRAL_ARM_Q) > band_low) & (np.array(NEUTRAL_ARM_Q) < band_high)).all()


def test_config_is_strict():
    with pytest.raises(ConfigError, match="unknown key"):
        SafetyConfig.from_dict({"max_speed": 0.1})
    with pytest.raises(ConfigError, match="finite number"):
        SafetyConfig.from_dict({"max_ee_speed_m_s": "fast"})
    with pytest.raises(ConfigError, match="list of 3"):
        SafetyConfig.from_dict({"workspace_low": [0.0, 0.0]})
    with pytest.raises(ConfigError, match="below"):
        SafetyConfig.from_dict({"workspace_low": [0.9, -0.4, 0.0]})
    with pytest.raises(ConfigError, match="joint_velocity_scale"):
        SafetyConfig(joint_velocity_scale=1.5)
    with pytest.raises(ConfigError, match="camera_timeout_s"):
        SafetyConfig(camera_timeout_s=0.0)
    with pytest.raises(ConfigError, match="margin"):
        SafetyConfig(joint_limit_margin_rad=2.0)
    assert SafetyConfig.from_dict({"max_ee_speed_m_s": 0.1}).max_ee_speed_m_s == 0.1


def test_interface_names():
    assert ri.POLICY_TWIST == "aac/policy/twist" and ri.POLICY_GRIPPER == "aac/policy/gripper"
    assert ri.SAFETY_STOP == "aac/safety/stop" and ri.SAFETY_RESET == "aac/safety/reset"
    assert ri.INTERVENTIONS == "aac/safety/interventions"
    assert not any(n.startswith("/") for n in (ri.POLICY_TWIST, ri.POLICY_GRIPPER, ri.SAFETY_STOP,
                                               ri.SAFETY_RESET, ri.INTERVENTIONS, ri.FILTERED_TWIST))


def test_a_safe_command_passes_unchanged():
    f = SafetyFilter()
    v, events = _twist(f, [0.1, -0.05, 0.02])
    np.testing.assert_array_equal(v, [0.1, -0.05, 0.02])
    assert events == [] and sum(f.counts.values()) == 0 and f.commands == 1
    assert set(f.counts) == set(EVENTS)


def test_speed_is_clipped_keeping_the_direction():
    f = SafetyFilter()
    v, events = _twist(f, [1.0, 0.0, -1.0])
    assert events == ["speed_clipped"]
    assert np.linalg.norm(v) == pytest.approx(0.25)
    np.testing.assert_allclose(v / np.linalg.norm(v), np.array([1.0, 0.0, -1.0]) / math.sqrt(2))
    _only(f, "speed_clipped")


def test_motion_leaving_the_workspace_is_zeroed_on_that_axis_only():
    f = SafetyFilter()
    hi = np.array(WORKSPACE_HIGH)
    near_x = np.array([hi[0] - 0.005, 0.0, 0.2])        # 5 mm from the +x wall; 0.2 m/s * 0.1 s = 2 cm
    v, events = _twist(f, [0.2, 0.1, 0.0], ee=near_x)
    np.testing.assert_allclose(v, [0.0, 0.1, 0.0])
    assert events == ["workspace"]
    v, events = _twist(f, [-0.2, 0.1, 0.0], ee=near_x)   # moving away from the wall is fine
    np.testing.assert_allclose(v, [-0.2, 0.1, 0.0])
    assert events == []
    low_z = np.array([0.5, 0.0, WORKSPACE_LOW[2] + 0.001])
    v, events = _twist(f, [0.0, 0.0, -0.1], ee=low_z)    # into the table
    np.testing.assert_allclose(v, 0.0)
    assert events == ["workspace"]
    outside = np.array([0.5, 0.0, hi[2] + 0.1])          # already outside: only motion back in is allowed
    v, _ = _twist(f, [0.0, 0.0, -0.1], ee=outside)
    np.testing.assert_allclose(v, [0.0, 0.0, -0.1])
    v, _ = _twist(f, [0.0, 0.0, 0.1], ee=outside)
    np.testing.assert_allclose(v, 0.0)
    _only(f, "workspace", 3)
    # a speed-clipped command is checked against the box with its clipped speed
    v, events = _twist(f, [2.0, 0.0, 0.0], ee=np.array([hi[0] - 0.03, 0.0, 0.2]))
    assert f.config.control_dt == pytest.approx(0.1)
    assert events == ["speed_clipped"] and v[0] == pytest.approx(0.25)   # 2.5 cm per period: stays inside


@pytest.mark.parametrize("bad", [[np.nan, 0.0, 0.0], [0.0, np.inf, 0.0], [0.1, 0.1], "x"])
def test_non_finite_commands_are_refused_and_latch_a_stop(bad):
    f = SafetyFilter()
    if isinstance(bad, str):
        with pytest.raises(ValueError):
            _twist(f, bad)
        return
    v, events = _twist(f, bad)
    np.testing.assert_array_equal(v, 0.0)
    assert events == ["non_finite"] and f.stopped and "non-finite" in f.stop_reason
    v, events = _twist(f, [0.1, 0.0, 0.0])               # stays stopped
    assert events == ["stopped"] and not v.any()
    f.reset()
    v, events = _twist(f, [0.1, 0.0, 0.0])
    assert events == [] and v[0] == 0.1
    assert f.counts["non_finite"] == 1 and f.counts["stopped"] == 1


def test_non_finite_without_latching_and_a_nan_state():
    f = SafetyFilter(SafetyConfig(latch_on_non_finite=False))
    v, events = _twist(f, [0.1, 0.0, 0.0], ee=np.array([np.nan, 0.0, 0.2]))
    assert events == ["non_finite"] and not v.any() and not f.stopped
    v, events = _twist(f, [0.1, 0.0, 0.0])
    assert events == [] and v[0] == 0.1


def test_stop_latches_until_reset():
    f = SafetyFilter()
    f.stop("operator")
    f.stop("again")                                      # the first reason is kept
    for _ in range(3):
        v, events = _twist(f, [0.1, 0.0, 0.0])
        assert events == ["stopped"] and not v.any()
    q = np.array(NEUTRAL_ARM_Q)
    qt, events = f.filter_joint_targets(q, q + 0.01, 0.04)
    np.testing.assert_array_equal(qt, q)
    assert events == ["stopped"]
    w, events = f.filter_gripper(0.02)
    assert w is None and events == ["stopped"]
    assert f.report()["stopped"] and f.report()["stop_reason"] == "operator"
    f.reset()
    v, events = _twist(f, [0.1, 0.0, 0.0])
    assert events == [] and v[0] == 0.1 and not f.stopped
    _only(f, "stopped", 5)


def test_camera_watchdog():
    f = SafetyFilter()
    cfg = f.config
    v, events = f.filter_twist(NOW, [0.1, 0, 0], EE, None)           # no frame yet
    assert events == ["camera_stale"] and not v.any()
    v, events = f.filter_twist(NOW, [0.1, 0, 0], EE, NOW - cfg.camera_timeout_s + 1e-3)
    assert events == [] and v[0] == 0.1
    v, events = f.filter_twist(NOW, [0.1, 0, 0], EE, NOW - cfg.camera_timeout_s - 1e-3)
    assert events == ["camera_stale"] and not v.any()
    w, events = f.filter_gripper(0.03, NOW, NOW - 1.0)
    assert w is None and events == ["camera_stale"]
    w, events = f.filter_gripper(0.03, NOW, FRESH)
    assert w == 0.03 and events == []
    v, events = f.filter_twist(NOW + 1, [0.1, 0, 0], EE, NOW + 1)    # frames again: moves again, no latch
    assert events == [] and v[0] == 0.1
    _only(f, "camera_stale", 3)


def test_gripper_refused_while_the_joint_state_is_stale_or_missing():
    f = SafetyFilter()
    limit = f.config.state_timeout_s
    assert f.filter_gripper(0.03, NOW, FRESH, check_state=True, state_time=NOW - limit + 1e-3) == (0.03, [])
    assert f.filter_gripper(0.03, NOW, FRESH, check_state=True, state_time=NOW - limit - 1e-3) == (None, ["state_stale"])
    assert f.filter_gripper(0.03, NOW, FRESH, check_state=True, state_time=None) == (None, ["state_stale"])
    assert f.filter_gripper(0.03, NOW, FRESH) == (0.03, [])            # not checked unless asked


def test_stale_command_and_stale_or_missing_state():
    f = SafetyFilter()
    v, events = _twist(f, [0.1, 0, 0], command_time=NOW - 0.5)
    assert events == ["command_stale"] and not v.any()
    v, events = _twist(f, [0.1, 0, 0], command_time=NOW - 0.05, state_time=NOW - 0.5)
    assert events == ["state_stale"] and not v.any()
    v, events = _twist(f, [0.1, 0, 0], ee=None)
    assert events == ["state_stale"] and not v.any()
    v, events = _twist(f, [0.1, 0, 0], command_time=NOW - 0.05, state_time=NOW - 0.01)
    assert events == [] and v[0] == 0.1
    assert f.counts["command_stale"] == 1 and f.counts["state_stale"] == 2


def test_joint_targets_are_clipped_to_the_limits_and_the_velocity():
    f = SafetyFilter()
    cfg = f.config
    low, high = cfg.joint_band()
    q = np.array(NEUTRAL_ARM_Q)
    qt, events = f.filter_joint_targets(q, q + 0.01, 0.04)              # small step: unchanged
    np.testing.assert_allclose(qt, q + 0.01)
    assert events == []
    # beyond the limit: clipped into the band (reachable within the velocity limit from close by)
    near = q.copy()
    near[3] = high[3] - 0.01
    target = near.copy()
    target[3] = cfg.joint_upper[3] + 0.2
    qt, events = f.filter_joint_targets(near, target, 0.04)
    assert events == ["joint_limit"] and qt[3] == pytest.approx(high[3])
    # too fast: the whole step is scaled so the fastest joint moves at scale x its limit
    target = q.copy()
    target[0] += 0.5
    target[5] += 0.1
    qt, events = f.filter_joint_targets(q, target, 0.04)
    assert events == ["joint_velocity"]
    step = qt - q
    assert step[0] == pytest.approx(2.175 * 0.5 * 0.04)
    assert step[5] / step[0] == pytest.approx(0.1 / 0.5)                 # same direction
    assert (np.abs(step) <= cfg.max_joint_step(0.04) + 1e-12).all()
    # both
    qt, events = f.filter_joint_targets(q, q + np.array([0, 0, 0, 5.0, 0, 0, 0]), 0.04)
    assert events == ["joint_limit", "joint_velocity"] and qt[3] <= high[3]
    # NaN targets are refused (hold) and latch; a NaN state gives nothing to send
    qt, events = f.filter_joint_targets(q, q * np.nan, 0.04)
    np.testing.assert_array_equal(qt, q)
    assert events == ["non_finite"]
    assert f.stopped
    f.reset()
    qt, events = f.filter_joint_targets(q * np.nan, q, 0.04)
    assert qt is None and events == ["non_finite"]
    assert f.counts["joint_limit"] == 2 and f.counts["joint_velocity"] == 2 and f.counts["non_finite"] == 2


def test_gripper_width_is_clipped():
    f = SafetyFilter()
    assert f.filter_gripper(0.05) == (0.05, [])
    assert f.filter_gripper(0.2) == (GRIPPER_MAX_WIDTH, ["gripper_clipped"])
    assert f.filter_gripper(-0.01) == (0.0, ["gripper_clipped"])
    w, events = f.filter_gripper(float("nan"))
    assert w is None and events == ["non_finite"]
    assert f.counts["gripper_clipped"] == 2


def test_dry_run_filters_and_counts_the_same():
    wet, dry = SafetyFilter(), SafetyFilter(dry_run=True)
    q = np.array(NEUTRAL_ARM_Q)
    for f in (wet, dry):
        _twist(f, [1.0, 0, 0])
        _twist(f, [0.1, 0, 0], cam=None)
        f.filter_joint_targets(q, q + 1.0, 0.04)
        f.filter_gripper(0.5)
    assert dry.counts == wet.counts and dry.commands == wet.commands == 4
    assert dry.report()["dry_run"] and not wet.report()["dry_run"]
    with pytest.raises(KeyError):
        wet.record("made_up")


def test_ik_moves_the_grasp_point_by_v_dt_with_fr3_names():
    ik = ArmIK([f"fr3_joint{i}" for i in range(1, 8)])
    try:
        q = np.array(NEUTRAL_ARM_Q)
        ee = ik.fk(q)
        np.testing.assert_allclose(ee, [0.43, 0.0, 0.235], atol=0.01)
        for v in ([0.25, 0, 0], [0, -0.25, 0], [0, 0, 0.25]):
            qt = ik.targets(q, v, 0.04)
            np.testing.assert_allclose(ik.fk(qt) - ee, np.array(v) * 0.04, atol=2e-3)
            assert ik.last_residual_m < 2e-3
        # joint states by name, in any order; messages without the arm joints give None
        names = ["panda_finger_joint1"] + [f"fr3_joint{i}" for i in range(7, 0, -1)]
        pos = [0.04] + list(q[::-1])
        np.testing.assert_allclose(ik.arm_q(names, pos), q)
        assert ik.arm_q(["fr3_finger_joint1"], [0.04]) is None
        with pytest.raises(ValueError, match="7 distinct"):
            ArmIK(["a"] * 7)
    finally:
        ik.close()
