"""Resume restores everything: a run stopped and resumed continues exactly as an uninterrupted one.

Compared after the same number of env steps: every tensor of the agent (actor, critic, both targets, both
optimizers' moments and step counts, the normalizers), the replay's contents and slots, every random
stream (torch, exploration, replay sampling, augmentation) and the eval curve. Bit-identical: the CPU
maths is deterministic for a fixed thread count, and the env streams are re-seeded from the episode count
every round, so nothing depends on whether the process was restarted in between. Only wall time differs.
"""
import json

import numpy as np
import pytest
import torch

from aac_policy.config import load_config
from aac_policy.train import Trainer

COMMON = ["sim.task=reach", "num_envs=2", "random_steps=100", "batch_size=32", "eval_every_steps=200",
          "eval_episodes=1", "checkpoint_every_steps=200", "final_eval_episodes=0", "video_episodes=0",
          "hidden_dim=64", "updates_per_step=0.5", "torch_threads=1"]
WIRINGS = {"state": ["wiring=state"],
           "asymmetric": ["wiring=asymmetric", "sim.image_size=32", "feature_dim=16"]}


def run(path, sets, steps):
    trainer = Trainer(load_config(None, sets + [f"total_env_steps={steps}"]), path, progress=False)
    trainer.run()
    return trainer


def flat(sd, prefix=""):
    """Every tensor / number of a nested state dict (optimizer states included), by path."""
    out = {}
    if isinstance(sd, dict):
        for k, v in sd.items():
            out.update(flat(v, f"{prefix}{k}."))
    elif isinstance(sd, (list, tuple)):
        for i, v in enumerate(sd):
            out.update(flat(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = sd
    return out


@pytest.mark.parametrize("wiring", sorted(WIRINGS))
def test_stopped_and_resumed_run_equals_the_uninterrupted_one(tmp_path, wiring):
    sets = COMMON + WIRINGS[wiring]
    straight = run(tmp_path / "straight", sets, 600)
    run(tmp_path / "resumed", sets, 400)                       # stops after its checkpoint at 400
    resumed = run(tmp_path / "resumed", sets, 600)             # a new process would do exactly this
    assert resumed.env_steps == straight.env_steps == 600

    a, b = flat(straight.agent.state_dict()), flat(resumed.agent.state_dict())
    assert a.keys() == b.keys()
    assert any("_opt.state" in k for k in a), "optimizer moments are part of what is compared"
    differing = [k for k in a if not (torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k])]
    assert not differing, f"differs after resume: {differing[:10]}"

    ra, rb = straight.replay, resumed.replay
    assert (ra.added, ra.size) == (rb.added, rb.size)
    for k in ra.keys:
        np.testing.assert_array_equal(ra.obs[k], rb.obs[k], err_msg=k)
    np.testing.assert_array_equal(ra.actions, rb.actions)
    for name, gen in straight._np_rngs().items():
        assert gen.bit_generator.state == resumed._np_rngs()[name].bit_generator.state, name

    def curve(t):
        return [{k: v for k, v in json.loads(line).items() if k != "wall_time_s"}
                for line in (t.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert curve(straight) == curve(resumed)


def test_the_saved_torch_stream_is_the_one_restored(tmp_path):
    sets = COMMON + WIRINGS["state"]
    first = run(tmp_path / "r", sets, 200)
    saved = torch.load(sorted((tmp_path / "r" / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    torch.manual_seed(12345)                                   # anything else in between
    Trainer(load_config(None, sets + ["total_env_steps=400"]), tmp_path / "r", progress=False)
    assert torch.equal(torch.get_rng_state(), saved["torch_rng"])
    assert saved["np_rngs"]["explore"] == first.rng.bit_generator.state
