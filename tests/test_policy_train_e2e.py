"""End to end: short training runs leave checkpoint, exported actor, curve and eval report;
the learner also trains on a non-AAC goal-conditioned env (state and pixel wirings)."""
import json

import numpy as np
import torch
import pytest

from aac_policy import evaluate as ev
from aac_policy.config import load_config
from aac_policy.finish import finish_run
from aac_policy.train import Trainer
from aac_sim.config import ConfigError, SimConfig
from policy_helpers import register_point_envs


def test_asymmetric_pixel_training_end_to_end(tmp_path):
    cfg = load_config(None, ["sim.task=push", "total_env_steps=300", "num_envs=2", "random_steps=100",
                             "batch_size=32", "eval_every_steps=200", "eval_episodes=1",
                             "checkpoint_every_steps=200", "final_eval_episodes=1", "video_episodes=1"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert trainer.run()["env_steps"] == 300
    assert not (tmp_path / "actor.pt").exists()   # Trainer.run() trains; finish_run exports and reports
    out = finish_run(trainer)
    assert out["env_steps"] == 300
    for name in ("actor.pt", "learning_curve.png", "config.yaml", "metrics.jsonl",
                 "eval/report.json", "eval/report.md", "eval/episodes.gif"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert list((tmp_path / "checkpoints").glob("checkpoint_*.pt"))
    assert len(list((tmp_path / "tb").iterdir())) >= 1
    report = json.loads((tmp_path / "eval/report.json").read_text())
    assert set(report["conditions"]) == {"train", "lighting_heldout", "textures_heldout", "camera_shift",
                                         "deploy_camera_path"}
    assert report["wiring"] == "asymmetric" and report["task"] == "push"
    for r in report["conditions"].values():
        # one episode per condition: success at its last step, so exactly 0 or 1 (a rate over steps would not be)
        assert r["success_rate"] in (0.0, 1.0) and r["episodes"] == 1
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["env_steps"] for r in rows] == [0, 200, 300]

    # the exported actor refuses an env it was not trained for, naming the field
    with pytest.raises(ConfigError, match="image_size: actor expects 84, env renders 64"):
        ev.evaluate_actor(tmp_path / "actor.pt", tmp_path / "eval2", 1, sim=SimConfig(task="push", image_size=64))
    with pytest.raises(ConfigError, match="task: actor was trained on 'push'"):
        ev.evaluate_actor(tmp_path / "actor.pt", tmp_path / "eval2", 1, sim=SimConfig(task="reach"))

    # the command line: reads the run's config.yaml next to the actor
    assert ev.main(["--actor", str(tmp_path / "actor.pt"), "--episodes", "1", "--no-sweep", "--videos", "0",
                    "--out", str(tmp_path / "eval_cli")]) == 0
    assert json.loads((tmp_path / "eval_cli/report.json").read_text())["conditions"]["train"]["episodes"] == 1
    (tmp_path / "broken.pt").write_bytes((tmp_path / "actor.pt").read_bytes()[:1000])
    assert ev.main(["--actor", str(tmp_path / "broken.pt"), "--episodes", "1"]) == 2


def test_state_wiring_learns_a_generic_gymnasium_goal_env(tmp_path):
    """Not tied to our envs: `observation`/`achieved_goal`/`desired_goal` + compute_reward is enough."""
    register_point_envs()
    cfg = load_config(None, ["env_id=AACTest/PointGoal-v0", "wiring=state", "num_envs=1", "total_env_steps=3000",
                             "random_steps=300", "batch_size=128", "hidden_dim=64", "updates_per_step=0.5",
                             "eval_every_steps=1000", "eval_episodes=30", "final_eval_episodes=0",
                             "checkpoint_every_steps=3000", "save_replay=false"])
    Trainer(cfg, tmp_path, progress=False).run()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["success_rate"] < 0.3
    assert rows[-1]["success_rate"] >= 0.8, rows


def test_pixel_wiring_runs_on_a_generic_env_with_image_keys(tmp_path):
    register_point_envs()
    cfg = load_config(None, ["env_id=AACTest/PointGoalPixels-v0", "wiring=asymmetric", "num_envs=1",
                             "total_env_steps=200", "random_steps=50", "batch_size=16", "eval_episodes=2",
                             "eval_every_steps=100", "final_eval_episodes=2", "video_episodes=0",
                             "checkpoint_every_steps=200"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    # no named state layout: the auxiliary target is the achieved goal
    assert trainer.spec.aux_key == "achieved_goal" and trainer.spec.image_size == 16
    trainer.run()
    out = finish_run(trainer)
    assert out["report"]["conditions"]["train"]["episodes"] == 2
    assert (tmp_path / "actor.pt").exists()


def test_collection_infers_with_one_torch_thread_and_restores_the_learners(tmp_path, monkeypatch):
    """The collector's batch-of-a-few inference runs on 1 thread (a 2nd one busy-waits on the env
    workers' cores: bench/collect_speed.py); the updates keep the config's torch_threads."""
    register_point_envs()
    cfg = load_config(None, ["env_id=AACTest/PointGoalPixels-v0", "wiring=asymmetric", "state_teacher=true",
                             "num_envs=1", "random_steps=0", "torch_threads=2", "save_replay=false"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    envs = trainer.make_env()
    seen = []
    for name in ("act", "act_teacher"):
        original = getattr(trainer.agent, name)
        monkeypatch.setattr(trainer.agent, name,
                            lambda obs, _f=original, _n=name: seen.append((_n, torch.get_num_threads())) or _f(obs))
    out = trainer.collect(envs, 0)
    envs.close()
    assert out["steps"] == trainer.T and seen
    assert {n for n, _ in seen} <= {"act", "act_teacher"} and {t for _, t in seen} == {1}
    assert torch.get_num_threads() == 2   # the learner's count is back


def test_pixel_wiring_without_images_is_a_clear_error(tmp_path):
    register_point_envs()
    cfg = load_config(None, ["env_id=AACTest/PointGoal-v0", "wiring=asymmetric", "num_envs=1"])
    with pytest.raises(ConfigError, match="needs image keys"):
        Trainer(cfg, tmp_path, progress=False)


def test_run_episodes_summary_counts_time_to_success():
    from aac_robot.metrics import EpisodeResult, summarize
    s = summarize([EpisodeResult(True, 4, -3.0, 10), EpisodeResult(False, None, -10.0, 10),
                   EpisodeResult(True, 6, -5.0, 10)])
    assert s["success_rate"] == pytest.approx(2 / 3)
    assert s["mean_time_to_success_steps"] == 5.0
    assert s["mean_return"] == pytest.approx(-6.0)
    assert np.isnan(summarize([])["success_rate"])


def test_state_teacher_trains_a_pixel_student_that_solves_a_generic_env(tmp_path):
    """asymmetric + state_teacher: the teacher learns from state, the pixel actor (the one evaluated
    and exported) learns by imitating it, and a resumed run gets the teacher back."""
    register_point_envs()
    sets = ["env_id=AACTest/PointGoalPixels-v0", "wiring=asymmetric", "state_teacher=true", "num_envs=1",
            "random_steps=300", "batch_size=128", "hidden_dim=64", "updates_per_step=0.5",
            "distill_updates_per_step=0.5", "eval_every_steps=1000", "eval_episodes=30", "final_eval_episodes=0",
            "checkpoint_every_steps=1000", "save_replay=true",
            "augment=false"]   # a 4-px shift would move the 16-px image's one bright pixel by a quarter of the field
    trainer = Trainer(load_config(None, sets + ["total_env_steps=2000"]), tmp_path, progress=False)
    trainer.run()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["success_rate"] < 0.3
    assert rows[-1]["success_rate"] >= 0.8, rows
    resumed = Trainer(load_config(None, sets + ["total_env_steps=2500"]), tmp_path, progress=False)
    assert resumed.env_steps == 2000
    for k, v in trainer.agent.teacher.state_dict().items():
        assert torch.equal(resumed.agent.teacher.state_dict()[k], v)
