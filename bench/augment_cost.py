"""What the student's training-image augmentations cost: one distillation update (batch 256, 84x84 RGB-D,
pick_place, bf16 where this CPU has a fast path) with DrQ's shift alone and with each colour / texture
augmentation on top, all timed in this one run, as ratios to the shift-only update.

    .venv/bin/python bench/augment_cost.py          # writes bench/results/augment_cost.json

Run it on an otherwise idle machine (check `ps`): the ratios are what to compare across machines.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aac_policy.agent import Agent
from aac_policy.config import TrainConfig
from aac_policy.perf import bf16_is_fast, keep_freed_memory_for_reuse
from aac_policy.spec import build_spec
from aac_sim.config import SEG_KEY, SimConfig
from aac_sim.env import AacPandaEnv
from learner_speed import filled_replay   # bench/: random-action episodes into a replay

OUT = Path(__file__).parent / "results" / "augment_cost.json"
BATCH, EPISODES, REPEATS = 256, 6, 20
VARIANTS = {"shift only": {}, "color_jitter 0.1": {"color_jitter": 0.1}, "randconv_prob 0.5": {"randconv_prob": 0.5},
            "retexture_prob 0.5": {"retexture_prob": 0.5}, "retexture_prob 1.0": {"retexture_prob": 1.0}}


def main() -> int:
    torch.set_num_threads(2)
    keep_freed_memory_for_reuse()
    env = AacPandaEnv(config=SimConfig(task="pick_place", segmentation=True))
    base = TrainConfig(wiring="asymmetric", state_teacher=True, batch_size=BATCH, bf16=True, sim=env.cfg)
    spec = build_spec(env.observation_space, env.action_space, "asymmetric", base.aux_loss, env.state_layout)
    rb = filled_replay(env, spec, np.random.default_rng(0), EPISODES, extra_keys=(SEG_KEY,))
    env.close()
    agents = {name: Agent(spec, base.replace(**kw)) for name, kw in VARIANTS.items()}
    for a in agents.values():
        a.update_norms(rb.sample(1000)["obs"])
        if a.cfg.retexture_prob > 0:
            a.retexture_bank()   # loaded once, outside the timing
    batches = [rb.sample(BATCH, *agents["retexture_prob 0.5"].distill_sample_keys()) for _ in range(REPEATS)]
    times = {name: [] for name in agents}
    for _ in range(2):   # interleaved rounds: drift on a busy machine hits every variant alike
        for name, agent in agents.items():
            agent.distill(batches[0])
            t = time.perf_counter()
            for b in batches:
                agent.distill(b)
            times[name].append((time.perf_counter() - t) / REPEATS)
    ms = {name: 1000 * min(v) for name, v in times.items()}
    ref = ms["shift only"]
    result = {"machine": platform.processor() or platform.machine(), "torch_threads": 2, "batch": BATCH,
              "bf16": bool(agents["shift only"].bf16), "bf16_fast_here": bf16_is_fast(torch.device("cpu")),
              "ms_per_distill_update": {k: round(v, 1) for k, v in ms.items()},
              "ratio_to_shift_only": {k: round(v / ref, 3) for k, v in ms.items()},
              "command": "python bench/augment_cost.py"}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
