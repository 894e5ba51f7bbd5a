"""The staged pipeline (the main job): privileged teacher -> pixel student by DAgger, in one run folder.

    aac_train --set pipeline=staged --run-dir runs/main        # what scripts/run_main.sh runs

Stage 1 (`<run>/teacher/`): TD3 + HER on the simulator's privileged state with no images rendered
(`TrainConfig.teacher`), until `teacher.stop_success` is reached `stop_evals` evals in a row or its
budget is spent. Stage 2 (`<run>/student/`): the deployable pixel actor (same observation spec and
export as every other pixel run) learns by supervised regression on the FROZEN teacher's actions at
the states it visits itself: per env and episode the teacher drives with a probability that falls
from `student.teacher_collect_prob` to `student.teacher_collect_final` (DAgger's beta), and the
teacher labels every frame; all randomization is on, training textures included
(`TrainConfig.student`). Each stage is an ordinary resumable run: re-running the same command
continues where it stopped (a finished stage is skipped, `<stage>/stage.json` marks it).

Stage 3 (`<run>/finetune/`, optional: `finetune.total_env_steps` > 0): the paper's asymmetric
actor-critic continues from the student (pixel actor from stage 2, state critic from stage 1), the
actor's loss adding a pull towards the frozen teacher's action (`TrainConfig.finetune`).

The run folder ends with `actor.pt` and `eval/` (the exported pixel actor and its report with the
held-out sweep: the student's, or stage 3's where its final report scored higher; `stages.json` says
which), `learning_curve.png` (every stage, over env steps and wall time) and `stages.json` (per stage:
env steps, wall time, success, passes per frame).
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

from aac_sim.config import ConfigError

from .checkpoint import load_latest
from .config import TrainConfig
from .plots import plot_staged_seeds, read_metrics
from .finish import ACTOR_FILE, ONNX_ACTOR_FILE, finish_run
from .train import Trainer

STAGE_FILE = "stage.json"


def teacher_config(cfg: TrainConfig) -> TrainConfig:
    t = cfg.teacher
    return cfg.replace(pipeline="single", wiring="state", state_teacher=False, teacher_path=None,
                       total_env_steps=t.total_env_steps, max_wall_minutes=t.max_wall_minutes,
                       stop_success=t.stop_success, updates_per_step=t.updates_per_step, n_step=t.n_step,
                       batch_size=t.batch_size, num_envs=t.num_envs, eval_every_steps=t.eval_every_steps,
                       eval_episodes=t.eval_episodes, checkpoint_every_steps=t.eval_every_steps,
                       start_grasped_prob=t.start_grasped_prob, knock_prob=t.knock_prob, video_episodes=0,
                       keep_best=True, retexture_prob=0.0)   # no images: no image augmentation


def student_config(cfg: TrainConfig, teacher_dir: Path, minutes: float) -> TrainConfig:
    s = cfg.student
    sim = cfg.sim.replace(randomization=dataclasses.replace(cfg.sim.randomization, textures=s.textures,
                                                            texture_prob=s.texture_prob))
    return cfg.replace(pipeline="single", wiring="asymmetric", state_teacher=True, teacher_path=str(teacher_dir),
                       sim=sim, total_env_steps=s.total_env_steps, max_wall_minutes=minutes,
                       stop_success=s.stop_success, num_envs=s.num_envs,
                       distill_updates_per_step=s.passes_per_frame / cfg.batch_size,
                       replay_capacity=s.replay_capacity, her_k=s.her_k, random_steps=0,
                       teacher_collect_prob=s.teacher_collect_prob, teacher_collect_final=s.teacher_collect_final,
                       teacher_collect_decay_steps=s.teacher_collect_decay_steps,
                       exploration_noise=s.exploration_noise, random_action_prob=s.random_action_prob,
                       bf16=s.bf16, distill_lr_final=s.lr_final, eval_every_steps=s.eval_every_steps,
                       eval_episodes=s.eval_episodes, knock_prob=s.knock_prob, retexture_prob=s.retexture_prob,
                       checkpoint_every_steps=s.eval_every_steps)   # save_replay as the run's: a resumed
                                                                    # student keeps its DAgger data


def finetune_config(cfg: TrainConfig, teacher_dir: Path, student_dir: Path, minutes: float) -> TrainConfig:
    """Stage 3: the student's run (same spec, sim and replay layout) turned into an asymmetric actor-critic run
    that starts from it; the pixel actor drives every episode."""
    f = cfg.finetune
    base = student_config(cfg, teacher_dir, minutes)
    return base.replace(finetune_from=str(student_dir), bc_weight=f.bc_weight, total_env_steps=f.total_env_steps,
                        updates_per_step=f.updates_per_step, actor_lr=f.actor_lr, critic_lr=f.critic_lr,
                        distill_lr_final=1.0, teacher_collect_prob=0.0, teacher_collect_final=0.0,
                        teacher_collect_decay_steps=0, exploration_noise=f.exploration_noise,
                        random_action_prob=f.random_action_prob, replay_capacity=f.replay_capacity,
                        eval_every_steps=f.eval_every_steps, eval_episodes=f.eval_episodes,
                        checkpoint_every_steps=f.eval_every_steps, stop_success=0.0, keep_best=False)


def _stage_summary(trainer: Trainer, out: dict, minutes_budget: float) -> dict:
    rows = read_metrics(trainer.metrics_path)
    report = out.get("report") or {}
    final = report.get("conditions", {}).get("train", {}).get("success_rate")
    summary = {"env_steps": trainer.env_steps, "wall_time_s": round(trainer.wall_time, 1),
               "last_eval_success": rows[-1]["success_rate"] if rows else None, "final_report_success": final,
               "reached_stop_success": trainer.reached_target(), "minutes_budget": minutes_budget,
               "episodes": trainer.episodes}
    if trainer.agent.distilling:
        summary["bf16"] = trainer.agent.bf16   # what ran: requested and fast on this machine
        summary["passes_per_frame"] = round(trainer.distill_samples / max(trainer.env_steps, 1), 3)
    return summary


def _run_stage(name: str, cfg: TrainConfig, stage_dir: Path, progress: bool, make_env=None) -> dict:
    marker = stage_dir / STAGE_FILE
    if marker.exists():
        return json.loads(marker.read_text())
    trainer = Trainer(cfg, stage_dir, progress=progress, make_env=make_env and (lambda: make_env(trainer)))
    trainer.run()
    best = trainer.restore_best() if cfg.keep_best else None   # the teacher: export and report its best eval's
    out = finish_run(trainer)                                  # weights, the ones the student will load
    summary = {"stage": name, **_stage_summary(trainer, out, cfg.max_wall_minutes)}
    if best is not None:
        summary["best_eval"] = best
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(marker)
    return summary


def run_teacher(cfg: TrainConfig, run_dir: str | Path, progress: bool = True) -> dict:
    """Stage 1 alone (resumable; skipped once done): `<run>/teacher/`, its summary. A teacher trained
    this way is the one `run_staged` continues from with the same run folder."""
    teacher_dir = Path(run_dir) / "teacher"
    return _run_stage("teacher", teacher_config(cfg), teacher_dir, progress)


def run_staged(cfg: TrainConfig, run_dir: str | Path, progress: bool = True, make_student_env=None) -> dict:
    """Stage 1 then stage 2 (each resumable), then the run folder's top-level results.
    `make_student_env(trainer)` gives stage 2's vector env (the ROS trainer node passes its sims);
    stage 1 always runs in-process: it renders no images, and the sims' cameras would be wasted."""
    if cfg.pipeline != "staged":
        raise ConfigError(f"run_staged needs pipeline=staged, got {cfg.pipeline!r}")
    if cfg.wiring != "asymmetric":
        raise ConfigError(f"the staged pipeline trains the asymmetric pixel actor; wiring={cfg.wiring!r} is for "
                          "pipeline=single")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(__import__("yaml").safe_dump(cfg.to_dict(), sort_keys=False))
    t0 = time.monotonic()
    teacher_dir = run_dir / "teacher"
    teacher = run_teacher(cfg, run_dir, progress)
    minutes = cfg.student.max_wall_minutes
    if minutes == 0 and cfg.max_wall_minutes > 0:   # the rest of the pipeline's budget (less stage 3's)
        reserved = cfg.finetune.max_wall_minutes if cfg.finetune.enabled else 0.0
        minutes = max(cfg.max_wall_minutes - teacher["wall_time_s"] / 60.0 - reserved, 1.0)
    # a student run that already started keeps the budget it started with (resume refuses config changes
    # other than budgets, and the teacher's wall time no longer changes once it is done)
    student_dir = run_dir / "student"
    found = load_latest(student_dir / "checkpoints") if (student_dir / "checkpoints").is_dir() else None
    if found is not None:
        minutes = float(found[0]["config"].get("max_wall_minutes", minutes))
    student = _run_stage("student", student_config(cfg, teacher_dir, minutes), student_dir, progress,
                         make_student_env)
    summary = {"teacher": teacher, "student": student}
    curves = {"teacher": read_metrics(teacher_dir / "metrics.jsonl"), "student": read_metrics(student_dir / "metrics.jsonl")}
    exported = student_dir
    if cfg.finetune.enabled:
        finetune_dir = run_dir / "finetune"
        summary["finetune"] = _run_stage("finetune", finetune_config(cfg, teacher_dir, student_dir,
                                                                     cfg.finetune.max_wall_minutes),
                                         finetune_dir, progress, make_student_env)
        curves["finetune"] = read_metrics(finetune_dir / "metrics.jsonl")
        # kept only where it measured better: the final reports (same episodes) decide, ties stay with stage 2
        if (summary["finetune"]["final_report_success"] or 0) > (student["final_report_success"] or 0):
            exported = finetune_dir
    summary["exported"] = exported.name
    for name in (ACTOR_FILE, ONNX_ACTOR_FILE):
        if (exported / name).exists():
            shutil.copy2(exported / name, run_dir / name)
    if (exported / "eval").is_dir():
        shutil.copytree(exported / "eval", run_dir / "eval", dirs_exist_ok=True)
    plot_staged_seeds({f"seed {cfg.seed}": {"stages": summary, "curves": curves}}, run_dir / "learning_curve.png",
                      title=f"{cfg.sim.task}: staged (seed {cfg.seed})")
    summary["total_wall_time_s"] = round(sum(summary[s]["wall_time_s"] for s in ("teacher", "student", "finetune")
                                             if s in summary), 1)
    summary["this_invocation_s"] = round(time.monotonic() - t0, 1)
    (run_dir / "stages.json").write_text(json.dumps(summary, indent=2))
    report = None
    if (run_dir / "eval" / "report.json").exists():
        report = json.loads((run_dir / "eval" / "report.json").read_text())
    return {"run_dir": str(run_dir), "env_steps": sum(summary[s]["env_steps"] for s in ("teacher", "student", "finetune")
                                                      if s in summary),
            "actor": str(run_dir / ACTOR_FILE), "report": report, "stages": summary}
