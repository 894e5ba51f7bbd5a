"""Atomic checkpoints, corrupt-file fallback, no pickles, resume after kill -9, refused mismatches."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aac_policy import checkpoint as ck
from aac_policy.checkpoint import CheckpointError, list_checkpoints, load_latest, save_checkpoint
from aac_policy.config import load_config
from aac_policy.finish import finish_run
from aac_policy.train import InterruptGate, Trainer

ROOT = Path(__file__).resolve().parents[1]


def payload(v):
    return {"weights": torch.full((3,), float(v)), "config": {"a": 1}}


def test_save_keeps_newest_and_loads_with_weights_only(tmp_path):
    for step in (10, 20, 30):
        save_checkpoint(tmp_path, step, payload(step), keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint_000000020.pt", "checkpoint_000000030.pt"]
    data, path = load_latest(tmp_path)
    assert data["step"] == 30 and torch.equal(data["weights"], torch.full((3,), 30.0))
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_crash_while_writing_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 10, payload(10))
    real_write = ck.os.fsync

    def crash(fd):   # the process "dies" after writing part of the file, before the rename
        raise KeyboardInterrupt("simulated crash")
    monkeypatch.setattr(ck.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 20, payload(20))
    monkeypatch.setattr(ck.os, "fsync", real_write)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_000000010.pt"]   # no torn file, no temp file
    assert load_latest(tmp_path)[0]["step"] == 10


def test_truncated_newest_checkpoint_falls_back_to_previous(tmp_path):
    save_checkpoint(tmp_path, 10, payload(10))
    newest = save_checkpoint(tmp_path, 20, payload(20))
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])   # torn by a disk-full / power cut
    data, path = load_latest(tmp_path)
    assert data["step"] == 10 and path.name == "checkpoint_000000010.pt"
    list_checkpoints(tmp_path)[0].write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="every checkpoint is unreadable"):
        load_latest(tmp_path)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"format": ck.FORMAT, "step": 1, "x": Evil()}, tmp_path / "checkpoint_000000001.pt")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_latest(tmp_path)


FAST = ["wiring=state", "sim.task=reach", "num_envs=1", "random_steps=200", "eval_episodes=2",
        "eval_every_steps=500", "checkpoint_every_steps=500", "final_eval_episodes=2", "video_episodes=0",
        "batch_size=64", "hidden_dim=64"]


def test_resume_after_kill_9_continues_from_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "aac_policy.train", "--run-dir", str(run), "--no-progress",
           *[a for s in FAST + ["total_env_steps=100000"] for a in ("--set", s)]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / "src" / p) for p in ("aac_robot", "aac_sim", "aac_policy"))}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(list_checkpoints(run / "checkpoints")) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)     # no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    saved, path = load_latest(run / "checkpoints")
    step = saved["step"]
    assert step >= 1000 and saved["episodes"] == step // 50

    cfg = load_config(None, FAST + [f"total_env_steps={step + 500}"])
    trainer = Trainer(cfg, run, progress=False)
    assert trainer.env_steps == step and trainer.episodes == saved["episodes"]
    assert trainer.replay.size == saved["episodes"]           # replay came back from disk
    actor_sd = trainer.agent.actor.state_dict()
    for k, v in saved["agent"]["actor"].items():
        assert torch.equal(actor_sd[k], v)
    out = trainer.run()
    finish_run(trainer)
    assert out["env_steps"] == step + 500
    steps = [json.loads(line)["env_steps"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and len(steps) == len(set(steps))   # no duplicated evals after the resume
    assert (run / "actor.pt").exists()


def test_a_signal_inside_the_writer_or_progress_bar_is_held_until_the_call_ends():
    """The run's SIGTERM/SIGINT handler never throws into TensorBoard's writer or tqdm (an exception
    inside their queue/lock code lost the writer thread's wake-up and close() hung in CI); the
    signal is raised as soon as the shielded call returns, and at once outside one."""
    gate = InterruptGate()
    seen = []

    class Writer:
        def add_scalar(self, tag, value, step):
            gate(signal.SIGTERM, None)     # the signal arrives while the writer runs
            seen.append((tag, value, step))
            return "done"

    writer = gate.wrap(Writer())
    with pytest.raises(KeyboardInterrupt, match=f"signal {int(signal.SIGTERM)}"):
        writer.add_scalar("a", 1.0, 5)
    assert seen == [("a", 1.0, 5)]          # the call finished before the interrupt
    assert gate.pending is None and gate.depth == 0
    with pytest.raises(KeyboardInterrupt):
        with gate.shielded():              # nested shields raise once, when the outermost ends
            with gate.shielded():
                gate(signal.SIGINT, None)
            assert gate.pending == signal.SIGINT
    assert gate.pending is None
    with pytest.raises(KeyboardInterrupt):  # outside a shielded call: at once
        gate(signal.SIGTERM, None)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_kill_saves_a_checkpoint_at_the_last_whole_round(tmp_path, sig):
    """Ctrl-C in a terminal (SIGINT to the whole process group, rollout workers included) or a
    plain `kill` (SIGTERM): the run saves where it is and exits 130; nothing since the last
    periodic checkpoint is lost."""
    run = tmp_path / "run"
    sets = [s for s in FAST if not s.startswith(("num_envs", "checkpoint_every"))]
    sets += ["num_envs=2", "checkpoint_every_steps=100000", "total_env_steps=100000"]
    cmd = [sys.executable, "-m", "aac_policy.train", "--run-dir", str(run), "--no-progress",
           *[a for s in sets for a in ("--set", s)]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / "src" / p) for p in ("aac_robot", "aac_sim", "aac_policy"))}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(list((run / "replay").glob("*.npz"))) < 20:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        assert not list_checkpoints(run / "checkpoints")   # no periodic checkpoint yet
        os.killpg(proc.pid, sig) if sig == signal.SIGINT else os.kill(proc.pid, sig)
        try:
            _, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:   # say where it hangs: aac_train prints its stacks on SIGUSR1
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(2)
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
            pytest.fail("the run did not exit within 90 s of the signal; its stacks:\n" + err.decode()[-6000:])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err.decode()[-2000:]
    saved, _ = load_latest(run / "checkpoints")
    assert saved["step"] >= 1000 and saved["episodes"] == saved["step"] // 50
    trainer = Trainer(load_config(None, sets), run, progress=False)
    assert trainer.env_steps == saved["step"] and trainer.replay.size == saved["episodes"]


def test_resume_with_a_different_config_is_refused_naming_the_field(tmp_path):
    cfg = load_config(None, FAST + ["total_env_steps=100"])
    Trainer(cfg, tmp_path, progress=False).save()
    with pytest.raises(CheckpointError, match=r"sim\.image_size: checkpoint has 84, this run has 64"):
        Trainer(load_config(None, FAST + ["total_env_steps=100", "sim.image_size=64"]), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"algo: checkpoint has 'td3', this run has 'ddpg'"):
        Trainer(load_config(None, FAST + ["total_env_steps=100", "algo=ddpg"]), tmp_path, progress=False)
    # the budget may change on resume
    t = Trainer(load_config(None, FAST + ["total_env_steps=200"]), tmp_path, progress=False)
    assert t.env_steps == 0


def test_a_checkpoint_from_before_the_texture_mix_resumes_but_a_different_mix_is_refused(tmp_path):
    # checkpoints written before sim.randomization.texture_mix_* existed lack them: they drew as prob 0
    cfg = load_config(None, FAST + ["total_env_steps=100"])
    Trainer(cfg, tmp_path, progress=False).save()
    data, path = load_latest(tmp_path / "checkpoints")
    for k in ("texture_mix_bank", "texture_mix_prob"):
        del data["config"]["sim"]["randomization"][k]
    torch.save(data, path)
    Trainer(load_config(None, FAST + ["total_env_steps=200"]), tmp_path, progress=False)   # resumes
    with pytest.raises(CheckpointError, match=r"sim\.randomization\.texture_mix_prob: checkpoint has 0\.0"):
        Trainer(load_config(None, FAST + ["total_env_steps=200", "sim.randomization.texture_mix_bank=train_contrast",
                                          "sim.randomization.texture_mix_prob=0.5"]), tmp_path, progress=False)
