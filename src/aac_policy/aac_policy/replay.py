"""Episode replay with hindsight goal relabelling ("future" strategy) by index.

Memory layout: one array per observation key shaped (episodes, T + 1, ...) in the env's own
dtype — RGB uint8, depth uint16 — so every frame is stored exactly once: the next observation
of step t is simply frame t + 1 of the same episode (no float copies, no duplicated next-obs).
Floats appear only in a sampled batch. Relabelled goals are achieved goals read by index from
later frames of the same episode; rewards are recomputed with the env's `compute_reward`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from .spec import ObsSpec

RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class HerReplay:
    def __init__(self, spec: ObsSpec, obs_space, capacity: int, episode_len: int, her_k: int,
                 reward_fn: RewardFn, seed: int | None = None, extra_keys: tuple[str, ...] = ()):
        """`extra_keys`: observation keys stored besides the spec's (e.g. the surface classes a training
        augmentation reads)."""
        if episode_len < 1:
            raise ValueError(f"episode_len must be >= 1, got {episode_len}")
        self.spec, self.T, self.reward_fn = spec, episode_len, reward_fn
        self.max_episodes = max(1, capacity // episode_len)
        self.future_p = 1.0 - 1.0 / (1.0 + her_k)
        self.rng = np.random.default_rng(seed)
        self.extra_keys = tuple(extra_keys)
        self.keys = tuple(spec.image_keys) + spec.stored_vec_keys + ("desired_goal",) + self.extra_keys
        self.keys = tuple(dict.fromkeys(self.keys))
        E, T1 = self.max_episodes, episode_len + 1
        # np.zeros maps untouched pages lazily: memory grows as the buffer fills
        self.obs = {k: np.zeros((E, T1, *obs_space[k].shape), dtype=obs_space[k].dtype) for k in self.keys}
        self.actions = np.zeros((E, episode_len, spec.action_dim), dtype=np.float32)
        self.lengths = np.zeros(E, dtype=np.int64)
        self.size = 0           # episodes held
        self.added = 0          # episodes ever added (the next slot is added % max_episodes)

    # ------------------------------------------------------------------ filling
    def add_episode(self, obs: dict, actions: np.ndarray) -> int:
        """obs: key -> (L + 1, ...) frames 0..L; actions: (L, action_dim). Returns the slot used."""
        actions = np.asarray(actions, dtype=np.float32)
        L = actions.shape[0]
        if not 1 <= L <= self.T or actions.shape[1:] != (self.spec.action_dim,):
            raise ValueError(f"episode actions must be (L, {self.spec.action_dim}) with 1 <= L <= {self.T}, "
                             f"got {actions.shape}")
        slot = self.added % self.max_episodes
        for k in self.keys:
            frames = np.asarray(obs[k])
            if frames.shape[0] != L + 1:
                raise ValueError(f"obs[{k!r}] has {frames.shape[0]} frames for {L} actions (need L + 1)")
            self.obs[k][slot, :L + 1] = frames
        self.actions[slot, :L] = actions
        self.lengths[slot] = L
        self.added += 1
        self.size = min(self.size + 1, self.max_episodes)
        return slot

    @property
    def transitions(self) -> int:
        return int(self.lengths[:self.size].sum())

    def bytes_per_transition(self) -> float:
        """Bytes of storage per transition (frames counted (T + 1) / T times, actions once)."""
        per_frame = sum(a[0, 0].nbytes for a in self.obs.values())
        return per_frame * (self.T + 1) / self.T + self.actions[0, 0].nbytes + self.lengths.itemsize / self.T

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, keys: tuple[str, ...] | None = None,
               keys_next: tuple[str, ...] | None = None, n_step: int = 1, gamma: float | None = None) -> dict:
        """A batch of transitions with HER relabelling.

        Returns {"obs": {k: (B, ...)}, "next_obs": {k: (B, ...)}, "action", "reward", "discount",
        "goal_relabelled"}. `desired_goal` in obs and next_obs is the (possibly relabelled) goal.
        `keys` / `keys_next` limit what is copied out (None = every stored key): an update that reads
        no images should not pay for copying them.
        n-step returns: "reward" is sum_{i<k} gamma^i r_{t+i} for the (relabelled) goal, "next_obs" is
        frame t + k and "discount" gamma^k, with k = min(n_step, L - t) (an episode's end is a time
        limit, so the last frames bootstrap from the episode's final observation). Without `gamma` the
        batch is 1-step and has no "discount" (the learner applies its own gamma).
        """
        if self.size == 0:
            raise RuntimeError("replay is empty")
        if n_step < 1 or (n_step > 1 and gamma is None):
            raise ValueError(f"n_step must be >= 1 and needs gamma when > 1, got n_step={n_step}, gamma={gamma}")
        ep = self.rng.integers(0, self.size, size=batch_size)
        L = self.lengths[ep]
        t = (self.rng.random(batch_size) * L).astype(np.int64)            # 0 .. L-1
        goal = self.obs["desired_goal"][ep, t].copy()
        relabel = self.rng.random(batch_size) < self.future_p
        future_t = t + 1 + (self.rng.random(batch_size) * (L - t)).astype(np.int64)   # t+1 .. L
        goal[relabel] = self.obs["achieved_goal"][ep[relabel], future_t[relabel]]
        k = np.minimum(n_step, L - t)                                     # steps actually taken, >= 1
        reward = np.zeros(batch_size, dtype=np.float32)
        for i in range(n_step):
            live = i < k
            achieved = self.obs["achieved_goal"][ep, np.minimum(t + 1 + i, L)]
            r = np.asarray(self.reward_fn(achieved, goal), dtype=np.float32).reshape(batch_size)
            reward += np.where(live, np.float32((gamma or 1.0) ** i) * r, np.float32(0.0))
        keys = self.keys if keys is None else keys
        keys_next = self.keys if keys_next is None else keys_next
        obs = {k_: self.obs[k_][ep, t] for k_ in keys if k_ != "desired_goal"}
        nxt = {k_: self.obs[k_][ep, t + k] for k_ in keys_next if k_ != "desired_goal"}
        obs["desired_goal"] = goal
        nxt["desired_goal"] = goal
        batch = {"obs": obs, "next_obs": nxt, "action": self.actions[ep, t], "reward": reward,
                 "goal_relabelled": relabel}
        if gamma is not None:
            batch["discount"] = (gamma ** k).astype(np.float32)
        return batch


class EpisodeStore:
    """Episodes on disk, one .npz each, written atomically: a killed run resumes with its data.

    Only the newest `keep` episodes are kept (the ones the replay can still hold).
    """

    def __init__(self, directory: str | Path, keep: int):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep

    def path(self, index: int) -> Path:
        return self.dir / f"episode_{index:08d}.npz"

    def write(self, index: int, obs: dict, actions: np.ndarray) -> None:
        final = self.path(index)
        tmp = final.with_suffix(".tmp.npz")
        with open(tmp, "wb") as f:
            np.savez(f, actions=actions, **{f"obs/{k}": v for k, v in obs.items()})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        old = self.path(index - self.keep)
        if index >= self.keep and old.exists():
            old.unlink()

    def read(self, index: int) -> tuple[dict, np.ndarray]:
        with np.load(self.path(index), allow_pickle=False) as z:
            obs = {k[4:]: z[k] for k in z.files if k.startswith("obs/")}
            return obs, z["actions"]

    def reload(self, replay: HerReplay, count: int) -> int:
        """Refill an empty `replay` with the newest episodes before index `count`; returns how many
        were readable (a missing or torn file is skipped, not fatal)."""
        if replay.added:
            raise RuntimeError("reload() needs an empty replay")
        first = max(0, count - replay.max_episodes)
        # Each episode goes back into the slot it had (episode i in slot i % max_episodes), so sampling
        # after a resume draws the same transitions as the uninterrupted run would have. Only possible
        # when every file is readable; otherwise the readable ones are packed from slot 0.
        def add(i: int) -> bool:
            try:
                replay.add_episode(*self.read(i))
                return True
            except (OSError, ValueError, KeyError):
                return False
        replay.added = first
        if all(add(i) for i in range(first, count)):   # stops at the first unreadable one
            return count - first
        replay.added = replay.size = 0
        replay.lengths[:] = 0
        return sum(add(i) for i in range(first, count))
