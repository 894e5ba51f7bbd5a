"""What a finished training run leaves in its folder: the exported actor (torch.export + ONNX), the
learning curve and the evaluation report. Runs after `Trainer.run()` returns (aac_train, the staged
pipeline and the ROS trainer node all call it)."""
from __future__ import annotations

from .evaluate import evaluate_actor
from .export import build_obs_spec, export_actor, export_onnx
from .plots import plot_learning_curve

ACTOR_FILE = "actor.pt"
ONNX_ACTOR_FILE = "actor.onnx"


def finish_run(trainer) -> dict:
    """Exported actor, learning curve and the evaluation report in the run folder of `trainer`."""
    cfg = trainer.cfg
    obs_spec = build_obs_spec(trainer.agent, trainer.eval_env)
    actor_path = export_actor(trainer.agent, trainer.run_dir / ACTOR_FILE, obs_spec)
    export_onnx(trainer.agent, trainer.run_dir / ONNX_ACTOR_FILE, obs_spec)   # the robot PC's runtime (no torch)
    plot_learning_curve(trainer.metrics_path, trainer.run_dir / "learning_curve.png",
                        title=f"{cfg.sim.task if not cfg.env_id else cfg.env_id} "
                              f"({cfg.wiring}, {cfg.algo}, seed {cfg.seed})")
    report = None
    if cfg.final_eval_episodes > 0:
        report = evaluate_actor(actor_path, trainer.run_dir / "eval", episodes=cfg.final_eval_episodes,
                                train_config=cfg, video_episodes=cfg.video_episodes, eval_env=trainer.eval_env)
    trainer.eval_env.close()
    return {"run_dir": str(trainer.run_dir), "env_steps": trainer.env_steps, "actor": str(actor_path),
            "report": report}
