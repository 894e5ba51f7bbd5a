"""Training: vector envs -> HER replay -> agent updates -> evals, checkpoints -> exported actor + report.

    aac_train --run-dir runs/push                      # default config: push, asymmetric, TD3
    aac_train --set sim.task=reach --set total_env_steps=20000 --run-dir runs/reach
    aac_train --config my.yaml --run-dir runs/x        # strict YAML (unknown keys are errors)

Re-running the same command resumes from the newest readable checkpoint in the run folder.
"""
from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import logging
import math
import signal
import sys
import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import yaml
from tqdm import tqdm

from aac_robot.metrics import summarize
from aac_sim.config import SEG_KEY, ConfigError
from aac_sim.rollout import EVAL_SEED_BASE, run_episodes
from aac_sim.scripted import check_solvable

from .agent import Agent
from .checkpoint import (BEST_FILE, CheckpointError, config_mismatch, load_checkpoint_file, load_latest,
                         load_student_checkpoint, load_teacher_checkpoint, save_checkpoint, write_checkpoint)
from .config import TrainConfig, load_config  # noqa: F401 (load_config: aac_policy.train.load_config, older scripts)
from .envs import episode_length, make_eval_env, make_train_env
from .finish import finish_run
from .perf import keep_freed_memory_for_reuse, torch_threads
from .replay import EpisodeStore, HerReplay
from .spec import build_spec

log = logging.getLogger("aac_train")
# may change between a run and its resume; everything else must match the checkpoint
RESUMABLE_CHANGES = {"total_env_steps", "max_wall_minutes", "eval_every_steps", "eval_episodes", "checkpoint_every_steps",
                     "keep_checkpoints", "final_eval_episodes", "video_episodes", "num_envs", "torch_threads",
                     "stop_success", "stop_evals", "device", "keep_best"}
# config keys added after runs were checkpointed, with the value that reproduces such a run
LEGACY_DEFAULTS = {"state_teacher": False, "distill_updates_per_step": 0.125, "teacher_collect_prob": 0.5,
                   "n_step": 1, "teacher_collect_final": 0.5, "teacher_collect_decay_steps": 0, "teacher_path": None,
                   "bf16": False, "color_jitter": 0.0, "randconv_prob": 0.0, "retexture_prob": 0.0,
                   "retexture_banks": ["train_large", "train_contrast"], "start_grasped_prob": 0.0, "knock_prob": 0.0,
                   "distill_lr_final": 1.0, "keep_best": False, "finetune_from": None, "bc_weight": 0.0}
LEGACY_SIM_DEFAULTS = {"camera_render": "policy", "segmentation": False}
# randomization fields added later, at the values that draw as before they existed (2026-12-07: the texture mix)
LEGACY_RANDOMIZATION_DEFAULTS = {"texture_mix_bank": "", "texture_mix_prob": 0.0}


class InterruptGate:
    """The SIGTERM/SIGINT handler of a training run: raises KeyboardInterrupt in the main loop, except
    inside `shielded()` blocks, where the signal is held and raised when the block ends.

    Why: an exception thrown into TensorBoard's writer (its queue.put) or tqdm's update can lose the
    wake-up of their background thread, and the writer's close() then waits for its next flush
    (up to 2 min): seen in CI, a run that did not exit within 90 s of `kill`."""

    def __init__(self):
        self.depth = 0
        self.pending: int | None = None

    def __call__(self, signum, frame):
        if self.depth:
            self.pending = signum
            return
        raise KeyboardInterrupt(f"signal {signum}")

    @contextlib.contextmanager
    def shielded(self):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending is not None:
            signum, self.pending = self.pending, None
            raise KeyboardInterrupt(f"signal {signum}")

    def wrap(self, obj):
        """`obj` whose method calls all run shielded (the TensorBoard writer, the progress bar)."""
        gate = self

        class Shielded:
            def __getattr__(self, name):
                attr = getattr(obj, name)
                if not callable(attr):
                    return attr

                def call(*args, **kwargs):
                    with gate.shielded():
                        return attr(*args, **kwargs)
                return call
        return Shielded()


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else CPU. The replay stays in host memory either way; batches are
    moved to the device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA device (torch "
                          f"{torch.__version__}, built with CUDA {torch.version.cuda}); use device=cpu or auto")
    return torch.device(name)


def _terminate_workers(envs: gym.vector.AsyncVectorEnv) -> None:
    """After Ctrl-C: the signal reached the rollout workers too (one process group), so some may be
    gone and the "close" handshake would hit a broken pipe (that error then replaced the
    KeyboardInterrupt: exit 1 instead of 130, seen when the signal came during an update), or gymnasium
    re-raises a worker's own KeyboardInterrupt from it. Whatever close does, every worker is then
    terminated and joined: a worker left alive would keep the interpreter from exiting (it joins
    non-daemon children at exit; a test saw a Ctrl-C'd run not exit within 60 s once)."""
    try:
        envs.close(terminate=True)
    except BaseException:   # noqa: B036 (cleanup while a KeyboardInterrupt propagates: it must not be replaced)
        pass
    for proc in envs.processes:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: str | Path, resume: bool = True, progress: bool = True,
                 make_env=None):
        """`make_env()` gives the training vector env (default: in-process sims; the ROS trainer node
        passes one over DDS). Evaluation always runs an in-process sim with the same config."""
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress
        self.make_env = make_env or (lambda: make_train_env(cfg))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(cfg.torch_threads)
        keep_freed_memory_for_reuse()
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)

        if not cfg.env_id:   # motion limits or an episode length the task cannot be done in: refused here
            check_solvable(cfg.sim)
        self.eval_env = make_eval_env(cfg)
        base = self.eval_env.unwrapped
        self.T = episode_length(self.eval_env)
        self.spec = build_spec(self.eval_env.observation_space, self.eval_env.action_space, cfg.wiring,
                               cfg.aux_loss, getattr(base, "state_layout", None))
        self.agent = Agent(self.spec, cfg, device=resolve_device(cfg.device))
        self.teacher_from = self.finetune_start = None
        if cfg.teacher_path:   # DAgger: a frozen privileged teacher labels every frame
            ckpt, self.teacher_from = load_teacher_checkpoint(
                cfg.teacher_path, cfg.to_dict(), json.loads(json.dumps(self.spec.to_dict())))
            self.agent.load_teacher(ckpt["agent"])
            if cfg.finetune_from:   # stage 3 starts from the student (a resume below replaces it with its own)
                student, self.finetune_start = load_student_checkpoint(
                    cfg.finetune_from, json.loads(json.dumps(self.spec.to_dict())))
                self.agent.load_finetune_start(student["agent"], ckpt["agent"])
        # the surface classes retexture_prob reads are stored with the frames (sim_config_for turns them on; training
        # envs that lack them are refused in run())
        extra = (SEG_KEY,) if cfg.retexture_prob > 0 else ()
        self.replay = HerReplay(self.spec, self.eval_env.observation_space, cfg.replay_capacity, self.T,
                                cfg.her_k, lambda ag, g: base.compute_reward(ag, g, None), seed=cfg.seed,
                                extra_keys=extra)
        self.store = EpisodeStore(self.run_dir / "replay", self.replay.max_episodes) if cfg.save_replay else None
        self.env_steps = self.episodes = 0
        self.eval_history: list[float] = []   # eval success rates, oldest first (the stop_success rule)
        self.best_success = -1.0              # eval success of checkpoints/best.pt (keep_best)
        self.wall_time = 0.0
        self.update_credit = self.distill_credit = 0.0
        self.distill_samples = 0   # frames the pixel student was trained on (with repeats): passes per frame
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.jsonl"
        if resume:
            self._resume()
        elif any(self.ckpt_dir.glob("checkpoint_*.pt")):
            raise ConfigError(f"{self.run_dir} already holds a run; resume it or pick another --run-dir")
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    # ------------------------------------------------------------------ resume
    def _resume(self) -> None:
        found = load_latest(self.ckpt_dir)
        if found is None:
            return
        ckpt, path = found
        saved = {**LEGACY_DEFAULTS, **ckpt["config"]}
        if isinstance(saved.get("sim"), dict):
            saved["sim"] = {**LEGACY_SIM_DEFAULTS, **saved["sim"]}
            if isinstance(saved["sim"].get("randomization"), dict):
                saved["sim"]["randomization"] = {**LEGACY_RANDOMIZATION_DEFAULTS, **saved["sim"]["randomization"]}
        # a run uses only the top-level fields: the staged pipeline's `teacher` / `student` / `finetune` sections
        # are copied into them for each stage (staged.py), so they are compared there, not here (a checkpoint
        # written before a section existed lacks it)
        diffs = [d for d in config_mismatch(saved, self.cfg.to_dict())
                 if d.split(":")[0] not in RESUMABLE_CHANGES
                 and d.split(":")[0].split(".")[0] not in ("teacher", "student", "finetune")]
        if diffs:
            raise CheckpointError(f"{path} was trained with a different config; refusing to resume:\n  "
                                  + "\n  ".join(diffs) + "\n(use another --run-dir for a new run)")
        if ckpt["obs_spec"] != json.loads(json.dumps(self.spec.to_dict())):
            raise CheckpointError(f"{path}: observation spec differs from this env's: "
                                  f"{ckpt['obs_spec']} vs {self.spec.to_dict()}")
        self.agent.load_state_dict(ckpt["agent"])
        self.env_steps, self.episodes = int(ckpt["env_steps"]), int(ckpt["episodes"])
        self.wall_time, self.update_credit = float(ckpt["wall_time"]), float(ckpt["update_credit"])
        self.distill_credit = float(ckpt.get("distill_credit", 0.0))
        self.distill_samples = int(ckpt.get("distill_samples", 0))
        torch.set_rng_state(ckpt["torch_rng"])
        for name, gen in self._np_rngs().items():   # absent in checkpoints written before 2026-12-01
            if name in ckpt.get("np_rngs", {}):
                gen.bit_generator.state = ckpt["np_rngs"][name]
        reloaded = self.store.reload(self.replay, self.episodes) if self.store else 0
        if self.metrics_path.exists():   # drop evals logged after the checkpoint
            rows = [r for r in self.metrics_path.read_text().splitlines() if r.strip()]
            kept = [r for r in rows if json.loads(r)["env_steps"] <= self.env_steps]
            self.metrics_path.write_text("".join(r + "\n" for r in kept))
            self.eval_history = [json.loads(r)["success_rate"] for r in kept]
        best = self.ckpt_dir / BEST_FILE
        if best.exists():   # a best from after the checkpoint resumed from is not this run's: drop it
            try:
                data = load_checkpoint_file(best)
                keep = int(data["env_steps"]) <= self.env_steps
            except CheckpointError:
                keep = False
            if keep:
                self.best_success = float(data["eval_success"])
            else:
                best.unlink()
        log.info("resumed from %s at %d env steps (%d episodes reloaded into replay)", path.name,
                 self.env_steps, reloaded)
        print(f"resumed from {path} at {self.env_steps} env steps; replay reloaded {reloaded} episodes",
              file=sys.stderr)

    def save(self) -> Path:
        return save_checkpoint(self.ckpt_dir, self.env_steps, self._payload(), keep=self.cfg.keep_checkpoints)

    def _keep_if_best(self, success: float) -> None:
        if success >= self.best_success:
            self.best_success = success
            write_checkpoint(self.ckpt_dir / BEST_FILE, self.env_steps, {"eval_success": success, **self._payload()})

    def restore_best(self) -> dict | None:
        """Load the agent of checkpoints/best.pt (keep_best) into this trainer: its export and report then
        describe the best eval's weights. Returns {env_steps, eval_success} of it, or None without one."""
        best = self.ckpt_dir / BEST_FILE
        if not best.exists():
            return None
        data = load_checkpoint_file(best)
        self.agent.load_state_dict(data["agent"])
        return {"env_steps": int(data["env_steps"]), "eval_success": float(data["eval_success"])}

    def _payload(self) -> dict:
        return {"config": self.cfg.to_dict(), "obs_spec": json.loads(json.dumps(self.spec.to_dict())),
                "agent": self.agent.state_dict(), "env_steps": self.env_steps, "episodes": self.episodes,
                "wall_time": self.wall_time, "update_credit": self.update_credit,
                "distill_credit": self.distill_credit, "distill_samples": self.distill_samples,
                "torch_rng": torch.get_rng_state(),
                "np_rngs": {name: gen.bit_generator.state for name, gen in self._np_rngs().items()}}

    def _np_rngs(self) -> dict[str, np.random.Generator]:
        """Every numpy stream training draws from (exploration, replay sampling, augmentation shifts):
        saved and restored, so a resumed run continues exactly as an uninterrupted one."""
        return {"explore": self.rng, "replay": self.replay.rng, "augment": self.agent.np_rng}

    # ------------------------------------------------------------------ data collection
    def _explore(self, obs: dict, n: int, teacher_acts: np.ndarray) -> np.ndarray:
        """Behaviour actions: the pixel actor's (or, where `teacher_acts`, the teacher's) plus noise."""
        cfg, A = self.cfg, self.spec.action_dim
        if self.env_steps < cfg.random_steps:
            return self.rng.uniform(-1, 1, (n, A)).astype(np.float32)
        a = np.empty((n, A), dtype=np.float32)
        for rows, act, keys in ((~teacher_acts, self.agent.act, self.spec.actor_keys),
                                (teacher_acts, self.agent.act_teacher, tuple(obs))):
            if rows.any():   # each net only for the envs it drives; no copy when it drives all
                a[rows] = act({k: obs[k] if rows.all() else obs[k][rows] for k in keys})
        a = np.clip(a + cfg.exploration_noise * self.rng.standard_normal(a.shape), -1, 1)
        random = self.rng.random(n) < cfg.random_action_prob   # HER's epsilon-random actions
        a[random] = self.rng.uniform(-1, 1, (int(random.sum()), A))
        return a.astype(np.float32)

    def collect(self, envs, seed: int | None) -> dict:
        """At least one episode in every env; stores the finished ones in replay. Episodes may end at
        different steps (an env that terminates early, e.g. on success): an env that is done is reset
        on its own (gymnasium's `reset_mask`) and keeps collecting until every env has finished an
        episode; an episode still running then is dropped (with fixed-length episodes, the AAC tasks,
        every env finishes exactly one episode and nothing is dropped). An env that reports
        `info["dropped"]` (a ROS sim that died) has its episode discarded."""
        with torch_threads(1):   # batch-n inference; a 2nd thread would spin on the workers' core
            return self._collect(envs, seed)

    def teacher_drive_prob(self) -> float:
        """Per env and episode, the probability that the teacher acts (DAgger's beta): from
        `teacher_collect_prob` down to `teacher_collect_final` linearly over `teacher_collect_decay_steps`."""
        cfg = self.cfg
        if cfg.teacher_collect_decay_steps <= 0:
            return cfg.teacher_collect_prob
        frac = min(1.0, self.env_steps / cfg.teacher_collect_decay_steps)
        return cfg.teacher_collect_prob + frac * (cfg.teacher_collect_final - cfg.teacher_collect_prob)

    def _collect(self, envs, seed: int | None) -> dict:
        n, keys = envs.num_envs, self.replay.keys
        # training-only reset options of the env (grasp tasks: some episodes start with the block in the hand;
        # some episodes have the block knocked)
        start = {k: v for k, v in (("start_grasped_prob", self.cfg.start_grasped_prob),
                                   ("knock_prob", self.cfg.knock_prob)) if v > 0}
        obs, info = envs.reset(seed=seed, options=start or None)
        dropped = np.array(info.get("dropped", np.zeros(n, dtype=bool)))
        frames = [{k: [obs[k][i]] for k in keys} for i in range(n)]   # the running episode of each env
        actions: list[list[np.ndarray]] = [[] for _ in range(n)]
        returns = np.zeros(n)
        teacher_acts = self._drivers(n)
        finished = np.zeros(n, dtype=bool)            # has finished an episode in this round
        done_eps: list[tuple[float, float, int, bool]] = []   # (success, return, length, teacher drove)
        steps = vector_steps = 0
        while not finished.all():
            vector_steps += 1
            if vector_steps > 100 * self.T:
                raise RuntimeError(f"no episode ended within {100 * self.T} steps in env(s) "
                                   f"{np.flatnonzero(~finished).tolist()}: the env never reports done")
            a = self._explore(obs, n, teacher_acts)
            obs, reward, terminated, truncated, info = envs.step(a)
            dropped |= np.asarray(info.get("dropped", False))
            returns += reward
            done = np.logical_or(terminated, truncated)
            for i in range(n):
                actions[i].append(a[i])
                for k in keys:
                    frames[i][k].append(obs[k][i])
            for i in np.flatnonzero(done):
                L = len(actions[i])
                if L > self.T:
                    raise RuntimeError(f"an episode of {L} steps is longer than the replay's {self.T}")
                if not dropped[i]:
                    ep_obs = {k: np.stack(v) for k, v in frames[i].items()}
                    self.replay.add_episode(ep_obs, np.stack(actions[i]))
                    if self.store:
                        self.store.write(self.episodes, ep_obs, np.stack(actions[i]))
                    self.agent.update_norms(ep_obs)
                    self.episodes += 1
                    steps += L
                    done_eps.append((float(np.asarray(info["is_success"])[i]), float(returns[i]), L,
                                     bool(teacher_acts[i])))
            finished |= done
            if done.any() and not finished.all():   # the early ones start their next episode
                obs, info = envs.reset(options={"reset_mask": done, **start})
                dropped[done] = np.asarray(info.get("dropped", np.zeros(n, dtype=bool)))[done]
                teacher_acts[done] = self._drivers(n)[done]
                for i in np.flatnonzero(done):
                    frames[i] = {k: [obs[k][i]] for k in keys}
                    actions[i], returns[i] = [], 0.0
        self.env_steps += steps
        succ, rets, lens, by_teacher = (np.array(x) for x in zip(*done_eps)) if done_eps else [np.zeros(0)] * 4
        out = {"steps": steps, "success": float(succ.mean()) if done_eps else 0.0,
               "return": float(rets.mean()) if done_eps else 0.0, "dropped": int(dropped.sum()),
               "episode_length": float(lens.mean()) if done_eps else 0.0}
        if self.agent.distilling:   # does the pixel actor lag its teacher?
            for who, mask in (("teacher", by_teacher.astype(bool)), ("student", ~by_teacher.astype(bool))):
                if mask.any():
                    out[f"success_{who}"] = float(succ[mask].mean())
        return out

    def _drivers(self, n: int) -> np.ndarray:
        """Per env: does the teacher drive its next episode? (DAgger mix; no teacher or stage 3: never.)"""
        if not self.agent.distilling:
            return np.zeros(n, dtype=bool)
        return self.rng.random(n) < self.teacher_drive_prob()

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int) -> dict:
        def policy(o):
            return self.agent.act({k: o[k][None] for k in self.spec.actor_keys})[0]
        results, _ = run_episodes(self.eval_env, policy, episodes, seed=EVAL_SEED_BASE)
        return summarize(results)

    # ------------------------------------------------------------------ main loop
    def run(self) -> dict:
        from torch.utils.tensorboard import SummaryWriter
        cfg = self.cfg
        envs = self.make_env()
        try:   # a refusal here (or a space the envs cannot build) closes them: sims over ROS hold nodes
            missing = [k for k in self.replay.keys if k not in envs.single_observation_space.spaces]
            if missing:   # e.g. retexture_prob's surface classes from a make_env whose envs do not segment
                raise ConfigError(f"the training envs do not observe {missing}, which this run stores and trains on")
        except BaseException:
            envs.close()
            raise
        # opened once the envs are accepted: a refused run leaves no TensorBoard file behind
        writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=self.env_steps or None)
        next_eval = (self.env_steps // cfg.eval_every_steps + 1) * cfg.eval_every_steps
        next_ckpt = (self.env_steps // cfg.checkpoint_every_steps + 1) * cfg.checkpoint_every_steps
        bar = tqdm(total=cfg.total_env_steps, initial=self.env_steps, unit="step", disable=not self.progress,
                   dynamic_ncols=True, desc=f"{cfg.sim.task if not cfg.env_id else cfg.env_id} {cfg.wiring}")
        t_env = t_learn = 0.0
        updates = 0
        last = {}
        previous_handlers, finished = {}, False
        gate = InterruptGate()
        writer, bar = gate.wrap(writer), gate.wrap(bar)
        if threading.current_thread() is threading.main_thread():
            # `kill` saves like Ctrl-C does. SIGINT is set too: a run started in the background by a
            # non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and Python then installs no
            # KeyboardInterrupt handler, so Ctrl-C to its process group would stop only the workers
            previous_handlers = {s: signal.signal(s, gate) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            if self.env_steps == 0:
                self._log_eval(writer, 0, self.evaluate(cfg.eval_episodes))
            while self.env_steps < cfg.total_env_steps and not self._out_of_time() and not self.reached_target():
                t0 = time.perf_counter()
                # every round re-seeds the envs from the episode count (env i gets seed + i): never the same
                # episodes twice, and a resumed run collects exactly what the uninterrupted one would have
                roll = self.collect(envs, cfg.seed * 1_000_003 + self.episodes)
                t1 = time.perf_counter()
                if self.env_steps >= cfg.random_steps and self.replay.transitions >= cfg.batch_size:
                    # a loaded teacher is frozen: no critic (or teacher) updates, except in stage 3, whose critic
                    # and pixel actor learn by the actor-critic update
                    if not cfg.teacher_path or self.agent.finetune:
                        self.update_credit += cfg.updates_per_step * roll["steps"]
                        n_up = int(self.update_credit)
                        self.update_credit -= n_up
                        keys, keys_next = self.agent.update_sample_keys()
                        for _ in range(n_up):
                            last = self.agent.update(self.replay.sample(cfg.batch_size, keys, keys_next,
                                                                        n_step=cfg.n_step, gamma=cfg.gamma))
                        updates += n_up
                    if self.agent.distilling:
                        self.distill_credit += cfg.distill_updates_per_step * roll["steps"]
                        n_distill = int(self.distill_credit)
                        self.distill_credit -= n_distill
                        keys, keys_next = self.agent.distill_sample_keys()
                        if n_distill:
                            last["lr/distill"] = self.distill_lr()
                            self.agent.set_distill_lr(last["lr/distill"])
                        for _ in range(n_distill):
                            last.update(self.agent.distill(self.replay.sample(cfg.batch_size, keys, keys_next)))
                        self.distill_samples += n_distill * cfg.batch_size
                t2 = time.perf_counter()
                t_env += t1 - t0
                t_learn += t2 - t1
                self.wall_time += t2 - t0
                bar.update(roll["steps"])
                step = self.env_steps
                writer.add_scalar("train/success_rate", roll["success"], step)
                writer.add_scalar("train/return", roll["return"], step)
                for who in ("teacher", "student"):
                    if f"success_{who}" in roll:
                        writer.add_scalar(f"train/success_rate_{who}", roll[f"success_{who}"], step)
                for k, v in last.items():
                    writer.add_scalar(k, v, step)
                last_round = step >= cfg.total_env_steps or self._out_of_time()
                if step >= next_eval or last_round:
                    next_eval += cfg.eval_every_steps
                    speed = {"env_steps_per_s": step / max(self.wall_time, 1e-9),
                             "collect_steps_per_s": roll["steps"] / max(t1 - t0, 1e-9),
                             "updates_per_s": updates / max(t_learn, 1e-9) if updates else None,
                             "time_collect_fraction": t_env / max(t_env + t_learn, 1e-9)}
                    for k, v in speed.items():
                        if v is not None:
                            writer.add_scalar(f"speed/{k}", v, step)
                    t3 = time.perf_counter()
                    result = self.evaluate(cfg.eval_episodes)
                    self.wall_time += time.perf_counter() - t3   # wall time includes evaluation
                    self._log_eval(writer, step, result)
                    bar.set_postfix(success=f"{result['success_rate']:.2f}", refresh=False)
                    last_round = last_round or self.reached_target()
                if step >= next_ckpt or last_round:
                    next_ckpt += cfg.checkpoint_every_steps
                    self.save()
            finished = True
        except KeyboardInterrupt:
            # Ctrl-C / SIGTERM: keep everything up to the last whole round (an interrupted round
            # added nothing to replay or the step count), so re-running resumes without a loss
            path = self.save()
            log.warning("interrupted at %d env steps; saved %s (re-run the same command to resume)",
                        self.env_steps, path)
            raise
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            bar.close()
            writer.close()
            # interrupted, or any error (a worker the signal reached can turn Ctrl-C into another
            # exception): the workers are terminated, never asked to close over pipes that may be dead
            if not finished and isinstance(envs, gym.vector.AsyncVectorEnv):
                _terminate_workers(envs)
            else:
                envs.close()
        return {"run_dir": str(self.run_dir), "env_steps": self.env_steps, "wall_time_s": round(self.wall_time, 1)}

    def reached_target(self) -> bool:
        """`stop_evals` evals in a row at or above `stop_success` (0 = train the whole budget)."""
        n, goal = self.cfg.stop_evals, self.cfg.stop_success
        return goal > 0 and len(self.eval_history) >= n and min(self.eval_history[-n:]) >= goal

    def budget_fraction(self) -> float:
        """How much of the run's budget is spent: the larger of its env-step and wall-time fractions."""
        cfg = self.cfg
        frac = self.env_steps / cfg.total_env_steps
        if cfg.max_wall_minutes > 0:
            frac = max(frac, self.wall_time / (60 * cfg.max_wall_minutes))
        return min(frac, 1.0)

    def distill_lr(self) -> float:
        """The pixel student's learning rate now: actor_lr falling along a cosine to actor_lr x distill_lr_final
        at the end of the budget. A function of progress only, so a resumed run continues the same schedule."""
        cfg = self.cfg
        final = cfg.distill_lr_final
        return cfg.actor_lr * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * self.budget_fraction())))

    def _out_of_time(self) -> bool:
        return self.cfg.max_wall_minutes > 0 and self.wall_time >= 60 * self.cfg.max_wall_minutes

    def _log_eval(self, writer, step: int, result: dict) -> None:
        row = {"env_steps": step, "wall_time_s": round(self.wall_time, 2), **result}
        if self.agent.distilling:   # how often the student saw each frame, on average
            row["passes_per_frame"] = round(self.distill_samples / max(self.env_steps, 1), 3)
            row["teacher_drive_prob"] = round(self.teacher_drive_prob(), 3)
        self.eval_history.append(result["success_rate"])
        if self.cfg.keep_best:
            self._keep_if_best(result["success_rate"])
        for k in ("success_rate", "mean_return", "mean_time_to_success_steps"):
            if result.get(k) is not None:
                writer.add_scalar(f"eval/{k}", result[k], step)
        writer.flush()
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="training config: a named one (`main`: the main job) or a YAML path "
                                     "(strict: unknown keys are errors)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set sim.task=reach --set wiring=state")
    ap.add_argument("--run-dir", default="runs/train", help="run folder (resumed if it holds checkpoints)")
    ap.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if hasattr(signal, "SIGUSR1"):   # a run that seems stuck: `kill -USR1 <pid>` prints every thread's stack
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        cfg = load_config(args.config, args.set)
        if cfg.pipeline == "staged":
            from .staged import run_staged
            if args.no_resume and Path(args.run_dir).exists() and any(Path(args.run_dir).iterdir()):
                raise ConfigError(f"{args.run_dir} already holds a run; resume it or pick another --run-dir")
            out = run_staged(cfg, args.run_dir, progress=not args.no_progress)
        else:
            trainer = Trainer(cfg, args.run_dir, resume=not args.no_resume, progress=not args.no_progress)
            trainer.run()
            out = finish_run(trainer)
    except (ConfigError, CheckpointError) as exc:
        print(f"aac_train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"aac_train: interrupted; checkpoint saved in {args.run_dir}, re-run to resume", file=sys.stderr)
        return 130
    rep = out["report"]
    print(f"run folder: {out['run_dir']}  ({out['env_steps']} env steps)")
    print(f"exported actor: {out['actor']}")
    if rep:
        print(f"eval report: {rep['paths']['markdown']}  success {rep['conditions']['train']['success_rate']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
