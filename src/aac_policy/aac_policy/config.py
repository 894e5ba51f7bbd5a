"""The one config object for training, loaded strictly (unknown keys and wrong types are errors).

Reuses the simulator's strict dataclass loader so a typo anywhere (`sim.randomizaton`,
`batch_sise`) stops the run with a message instead of silently training something else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from aac_sim.config import ConfigError, SimConfig, StrictConfig

WIRINGS = ("asymmetric", "symmetric", "state")
ALGOS = ("ddpg", "td3")


@dataclass(frozen=True)
class TrainConfig(StrictConfig):
    # --- what is learned
    sim: SimConfig = field(default_factory=SimConfig)
    env_id: str | None = None        # any gymnasium goal-conditioned env id instead of our sim (then `sim` is unused)
    wiring: str = "asymmetric"       # asymmetric (paper) | symmetric (critic sees pixels) | state (oracle)
    algo: str = "td3"                # ddpg (paper) | td3 (twin critics, target smoothing, delayed actor)
    seed: int = 0

    # --- budget and data collection
    total_env_steps: int = 300_000
    max_wall_minutes: float = 0.0    # stop (and finish: export, report) after this much training time; 0 = no limit
    stop_success: float = 0.0        # stop once `stop_evals` evals in a row reach this eval success; 0 = never
    stop_evals: int = 2
    num_envs: int = 2                # rollout worker processes (1 = in-process)
    random_steps: int = 2_000        # uniform random actions first (fills replay with varied data)
    exploration_noise: float = 0.2   # Gaussian action noise std
    random_action_prob: float = 0.3  # HER's epsilon: a uniformly random action with this probability

    # --- replay and HER
    replay_capacity: int = 100_000   # transitions (pixel frames are stored once as uint8/uint16)
    her_k: int = 4                   # relabelled : original goals = k : 1 ("future" strategy)
    save_replay: bool = True         # episodes also go to disk so a killed run resumes with its data

    # --- learner
    batch_size: int = 256
    gamma: float = 0.98
    n_step: int = 1                  # n-step TD targets over the (relabelled) goal's rewards
    tau: float = 0.05                # target networks: target += tau * (online - target)
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    updates_per_step: float = 0.25   # critic updates per env step (update-to-data ratio)
    actor_update_every: int = 2      # TD3's delayed actor; for ddpg the paper uses 1
    target_noise: float = 0.2        # TD3 target policy smoothing
    target_noise_clip: float = 0.5
    action_l2: float = 1.0           # HER's penalty on pre-tanh-scale actions (keeps them off the bounds)
    hidden_dim: int = 256
    feature_dim: int = 50            # image encoder output
    aux_loss: bool = True            # encoder also regresses object + gripper position (paper's bottleneck)
    aux_weight: float = 1.0
    # privileged teacher (asymmetric only): a StateActor learns with the state critic and the pixel
    # actor regresses its actions (+ aux); see agent.py. Off = the paper's actor-gradient training.
    state_teacher: bool = False
    distill_updates_per_step: float = 0.125   # pixel-actor (student) updates per env step
    teacher_collect_prob: float = 0.5         # per env and episode: the teacher acts instead of the pixel actor
    augment: bool = True             # DrQ random shift on the actor's (and pixel critic's) images
    augment_pad: int = 4
    torch_threads: int = 2

    # --- evaluation, logging, checkpoints
    eval_every_steps: int = 10_000
    eval_episodes: int = 20
    checkpoint_every_steps: int = 10_000
    keep_checkpoints: int = 2
    final_eval_episodes: int = 50    # eval report at the end of training (incl. robustness sweep)
    video_episodes: int = 3

    def __post_init__(self):
        if self.wiring not in WIRINGS:
            raise ConfigError(f"unknown wiring {self.wiring!r}; choose one of {list(WIRINGS)}")
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}; choose one of {list(ALGOS)}")
        positive_ints = ("total_env_steps", "num_envs", "replay_capacity", "batch_size", "actor_update_every",
                         "hidden_dim", "feature_dim", "torch_threads", "eval_every_steps", "eval_episodes",
                         "checkpoint_every_steps", "keep_checkpoints", "n_step", "stop_evals")
        for name in positive_ints:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("random_steps", "her_k", "augment_pad", "final_eval_episodes", "video_episodes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.gamma < 1:
            raise ConfigError(f"gamma must be in (0, 1), got {self.gamma}")
        if not 0 < self.tau <= 1:
            raise ConfigError(f"tau must be in (0, 1], got {self.tau}")
        if not 0 <= self.stop_success <= 1:
            raise ConfigError(f"stop_success must be in [0, 1], got {self.stop_success}")
        if not 0 <= self.random_action_prob <= 1:
            raise ConfigError(f"random_action_prob must be in [0, 1], got {self.random_action_prob}")
        if self.state_teacher and self.wiring != "asymmetric":
            raise ConfigError(f"state_teacher needs wiring 'asymmetric' (the pixel actor is its student), "
                              f"got wiring {self.wiring!r}")
        if not 0 <= self.teacher_collect_prob <= 1:
            raise ConfigError(f"teacher_collect_prob must be in [0, 1], got {self.teacher_collect_prob}")
        for name in ("actor_lr", "critic_lr", "updates_per_step", "distill_updates_per_step"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("max_wall_minutes", "exploration_noise", "target_noise", "target_noise_clip", "action_l2", "aux_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def pixels(self) -> bool:
        """Does the actor look at images?"""
        return self.wiring != "state"


def set_by_path(data: dict, dotted: str, value) -> None:
    """`set_by_path(d, "sim.task", "reach")` for command-line overrides (`--set sim.task=reach`)."""
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            raise ConfigError(f"--set {dotted}: {k!r} is not a config section")
        node = node[k]
    if keys[-1] not in node:
        raise ConfigError(f"--set {dotted}: unknown key {keys[-1]!r}; valid keys: {sorted(node)}")
    node[keys[-1]] = value
