"""Train what you deploy: one set of motion limits for the sim, the exported actor and the safety layer;
camera timing and command latency inside training."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from aac_robot.actor_spec import limit_mismatches, read_actor_spec, trained_limits
from aac_sim.config import ConfigError, RandomizationConfig, SimConfig
from aac_sim.env import AacPandaEnv
from aac_robot.motion import MotionLimits, action_to_command, applied_action, command_to_action
from aac_sim.randomization import EpisodeParams

RNG = np.random.default_rng(0)


def test_commanded_speed_never_exceeds_the_limit_and_inside_the_ball_maps_linearly():
    limits = MotionLimits()
    for a in RNG.uniform(-1, 1, (5000, 4)):
        v, w = action_to_command(a, limits)
        assert np.linalg.norm(v) <= limits.max_ee_speed_m_s * (1 + 1e-9)
        assert 0.0 <= w <= limits.gripper_max_width_m
    v, _ = action_to_command([0.3, -0.4, 0.0, 0.0], limits)
    np.testing.assert_allclose(v, [0.3 * 0.25, -0.4 * 0.25, 0.0])
    v, _ = action_to_command([1, 1, 1, 0], limits)   # a corner of the box: full speed, same direction
    np.testing.assert_allclose(v, np.full(3, 0.25 / np.sqrt(3)))
    with pytest.raises(ValueError, match="exceeds the limit"):
        command_to_action([0.3, 0.0, 0.0], 0.04, limits)
    with pytest.raises(ValueError, match="finite"):
        command_to_action([np.nan, 0.0, 0.0], 0.04, limits)


def test_the_safety_layer_has_nothing_to_clip_for_any_policy_action():
    from aac_driver.safety import SafetyConfig, SafetyFilter
    f = SafetyFilter(SafetyConfig())
    ee = np.array([0.5, 0.0, 0.2])
    for a in RNG.uniform(-1, 1, (2000, 4)):
        v, _ = action_to_command(a, MotionLimits())
        _, events = f.filter_twist(0.0, v, ee, 0.0)
        assert "speed_clipped" not in events
    assert f.counts["speed_clipped"] == 0


def test_the_sim_moves_the_grasp_point_at_most_one_limited_step_per_control_step():
    env = AacPandaEnv(task="reach", render_images=False, randomization=RandomizationConfig.off())
    obs, _ = env.reset(seed=0)
    step = env.cfg.motion.max_ee_step_m
    assert step == pytest.approx(0.025) and env.cfg.control_dt == pytest.approx(0.1)
    moved = []
    for _ in range(8):
        before = obs["state"][env.state_layout["ee_pos"]]
        obs, *_ = env.step(np.array([1.0, 1.0, -1.0, 1.0], np.float32))
        moved.append(np.linalg.norm(obs["state"][env.state_layout["ee_pos"]] - before))
    env.close()
    assert max(moved) <= step * 1.1, moved          # the box corner is limited to the speed, not sqrt(3) x
    assert np.median(moved) >= step * 0.8, moved     # and the arm keeps up with the commanded speed


def test_limits_that_make_a_task_unsolvable_are_refused_naming_the_fields():
    with pytest.raises(ConfigError, match="unsolvable.*max_episode_steps or motion.max_ee_speed_m_s"):
        SimConfig(task="push", motion=MotionLimits(max_ee_speed_m_s=0.05))
    SimConfig(task="push", motion=MotionLimits(max_ee_speed_m_s=0.05), max_episode_steps=200)   # longer: fine
    with pytest.raises(ConfigError, match="physics timestep"):
        SimConfig(motion=MotionLimits(control_rate_hz=2.0), physics_substeps=20)
    with pytest.raises(ConfigError, match="motion.max_ee_speed_m_s"):
        SimConfig.from_dict({"motion": {"max_ee_speed_m_s": 5.0}})
    with pytest.raises(ConfigError, match="unknown key"):
        SimConfig.from_dict({"max_ee_step_m": 0.05})   # the old per-step field is gone: say so


def test_observation_age_follows_the_camera_clock():
    ep = EpisodeParams(camera_period_s=1 / 30, camera_phase_s=0.01, observation_latency_s=0.02)
    ages = [ep.observation_age(t, 0.1) for t in np.arange(1, 200) * 0.1]
    assert min(ages) >= 0.02 - 1e-9 and max(ages) < 0.02 + 1 / 30 + 1e-9
    assert ep.observation_age(5.0, 0.01) == pytest.approx(0.01)   # capped at one control step
    assert EpisodeParams().observation_age(5.0, 0.1) == 0.0       # timing off: the frame of the tick


def test_camera_timing_gives_the_policy_the_frame_of_its_capture_time():
    """With camera timing on, image and proprio are from the capture time (the grasp point lags the
    privileged state by velocity x age); off, they are the state at the tick. The switch changes nothing
    else: the privileged state of the same seed and actions is identical."""
    def run(timing: bool):
        rand = dataclasses.replace(RandomizationConfig.off(), camera_timing=timing)
        env = AacPandaEnv(task="reach", render_images=False, randomization=rand)
        env.reset(seed=4)
        out = []
        for _ in range(10):
            obs, *_ = env.step(np.array([0.8, 0.0, 0.0, 1.0], np.float32))
            out.append((obs["proprio"][:3].copy(), obs["state"][env.state_layout["ee_pos"]].copy(),
                        obs["state"][env.state_layout["ee_vel"]].copy()))
        age = env.episode.observation_age(1.0, env.cfg.control_dt)
        env.close()
        return out, age

    on, age = run(True)
    off, age_off = run(False)
    assert age_off == 0.0 and 0.005 <= age <= 0.03 + 1 / 30 * 1.02
    for (p_on, s_on, v_on), (p_off, s_off, _) in zip(on, off):
        np.testing.assert_array_equal(s_on, s_off)          # the physics does not depend on the camera
        np.testing.assert_array_equal(p_off, s_off)         # no delay: proprio is the state at the tick
    lag = np.array([s[0] - p[0] for p, s, _ in on[3:]])     # moving at ~0.2 m/s in +x
    assert (lag > 0.001).all() and (lag < 0.02).all(), lag


def test_scripted_controllers_solve_every_task_with_camera_timing_and_latency_at_their_extremes():
    rand = RandomizationConfig(action_latency_s=(0.03, 0.03), observation_latency_s=(0.03, 0.03))
    from aac_sim.scripted import run_episodes
    for task in ("push", "pick_place"):
        env = AacPandaEnv(task=task, render_images=False, randomization=rand)
        rate = np.mean([r["success"] for r in run_episodes(env, 20, seed=77)])
        env.close()
        assert rate >= 0.8, (task, rate)


def test_exported_spec_records_the_limits_and_is_read_without_torch(tmp_path):
    import torch

    from aac_policy.agent import Agent
    from aac_policy.export import build_obs_spec, export_actor
    from aac_policy.spec import build_spec
    from aac_policy.config import load_config
    from aac_policy.envs import sim_config_for
    cfg = load_config(None, ["sim.task=reach", "sim.image_size=32"])
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    torch.manual_seed(0)
    path = export_actor(Agent(spec, cfg), tmp_path / "actor.pt", build_obs_spec(Agent(spec, cfg), env))
    env.close()
    code = (f"import sys; from aac_robot.actor_spec import read_actor_spec; s = read_actor_spec({str(path)!r}); "
            "assert 'torch' not in sys.modules and 'pybullet' not in sys.modules; print(s['motion'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    s = read_actor_spec(path)
    assert s["motion"] == MotionLimits().to_spec() and s["timing"]["camera_fps"] == 30.0
    limits, unknown = trained_limits(s)
    assert limits == MotionLimits() and unknown == []
    with pytest.raises(ConfigError, match="not an exported actor|cannot read"):
        (tmp_path / "junk.pt").write_bytes(b"not a zip")
        read_actor_spec(tmp_path / "junk.pt")


def test_older_exports_without_limits_are_accepted_and_say_what_is_unknown():
    limits, unknown = trained_limits({"action": {"max_ee_step_m": 0.05, "control_dt_s": 0.04}})
    assert limits.control_rate_hz == pytest.approx(25.0) and limits.max_ee_speed_m_s == pytest.approx(1.25)
    assert set(unknown) == {"workspace_low", "workspace_high", "gripper_max_width_m"}
    with pytest.raises(ConfigError, match="neither motion limits nor an action scaling"):
        trained_limits({"action": {}})


def test_tighter_safety_limits_are_reported_and_equal_ones_are_not():
    t = MotionLimits()
    assert limit_mismatches(t, t.max_ee_speed_m_s, t.control_rate_hz, t.workspace_low, t.workspace_high,
                            t.gripper_max_width_m) == []
    out = limit_mismatches(t, 0.1, 25.0, (0.3, -0.25, 0.02), (0.7, 0.25, 0.35), 0.08)
    text = "\n".join(out)
    assert "max_ee_speed_m_s 0.1 is below the 0.25" in text and "rate_hz 25.0 differs" in text
    assert sum("workspace" in line for line in out) == 3


def test_the_arm_node_says_at_start_where_its_limits_are_below_the_trained_ones(tmp_path):
    import rclpy
    from rclpy.parameter import Parameter

    from aac_driver.arm_node import ArmNode
    spec_zip = tmp_path / "actor.pt"
    import json
    import zipfile
    with zipfile.ZipFile(spec_zip, "w") as z:   # the layout torch.jit.save writes: <archive>/extra/obs_spec.json
        z.writestr("actor/extra/obs_spec.json", json.dumps({"motion": MotionLimits().to_spec()}))
    rclpy.init()
    try:
        node = ArmNode(parameter_overrides=[Parameter("actor", Parameter.Type.STRING, str(spec_zip)),
                                            Parameter("max_ee_speed_m_s", Parameter.Type.DOUBLE, 0.1),
                                            Parameter("output", Parameter.Type.STRING, "none")])
        assert any("max_ee_speed_m_s 0.1 is below" in w for w in node.limit_warnings)
        assert node.filter.config.max_ee_speed_m_s == 0.1   # the safety limit still wins
        node.destroy_node()
        node = ArmNode(parameter_overrides=[Parameter("actor", Parameter.Type.STRING, str(spec_zip)),
                                            Parameter("output", Parameter.Type.STRING, "none")])
        assert node.limit_warnings == []   # the defaults are the trained limits
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_the_scripted_controller_refuses_limits_it_cannot_solve_the_task_with():
    """Refused at config time (the trainer checks before training): a fast arm with a short episode passes
    the path-length bound (0.5 m/s x 15 steps of 0.1 s = 0.75 m) but not the controller (the block slides)."""
    from aac_sim.scripted import check_solvable
    check_solvable(SimConfig(task="push"))                                   # the defaults: not re-run
    check_solvable(SimConfig(task="reach", max_episode_steps=40))           # changed but solvable
    hasty = SimConfig(task="push", motion=MotionLimits(max_ee_speed_m_s=0.5), max_episode_steps=15)
    with pytest.raises(ConfigError, match="looks unsolvable.*motion, max_episode_steps|looks unsolvable.*max_episode_steps"):
        check_solvable(hasty)
