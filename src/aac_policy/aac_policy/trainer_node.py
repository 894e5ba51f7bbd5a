"""ROS 2 trainer node: the same Trainer as `aac_train`, collecting from sim nodes over DDS.

    ros2 run aac_policy aac_trainer_node --ros-args -p sim_namespaces:="['sim0','sim1']" -p run_dir:=runs/ros

Parameters: sim_namespaces (string array), run_dir, config_file (strict aac_train YAML, '' = defaults),
overrides (KEY=VALUE strings, like `aac_train --set`), step_timeout_s, camera_namespace,
step_reliability (best_effort | reliable: QoS of the observation subscriptions). The sims run the
trainer's sim config (task, image size, randomization, the staged student's training textures): the trainer
hands it to each lockstep sim when it connects (ros_env.RosVectorEnv), and refuses, naming the field, a
sim that cannot take it. Evaluation runs an in-process sim of that config inside this process.
With `pipeline=staged` (the main job) stage 1, the privileged teacher, trains in this process without
images and stage 2, the pixel student, collects from the sims.
"""
from __future__ import annotations

from rclpy.node import Node

from aac_robot import ros_interface as ri
from aac_sim.config import ConfigError
from aac_robot.node_main import ExecutorThread, declare_parameters, run_node
from aac_sim.take_loop import step_qos

from .ros_env import RosVectorEnv
from .staged import run_staged
from .config import load_config
from .envs import episode_length
from .finish import finish_run
from .train import Trainer

NODE_NAME = "aac_trainer_node"
PARAMETERS = {"sim_namespaces": ["sim0"], "run_dir": "runs/ros", "config_file": "", "overrides": [""],
              "step_timeout_s": 2.0, "camera_namespace": ri.DEFAULT_CAMERA_NAMESPACE,
              "step_reliability": "best_effort"}   # observation subscriptions: best_effort | reliable


class TrainerNode(Node):
    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        v = declare_parameters(self, PARAMETERS)
        self.namespaces = [n for n in v["sim_namespaces"] if n]
        overrides = [o for o in v["overrides"] if o]
        self.cfg = load_config(v["config_file"] or None, overrides)
        if self.cfg.env_id:
            raise ConfigError("the ROS trainer drives aac_sim nodes; env_id must be empty")
        self.run_dir = v["run_dir"]
        self.step_timeout_s = float(v["step_timeout_s"])
        self.camera_namespace = v["camera_namespace"]
        step_qos(v["step_reliability"])   # an unknown value is refused at start-up, not at the first reset
        self.step_reliability = v["step_reliability"]

    def make_env(self, trainer: Trainer) -> RosVectorEnv:
        sim_cfg = trainer.eval_env.unwrapped.cfg.to_dict()
        return RosVectorEnv(self, self.namespaces, sim_cfg, episode_length(trainer.eval_env),
                            image_keys=self.cfg.pixels, step_timeout_s=self.step_timeout_s,
                            camera_namespace=self.camera_namespace, step_reliability=self.step_reliability)


def run_trainer(node: TrainerNode, progress: bool = True) -> dict:
    """Train with `node` spinning in a background thread (callbacks fill the env's buffers).
    `pipeline: staged` runs the same pipeline as `aac_train`: stage 1 (privileged teacher, no images)
    in this process, stage 2 (the pixel student) on the sims."""
    with ExecutorThread(node):
        if node.cfg.pipeline == "staged":
            return run_staged(node.cfg, node.run_dir, progress=progress, make_student_env=node.make_env)
        # the ROS env needs the trainer's eval env (sim config, episode length); run() makes it
        trainer = Trainer(node.cfg, node.run_dir, progress=progress, make_env=lambda: node.make_env(trainer))
        trainer.run()
        return finish_run(trainer)


def main(args=None) -> int:
    def train(node: TrainerNode) -> None:
        node.get_logger().info(f"training finished: {run_trainer(node)}")
    return run_node(TrainerNode, "aac_trainer_node", (ConfigError,), args, run=train)


if __name__ == "__main__":
    raise SystemExit(main())
