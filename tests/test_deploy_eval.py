"""Deployment eval against the sim twin: success, time-to-success, interventions, perturbation."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from aac_policy.deploy_eval import counts_delta, episode_result, markdown, report
from aac_sim.env import AacPandaEnv


def _rows(successes):
    return [{"step": [t], "is_success": [s], "reward": [s - 1.0]} for t, s in enumerate(successes)]


def test_episode_results_and_report_from_twin_rows():
    r = episode_result(_rows([0, 0, 0, 1, 1, 1]), 5)
    assert (r.success, r.first_success_step, r.episode_return, r.length) == (True, 3, -2.0, 5)
    r2 = episode_result(_rows([0, 1, 0, 0]), 3)
    assert not r2.success and r2.first_success_step == 1
    with pytest.raises(RuntimeError, match="did not reach step 9"):
        episode_result(_rows([0, 0]), 9)
    assert counts_delta({"counts": {"speed_clipped": 3}}, {"counts": {"speed_clipped": 5, "stopped": 0}}) == {
        "speed_clipped": 2}
    rep = report([r, r2], [{"speed_clipped": 2}, {}], [False, True],
                 {"namespace": "s", "episode_steps": 5, "perturb_at": 2, "perturb_m": 0.05, "safety_node_seen": True})
    assert rep["overall"]["success_rate"] == 0.5 and rep["after_perturbation"]["success_rate"] == 0.0
    assert rep["interventions"]["total"] == {"speed_clipped": 2}
    assert rep["interventions"]["per_step"] == {"speed_clipped": 2 / 8} and rep["interventions"]["control_steps"] == 8
    assert "success after a 0.05 m block perturbation at step 2: 0.00" in markdown(rep)
    assert "25.00 % of 8 control steps" in markdown(rep)


def test_in_process_reference_of_the_same_actor_sits_next_to_the_deployed_numbers(tmp_path):
    """`--actor`: the exported file runs in-process on the twin's sim config; the report shows both."""
    import torch

    from aac_policy.agent import Agent
    from aac_policy.deploy_eval import evaluate_in_process
    from aac_policy.export import build_obs_spec, export_actor
    from aac_policy.spec import build_spec
    from aac_policy.config import load_config
    from aac_policy.envs import sim_config_for
    from aac_sim.config import RandomizationConfig
    cfg = load_config(None, ["sim.task=reach", "sim.image_size=32"])
    env = AacPandaEnv(config=sim_config_for(cfg))
    spec = build_spec(env.observation_space, env.action_space, cfg.wiring, cfg.aux_loss, env.state_layout)
    torch.manual_seed(0)
    agent = Agent(spec, cfg)
    obs_spec = build_obs_spec(agent, env)
    r = cfg.sim.randomization   # the trained camera range, for the preflight's camera.pose check
    assert obs_spec["camera"]["pose_range"] == {"position_m": r.camera_pos_jitter_m,
                                                "rotation_deg": r.camera_rot_jitter_deg, "focal_rel": r.camera_fov_jitter}
    actor = export_actor(agent, tmp_path / "actor.pt", obs_spec)
    env.close()
    twin = cfg.sim.replace(randomization=RandomizationConfig.off()).to_dict()
    ip = evaluate_in_process(actor, twin, episodes=2)
    assert ip["overall"]["episodes"] == 2
    r = episode_result(_rows([0, 0, 1]), 2)
    rep = {**report([r], [{}], [False], {"namespace": "", "episode_steps": 2, "safety_node_seen": True}),
           "in_process": ip}
    md = markdown(rep)
    assert "| in-process (sim, no ROS, no safety layer) |" in md and "| deployed (policy node" in md
    with pytest.raises(ValueError, match="image_size"):
        evaluate_in_process(actor, {**twin, "image_size": 64}, episodes=1)


def test_displace_object_moves_the_block_and_refuses_bad_input():
    env = AacPandaEnv(task="push", render_images=False)
    obs, _ = env.reset(seed=0)
    new = env.displace_object([0.05, -0.03])
    np.testing.assert_allclose(new[:2], obs["achieved_goal"][:2] + [0.05, -0.03], atol=1e-6)
    obs, *_ = env.step(np.zeros(4, np.float32))
    np.testing.assert_allclose(obs["achieved_goal"][:2], new[:2], atol=2e-3)   # it stays where it was put
    with pytest.raises(ValueError, match="finite"):
        env.displace_object([np.nan, 0])
    env.close()
    with pytest.raises(ValueError, match="no block"):
        reach = AacPandaEnv(task="reach", render_images=False)
        reach.reset(seed=0)
        try:
            reach.displace_object([0.01, 0])
        finally:
            reach.close()


def goal_seeking_policy(node, ns: str, starts_at: float = 0.0) -> None:
    """A stand-in policy node: a proportional controller toward the goal on /<ns>/aac/policy/twist, asking
    for up to 0.5 m/s, fed by the twin's privileged state; silent until time.monotonic() >= starts_at."""
    from geometry_msgs.msg import TwistStamped
    from std_msgs.msg import Float32MultiArray

    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import unpack_labelled

    pub = node.create_publisher(TwistStamped, f"/{ns}/{ri.POLICY_TWIST}", 10)

    def control(msg):
        if time.monotonic() < starts_at:
            return
        _, seg = unpack_labelled(msg)
        v = np.clip(4.0 * (seg["desired_goal"] - seg["proprio"][:3]), -0.5, 0.5)
        tw = TwistStamped()
        tw.header.frame_id = ri.BASE_FRAME
        tw.header.stamp = node.get_clock().now().to_msg()
        tw.twist.linear.x, tw.twist.linear.y, tw.twist.linear.z = (float(x) for x in v)
        pub.publish(tw)

    node.create_subscription(Float32MultiArray, f"/{ns}/{ri.PRIVILEGED_STATE}", control, 10)


def test_deploy_eval_on_a_realtime_twin_through_the_safety_layer():
    """A goal-seeking controller on aac/policy/twist -> the real arm node (clips to 0.25 m/s) -> twin."""
    from rclpy.parameter import Parameter

    from aac_driver.arm_node import ArmNode
    from aac_policy.deploy_eval import evaluate_twin
    from ros_helpers import SimProcess, Spinning

    spin = Spinning("aac_eval")
    with SimProcess("s", task="reach", mode="realtime", randomize=False, seed=1), spin as node:
        arm = ArmNode(namespace="s", parameter_overrides=[Parameter("output", Parameter.Type.STRING, "servo")])
        spin.executor.add_node(arm)
        goal_seeking_policy(node, "s")
        try:
            rep = evaluate_twin(node, "s", episodes=2, episode_steps=75)
        finally:
            spin.executor.remove_node(arm)
            arm.destroy_node()
    assert rep["overall"]["episodes"] == 2 and rep["task"] == "reach"
    assert rep["overall"]["success_rate"] == 1.0, rep
    assert rep["interventions"]["safety_node_seen"]
    assert rep["interventions"]["total"].get("speed_clipped", 0) > 0, rep["interventions"]


def test_deploy_eval_waits_for_a_policy_that_starts_late():
    """A deployment whose policy node is still loading when the eval starts (seen in twin_parity: the
    policy accepted the camera ~2 s in, and the arm node's start-up watchdog ticks were counted as
    episode 0's interventions): episode 0 starts only once commands flow, its intervention baseline is
    the arm node's report from then, and the late start costs no episode."""
    from rclpy.parameter import Parameter

    from aac_driver.arm_node import ArmNode
    from aac_policy.deploy_eval import evaluate_twin
    from ros_helpers import SimProcess, Spinning

    spin = Spinning("aac_eval_late")
    with SimProcess("l", task="reach", mode="realtime", randomize=False, seed=1), spin as node:
        goal_seeking_policy(node, "l", starts_at=time.monotonic() + 3.0)   # answers only 3 s from now
        arm = ArmNode(namespace="l", parameter_overrides=[Parameter("output", Parameter.Type.STRING, "servo")])
        spin.executor.add_node(arm)
        try:
            # 20 steps (2 s): an episode begun before the commands would end before they start
            rep = evaluate_twin(node, "l", episodes=1, episode_steps=20, wait_for_policy_s=30.0)
        finally:
            spin.executor.remove_node(arm)
            arm.destroy_node()
    assert rep["overall"]["success_rate"] == 1.0, rep
    assert rep["interventions"]["safety_node_seen"]
    stale = {k: v for k, v in rep["interventions"]["total"].items() if k.endswith("_stale")}
    assert not stale, rep["interventions"]


def test_realtime_twin_steps_a_whole_control_period_after_a_reset():
    """In training the policy has the whole control period to answer the reset observation; a realtime
    twin whose timer kept its old phase took the first step anywhere from 0 to one period after a reset,
    often before a deployed policy's first command arrived (a lost step per episode)."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Float32MultiArray, String
    from std_srvs.srv import Trigger

    from aac_policy.ros_env import call_service
    from aac_robot import ros_interface as ri
    from aac_robot.ros_convert import unpack_labelled
    from ros_helpers import SimProcess, Spinning

    spin = Spinning("aac_twin_phase")
    first_step: dict[int, float] = {}   # episode -> arrival time of its step-1 observation
    info = {}
    with SimProcess("p", task="reach", mode="realtime", randomize=False, seed=1), spin as node:
        def on_priv(msg):
            _, seg = unpack_labelled(msg)
            if int(seg["step"][0]) == 1:
                first_step.setdefault(int(seg["episode"][0]), time.monotonic())

        node.create_subscription(Float32MultiArray, "/p/" + ri.PRIVILEGED_STATE, on_priv, 50)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(String, "/p/" + ri.SIM_INFO, lambda m: info.update(json.loads(m.data)), latched)
        reset = node.create_client(Trigger, "/p/" + ri.RESET_SERVICE)
        assert reset.wait_for_service(timeout_sec=30)
        end = time.monotonic() + 30
        while not info and time.monotonic() < end:
            time.sleep(0.05)
        dt = float(info["control_dt"])
        rng = np.random.default_rng(0)
        gaps = []
        for _ in range(6):
            time.sleep(float(rng.uniform(0, dt)))      # resets at random phases of the twin's timer
            t_call = time.monotonic()
            result = call_service(reset, Trigger.Request(), 10.0)
            episode = json.loads(result.message)["episode"]
            end = time.monotonic() + 5
            while episode not in first_step and time.monotonic() < end:
                time.sleep(0.002)
            gaps.append(first_step[episode] - t_call)
    # the service answer travels back after the reset observation went out: measured from the call, the
    # first step can only come early by that round trip (a few ms), never by most of a period
    assert min(gaps) > 0.8 * dt, [round(g, 3) for g in gaps]


def test_twin_episodes_are_the_in_process_ones_by_seed():
    """With a seed, the twin's reset draws the episode the in-process env draws for that seed (the
    deploy eval compares like with like: twin_parity's reference is the same 20 episodes)."""
    from aac_policy.deploy_eval import TwinEvaluator
    from aac_sim.config import SimConfig
    from ros_helpers import SimProcess, Spinning

    spin = Spinning("aac_twin_seed")
    with SimProcess("q", task="reach", mode="realtime", randomize=False), spin as node:
        ev = TwinEvaluator(node, "q")
        end = time.monotonic() + 30
        while ev.info is None and time.monotonic() < end:
            time.sleep(0.05)
        goals = {}
        for seed in (10_000_003, 10_000_007):
            ev.run_episode(2, None, 0.0, np.random.default_rng(0), seed=seed)
            goals[seed] = np.asarray(min(ev.rows, key=lambda r: int(r["step"][0]))["desired_goal"])
        config = SimConfig.from_dict(ev.info["config"])
    env = AacPandaEnv(config=config)
    for seed, goal in goals.items():
        obs, _ = env.reset(seed=seed)
        np.testing.assert_allclose(goal, obs["desired_goal"], atol=1e-6)
    assert not np.allclose(*goals.values())
    env.close()


def test_twin_rows_of_a_grasp_task_give_the_grasp_metrics_of_the_sim_evaluation():
    """Issue 19: the twin eval reports grasp success and drops like the in-process evaluation, from the
    privileged rows the twin publishes (steps 1..T: the reset row arrives before the evaluator listens)."""
    from aac_robot.metrics import grasp_events
    from aac_sim.scripted import ScriptedPolicy
    env = AacPandaEnv(task="pick", render_images=False)
    policy = ScriptedPolicy(env)
    obs, _ = env.reset(seed=7)
    states, goals, rows = [obs["state"]], [obs["desired_goal"]], []
    for t in range(1, env.cfg.max_episode_steps + 1):
        obs, reward, _, _, info = env.step(policy(obs))
        states.append(obs["state"])
        goals.append(obs["desired_goal"])
        rows.append({"step": [t], "is_success": [info["is_success"]], "reward": [reward], "state": obs["state"],
                     "desired_goal": obs["desired_goal"]})
    layout, threshold = env.state_layout, env.cfg.distance_threshold_m
    env.close()
    r = episode_result(rows, len(rows), (layout, threshold))
    assert (r.grasped, r.dropped) == grasp_events(np.array(states), np.array(goals), layout, threshold) == (True, False)
    assert r.success
    rep = report([r], [{}], [False], {"namespace": "s", "episode_steps": len(rows), "perturb_at": None,
                                      "perturb_m": 0.05, "safety_node_seen": True})
    assert rep["overall"]["grasp_success_rate"] == 1.0
    assert "grasp success: 1.00; drops after a lift: 0.00" in markdown(rep)
    assert episode_result(rows, len(rows)).grasped is None   # push / reach: no grasp numbers


def test_twin_eval_of_a_grasp_task_reports_grasp_numbers_over_ros():
    """The plumbing on a live pick twin (no controller: the block stays where it is): the state layout and
    threshold come from the twin's sim_info and the report carries the grasp numbers."""
    from aac_policy.deploy_eval import evaluate_twin
    from ros_helpers import SimProcess, Spinning

    with SimProcess("g", task="pick", mode="realtime", randomize=False, seed=1), Spinning("aac_eval_g") as node:
        with pytest.raises(RuntimeError, match=r"no policy command on /g/aac/policy/twist within 0.5 s"):
            evaluate_twin(node, "g", episodes=1, episode_steps=5, wait_for_policy_s=0.5)
        rep = evaluate_twin(node, "g", episodes=1, episode_steps=5, wait_for_policy_s=None)
    assert rep["task"] == "pick" and rep["overall"]["grasp_success_rate"] == 0.0
    assert rep["episodes"][0]["grasped"] is False and rep["episodes"][0]["dropped"] is False
