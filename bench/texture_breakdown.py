"""Where a pixel actor fails on textures: success per texture of the table and of the block.

The eval report's `textures_heldout` condition gives one number over all episodes. This runs the same kind
of episodes (the run's training distribution with textures from `--bank` on table, floor and block) and
keeps, per episode, which texture each body showed, then reports success per table texture, per block
texture, and for episodes where table and block show the same texture. With the held-out bank (8 textures)
it tells whether the gap is a few textures (a kind or scale training lacks) or all of them.

    .venv/bin/python bench/texture_breakdown.py --run bench/runs/staged-pick_place-n1_seed0 --episodes 100

Writes bench/results/texture_breakdown-<label>.json (label: the run folder's name and the bank).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from repo_paths import rel   # a path as committed results record it

HERE = Path(__file__).parent


def rates(episodes: list[dict], key) -> dict:
    """Success per group of episodes, `key(episode)` naming each one's group."""
    groups = defaultdict(list)
    for e in episodes:
        groups[key(e)].append(e["success"])
    return {str(k): {"episodes": len(v), "success_rate": round(sum(v) / len(v), 3)}
            for k, v in sorted(groups.items())}


def contrast(bank: str, index: int) -> float:
    """Brightness contrast of texture `index` of `bank` (aac_sim.scene.texture_contrast), as reported."""
    from aac_sim.scene import make_texture, texture_contrast
    return round(texture_contrast(make_texture(index, bank)), 3)


def bank_contrast(bank: str) -> dict:
    import numpy as np
    from aac_sim.scene import TEXTURE_BANKS
    c = [contrast(bank, i) for i in range(TEXTURE_BANKS[bank])]
    q = lambda x: round(float(np.quantile(c, x, method="lower")), 3)  # noqa: E731
    return {"textures": len(c), "p10": q(0.1), "p50": q(0.5), "p90": q(0.9), "max": max(c)}


def main() -> int:
    from aac_policy.evaluate import actor_policy, check_actor_matches
    from aac_policy.export import load_actor
    from aac_policy.envs import sim_config_for
    from aac_policy.train import load_config
    from aac_sim.env import AacPandaEnv
    from aac_sim.rollout import EVAL_SEED_BASE, run_episodes
    from aac_sim.scene import TEXTURE_BANKS, TEXTURE_KINDS, TRAIN_TEXTURE_KINDS

    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True, help="a staged run folder (its config.yaml and actor.pt)")
    ap.add_argument("--actor", type=Path, default=None, help="default: <run>/actor.pt")
    ap.add_argument("--bank", default="heldout", choices=tuple(TEXTURE_BANKS))
    ap.add_argument("--episodes", type=int, default=100)
    args = ap.parse_args()
    actor = args.actor or args.run / "actor.pt"
    # the student stage's own config where there is one (what the pixel actor trained with)
    cfg_file = next(f for f in (args.run / "student" / "config.yaml", args.run / "config.yaml") if f.is_file())
    cfg = load_config(cfg_file, [])
    sim = sim_config_for(cfg)
    trained_bank = sim.randomization.texture_bank
    sim = sim.replace(randomization=dataclasses.replace(sim.randomization, textures=True, texture_bank=args.bank,
                                                        texture_prob=1.0, texture_mix_prob=0.0))
    module, spec = load_actor(actor)
    check_actor_matches(spec, sim)
    policy = actor_policy(module, spec)
    kinds = TEXTURE_KINDS if args.bank == "heldout" else TRAIN_TEXTURE_KINDS
    kind = lambda i: kinds[i % len(kinds)]  # noqa: E731
    episodes = []
    env = AacPandaEnv(config=sim)
    t0 = time.time()
    try:
        for ep in range(args.episodes):
            # one episode per call, same seeds as the eval report's conditions (EVAL_SEED_BASE + ep)
            (result,), _ = run_episodes(env, policy, 1, seed=EVAL_SEED_BASE + ep)
            tex = env.episode.textures
            episodes.append({"seed": EVAL_SEED_BASE + ep, "table": tex["table"], "floor": tex["floor"],
                             "block": tex["object"], "success": bool(result.success)})
    finally:
        env.close()
    same = [e["success"] for e in episodes if e["table"] == e["block"]]
    n_ok = sum(e["success"] for e in episodes)
    out = {"command": "python bench/texture_breakdown.py " + " ".join(sys.argv[1:]),
           "actor": rel(actor), "task": spec.get("task"), "bank": args.bank, "episodes": len(episodes),
           "success_rate": round(n_ok / len(episodes), 3), "wall_s": round(time.time() - t0, 1),
           "by_table_texture": rates(episodes, lambda e: f"{e['table']}:{kind(e['table'])}"),
           "by_block_texture": rates(episodes, lambda e: f"{e['block']}:{kind(e['block'])}"),
           "by_table_kind": rates(episodes, lambda e: kind(e["table"])),
           "table_and_block_same_texture": {"episodes": len(same),
                                            "success_rate": round(sum(same) / len(same), 3) if same else None},
           # is the failing texture one whose brightness contrast training rarely showed?
           "contrast": {"luminance_std_per_texture": {f"{i}:{kind(i)}": contrast(args.bank, i)
                                                      for i in range(TEXTURE_BANKS[args.bank])},
                        "trained_bank": trained_bank, "trained_bank_luminance_std": bank_contrast(trained_bank)},
           "per_episode": episodes}
    path = HERE / "results" / f"texture_breakdown-{args.run.name}-{args.bank}.json"
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("success_rate", "by_table_texture", "by_block_texture",
                                          "table_and_block_same_texture", "contrast")}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
