"""Grasp metrics of pick / pick_place episodes (issue 19): computed from the privileged state of every step,
checked on scripted episodes (which grasp, lift and, for pick_place, place) and on a scripted grasp that
lets go in the air."""
import numpy as np
import pybullet as p
import pytest

from aac_sim.env import AacPandaEnv
from aac_robot.metrics import grasp_events, summarize
from aac_sim.rollout import run_episodes
from aac_sim.scripted import ScriptedPolicy


def assert_refused_on(task: str, key: str, value: float, match: str) -> None:
    """An option meant for other tasks is refused both as an env reset option and as a TrainConfig key."""
    from aac_policy.config import load_config
    from aac_sim.config import ConfigError
    env = AacPandaEnv(task=task, render_images=False)
    with pytest.raises(ValueError, match=match):
        env.reset(seed=1, options={key: value})
    env.close()
    with pytest.raises(ConfigError, match=match):
        load_config(None, [f"sim.task={task}", f"{key}={value}"])


@pytest.mark.parametrize("task", ["pick", "pick_place"])
def test_scripted_grasps_are_counted_and_never_dropped(task):
    """Every goal in the air needs a grasp (the scripted controller lifts the block to it); a pick_place goal
    on the table may be reached by sliding the block along it, which is no grasp (held = off the table)."""
    env = AacPandaEnv(task=task, render_images=False)
    goals = []
    results, _ = run_episodes(env, lambda obs: goals.append(obs["desired_goal"][2]) or ScriptedPolicy(env)(obs), 10,
                              seed=7)
    env.close()
    s = summarize(results)
    in_air = [r for r, z in zip(results, [g for i, g in enumerate(goals) if i % 50 == 0]) if z > 0.05]
    assert s["success_rate"] >= 0.9 and s["drop_rate_after_grasp"] == 0.0, s
    assert in_air and all(r.grasped for r in in_air)
    if task == "pick":
        assert s["grasp_success_rate"] == 1.0
        assert all(r.goal_in_air is None for r in results) and "success_rate_goal_in_air" not in s
    else:   # the report splits pick_place by where the goal is; the split agrees with the sampled goals
        air = [z > 0.05 for z in goals[::50]]
        assert [r.goal_in_air for r in results] == air and 0 < sum(air) < len(air), air
        assert s["episodes_goal_in_air"] == sum(air) and s["episodes_goal_on_table"] == len(air) - sum(air)
        assert s["success_rate_goal_in_air"] == np.mean([r.success for r in in_air])
        assert s["grasp_success_rate_goal_in_air"] == 1.0


def test_the_goal_split_counts_goals_above_the_resting_block():
    from aac_robot.metrics import EpisodeResult, goal_in_air
    layout = {"object_pos": slice(0, 3)}
    states = np.array([[0.5, 0.0, 0.025]])
    assert goal_in_air(states, np.array([[0.4, 0.1, 0.10]]), layout)
    assert not goal_in_air(states, np.array([[0.4, 0.1, 0.030]]), layout)   # within 1 cm of resting: table
    rs = [EpisodeResult(True, 5, -4.0, 50, True, False, True), EpisodeResult(False, None, -50.0, 50, False, False, True),
          EpisodeResult(True, 9, -8.0, 50, False, False, False)]
    s = summarize(rs)
    assert (s["episodes_goal_in_air"], s["success_rate_goal_in_air"], s["grasp_success_rate_goal_in_air"]) == (2, 0.5, 0.5)
    assert (s["episodes_goal_on_table"], s["success_rate_goal_on_table"]) == (1, 1.0)
    assert summarize(rs[:2])["success_rate_goal_on_table"] is None


def test_letting_go_in_the_air_is_a_drop_and_doing_nothing_is_no_grasp():
    env = AacPandaEnv(task="pick", render_images=False)
    scripted = ScriptedPolicy(env)
    held_steps = []

    def let_go(obs):   # the scripted pick, but open the gripper for good once the block is up
        s = obs["state"]
        contacts = s[env.state_layout["contacts"]]
        lifted = s[env.state_layout["object_pos"]][2] > 0.06
        if held_steps or (contacts[0] > 0.5 and contacts[1] > 0.5 and lifted):
            held_steps.append(1)
            return np.array([0.0, 0.0, 0.0, 1.0], np.float32)
        return scripted(obs)
    results, _ = run_episodes(env, let_go, 1, seed=7)
    assert held_steps and results[0].grasped and results[0].dropped and not results[0].success
    idle, _ = run_episodes(env, lambda obs: np.array([0.0, 0.0, 0.0, 1.0], np.float32), 1, seed=7)
    assert idle[0].grasped is False and idle[0].dropped is False
    s = summarize(results + idle)
    assert s["grasp_success_rate"] == 0.5 and s["drop_rate_after_grasp"] == 1.0
    env.close()
    reach = AacPandaEnv(task="reach", render_images=False)
    r, _ = run_episodes(reach, ScriptedPolicy(reach), 1)
    reach.close()
    assert r[0].grasped is None and "grasp_success_rate" not in summarize(r)


def test_grasp_events_rules():
    layout = {"object_pos": slice(0, 3), "contacts": slice(3, 6)}
    def state(z, l, r, table):
        return [0.5, 0.0, z, l, r, table]
    goal = np.array([[0.5, 0.0, 0.02]] * 4)
    placed = np.array([state(0.02, 0, 0, 1), state(0.10, 1, 1, 0), state(0.02, 1, 1, 1), state(0.02, 0, 0, 1)])
    assert grasp_events(placed, goal, layout, 0.05) == (True, False)          # put down at the goal: a place
    far = goal + np.array([0.3, 0.0, 0.0])
    assert grasp_events(placed, far, layout, 0.05) == (True, True)            # put down away from it: a drop
    touched = np.array([state(0.02, 1, 1, 1)] * 4)
    assert grasp_events(touched, goal, layout, 0.05) == (False, False)        # squeezed on the table: no grasp


def test_the_eval_report_shows_grasp_metrics_for_grasp_tasks():
    from aac_policy.evaluate import markdown_report
    env = AacPandaEnv(task="pick", render_images=False)
    results, _ = run_episodes(env, ScriptedPolicy(env), 2, seed=7)
    env.close()
    report = {"task": "pick", "wiring": "state", "actor": "a.pt", "episodes_per_condition": 2, "seeds": [0, 1],
              "success_criterion": "at the last step", "descriptions": {}, "paths": {},
              "conditions": {"train": summarize(results)}}
    md = markdown_report(report)
    assert "| train | 1.00 | 0.00 |" in md and "grasp success" in md
    assert "goal in the air" not in md
    from aac_robot.metrics import EpisodeResult
    report["task"], report["conditions"]["train"] = "pick_place", summarize(
        [EpisodeResult(True, 5, -4.0, 50, True, False, True), EpisodeResult(False, None, -50.0, 50, False, False, False)])
    assert "| train | 1.00 (1) | 0.00 (1) |" in markdown_report(report)


def _block_at(env, pos):
    """Put the block at `pos` (at rest, nothing holding it) and return (is_success, HER reward) there."""
    p.resetBasePositionAndOrientation(env.block, list(map(float, pos)), (0, 0, 0, 1), physicsClientId=env.client)
    obs = env._observe_privileged()
    return env._success(obs["achieved_goal"]), float(env.compute_reward(obs["achieved_goal"], env.goal))


def test_success_needs_the_block_held_where_the_task_says():
    """pick: the block at the goal height but not in the hand (tossed, or teleported here) is no success, though
    the distance reward HER relabels says 0; the scripted pick (which holds it there) succeeds. pick_place: a
    goal on the table is reached by the block lying at it; one in the air only by holding it there."""
    env = AacPandaEnv(task="pick", render_images=False)
    env.reset(seed=3)
    assert env.goal[2] > 0.08
    assert _block_at(env, env.goal) == (0.0, 0.0)
    env.close()
    env = AacPandaEnv(task="pick_place", render_images=False)
    seen = set()
    for seed in range(12):
        env.reset(seed=seed)
        in_air = env.goal[2] > env.episode.object_size / 2 + 0.01
        success, reward = _block_at(env, env.goal)
        assert reward == 0.0 and success == (0.0 if in_air else 1.0), (seed, env.goal)
        seen.add(in_air)
    env.close()
    assert seen == {True, False}


def test_training_episodes_can_start_with_the_block_in_the_hand_and_evaluation_never_does(tmp_path):
    """The teacher's grasp curriculum (teacher.start_grasped_prob): training episodes start with the block
    closed in the gripper (lifting it then picks it), the evaluation env's episodes as before; refused for
    tasks without a grasp."""
    from aac_policy.config import load_config
    from aac_policy.train import Trainer

    env = AacPandaEnv(task="pick", render_images=False)
    plain, _ = env.reset(seed=5)
    obs, _ = env.reset(seed=5, options={"start_grasped_prob": 1.0})
    np.testing.assert_allclose(obs["desired_goal"], plain["desired_goal"])   # same goal, same block start
    rel = obs["state"][env.state_layout["object_rel_ee"]]
    contacts = obs["state"][env.state_layout["contacts"]]
    assert np.linalg.norm(rel) < 0.01 and contacts[0] > 0.5 and contacts[1] > 0.5
    for _ in range(8):   # straight up, gripper closed: the block comes along
        obs, _, _, _, info = env.step(np.array([0.0, 0.0, 1.0, -1.0], np.float32))
    assert obs["achieved_goal"][2] > plain["achieved_goal"][2] + 0.1 and env._held
    with pytest.raises(ValueError, match=r"start_grasped_prob must be in \[0, 1\]"):
        env.reset(seed=1, options={"start_grasped_prob": 2.0})
    env.close()
    assert_refused_on(task="push", key="start_grasped_prob", value=0.5, match="grasp tasks")

    from aac_policy.staged import student_config, teacher_config
    staged = load_config(None, ["pipeline=staged", "sim.task=pick", "teacher.start_grasped_prob=0.5"])
    assert teacher_config(staged).start_grasped_prob == 0.5          # stage 1 only: the student's episodes
    assert student_config(staged, tmp_path, 1.0).start_grasped_prob == 0.0   # are the deployment's

    cfg = load_config(None, ["sim.task=pick", "wiring=state", "num_envs=1", "start_grasped_prob=1.0",
                             "random_steps=100", "batch_size=32", "hidden_dim=32", "save_replay=false",
                             "video_episodes=0"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    envs = trainer.make_env()
    trainer.collect(envs, 0)
    envs.close()
    rb = trainer.replay
    layout = trainer.eval_env.unwrapped.state_layout
    start = rb.obs["state"][0, 0]   # the first frame of the collected episode
    assert np.linalg.norm(start[layout["object_rel_ee"]]) < 0.01
    eval_obs, _ = trainer.eval_env.reset(seed=0)
    assert np.linalg.norm(eval_obs["state"][layout["object_rel_ee"]]) > 0.05   # evaluation: from above the table


def test_training_episodes_can_have_the_block_knocked_once_and_evaluation_never_does(tmp_path):
    """knock_prob (recovery states for a student to learn from): the block jumps KNOCK_M across the table
    once, at a step in KNOCK_STEPS, the goal and start as without the option; a held block is never knocked;
    refused for reach and outside [0, 1]; the trainer passes it to its training envs only."""
    from aac_policy.config import load_config
    from aac_policy.staged import student_config, teacher_config
    from aac_policy.train import Trainer
    from aac_sim.env import KNOCK_M, KNOCK_STEPS

    env = AacPandaEnv(task="pick", render_images=False)
    plain, _ = env.reset(seed=5)
    obs, _ = env.reset(seed=5, options={"knock_prob": 1.0})
    np.testing.assert_allclose(obs["desired_goal"], plain["desired_goal"])
    np.testing.assert_allclose(obs["achieved_goal"], plain["achieved_goal"])
    still = np.zeros(4, np.float32)
    knocks = []
    for t in range(1, 40):
        before = obs["achieved_goal"].copy()
        obs, _, _, _, info = env.step(still)
        if info.get("knocked"):
            knocks.append((t, float(np.linalg.norm(obs["achieved_goal"][:2] - before[:2]))))
    assert len(knocks) == 1
    step, moved = knocks[0]
    assert KNOCK_STEPS[0] + 1 <= step <= KNOCK_STEPS[1] + 1          # happens at the start of step k (k steps done)
    assert KNOCK_M[0] - 0.005 <= moved <= KNOCK_M[1] + 0.005
    env.reset(seed=5)
    for _ in range(40):   # without the option the block stays where it is
        _, _, _, _, info = env.step(still)
        assert "knocked" not in info

    # a block in the hand is not knocked (it would be pulled out of closed fingers)
    for seed in range(6):
        env.reset(seed=seed, options={"knock_prob": 1.0, "start_grasped_prob": 1.0})
        for _ in range(30):
            _, _, _, _, info = env.step(np.array([0.0, 0.0, 0.5, -1.0], np.float32))
            assert "knocked" not in info
    # a recovery eval fixes the step and the distance (the twin's: 5 cm at step 5)
    obs, _ = env.reset(seed=7, options={"knock_prob": 1.0, "knock_at": 5, "knock_m": 0.05})
    for t in range(1, 8):
        before = obs["achieved_goal"].copy()
        obs, _, _, _, info = env.step(still)
        assert info.get("knocked", False) == (t == 6)
        if t == 6:
            assert abs(np.linalg.norm(obs["achieved_goal"][:2] - before[:2]) - 0.05) < 0.005
    with pytest.raises(ValueError, match=r"knock_prob must be in \[0, 1\]"):
        env.reset(seed=1, options={"knock_prob": -0.1})
    with pytest.raises(ValueError, match="knock_at must be a step"):
        env.reset(seed=1, options={"knock_prob": 1.0, "knock_at": 0})
    env.close()
    assert_refused_on(task="reach", key="knock_prob", value=0.5, match="needs a task with a block")
    staged = load_config(None, ["pipeline=staged", "sim.task=pick", "student.knock_prob=0.3", "teacher.knock_prob=0.2"])
    assert student_config(staged, tmp_path, 1.0).knock_prob == 0.3
    assert teacher_config(staged).knock_prob == 0.2

    cfg = load_config(None, ["sim.task=push", "wiring=state", "num_envs=1", "knock_prob=1.0", "sim.max_episode_steps=30",
                             "random_steps=100", "batch_size=32", "hidden_dim=32", "save_replay=false",
                             "video_episodes=0"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    envs = trainer.make_env()
    trainer.collect(envs, 0)
    envs.close()
    pos = trainer.replay.obs["achieved_goal"][0, :31]   # the block over the collected episode
    jumps = np.linalg.norm(np.diff(pos[:, :2], axis=0), axis=1)
    assert jumps.max() >= KNOCK_M[0] - 0.005        # knocked once in training...
    ev = trainer.eval_env
    ev.reset(seed=0)
    assert ev.unwrapped._knock is None              # ...never in evaluation
