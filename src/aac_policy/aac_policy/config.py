"""The one config object for training, loaded strictly (unknown keys and wrong types are errors).

Reuses the simulator's strict dataclass loader so a typo anywhere (`sim.randomizaton`,
`batch_sise`) stops the run with a message instead of silently training something else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aac_robot.config_base import apply_overrides, set_by_path  # noqa: F401 (set_by_path: aac_train --set)
from aac_robot.metrics import GRASP_TASKS
from aac_sim.config import TEXTURE_BANK_NAMES, ConfigError, SimConfig, StrictConfig

WIRINGS = ("asymmetric", "symmetric", "state")
ALGOS = ("ddpg", "td3")
DEVICES = ("auto", "cpu", "cuda")
PIPELINES = ("single", "staged")


@dataclass(frozen=True)
class TeacherStage(StrictConfig):
    """Stage 1 of the staged pipeline: TD3 + HER on the privileged state, no images rendered
    (bench/README.md, "Teacher stage", says what each value bought)."""
    total_env_steps: int = 300_000
    max_wall_minutes: float = 45.0
    stop_success: float = 0.95       # stop once `stop_evals` evals in a row reach it
    updates_per_step: float = 0.25   # UTD 1 learned no faster per env step up to 80k and cost 1.6x the wall time
    n_step: int = 3                  # 87 % eval at 140k env steps vs 67 % with 1-step targets (bench/README.md)
    batch_size: int = 256
    num_envs: int = 1                # in-process: with no rendering an env step costs less than the IPC
    eval_every_steps: int = 10_000
    eval_episodes: int = 50
    # grasp tasks: this share of the teacher's training episodes starts with the block in the hand (a
    # curriculum only the simulator can give; evaluation never does): TrainConfig.start_grasped_prob
    start_grasped_prob: float = 0.0
    knock_prob: float = 0.0          # share of the training episodes whose block is knocked once: TrainConfig.knock_prob

    def __post_init__(self):
        _check_stage(self, ("total_env_steps", "n_step", "batch_size", "num_envs", "eval_every_steps", "eval_episodes"),
                     ("max_wall_minutes", "updates_per_step"), ("stop_success", "start_grasped_prob", "knock_prob"))


def _check_stage(stage, positive_ints, non_negative, unit) -> None:
    where = type(stage).__name__
    for name in positive_ints:
        if getattr(stage, name) < 1:
            raise ConfigError(f"{where}.{name} must be >= 1, got {getattr(stage, name)}")
    for name in non_negative:
        if getattr(stage, name) < 0:
            raise ConfigError(f"{where}.{name} must be >= 0, got {getattr(stage, name)}")
    for name in unit:
        if not 0 <= getattr(stage, name) <= 1:
            raise ConfigError(f"{where}.{name} must be in [0, 1], got {getattr(stage, name)}")


@dataclass(frozen=True)
class StudentStage(StrictConfig):
    """Stage 2: the pixel actor learns by DAgger from the frozen stage-1 teacher, all randomization on."""
    total_env_steps: int = 3_000_000
    max_wall_minutes: float = 0.0    # 0 = what is left of the pipeline's max_wall_minutes after stage 1
    stop_success: float = 0.0
    num_envs: int = 2
    passes_per_frame: float = 16.0   # student samples per collected frame (distill updates x batch / env steps);
                                     # 4 underfit (MSE 0.05 vs 0.03, 7 % vs 30 % eval at 60k: bench/README.md)
    replay_capacity: int = 200_000   # frames (a FIFO: each frame is sampled ~passes_per_frame times, then dropped)
    her_k: int = 4                   # relabelled goals: the teacher labels what it would do for them
    teacher_collect_prob: float = 1.0     # DAgger's beta: the teacher drives whole episodes with this probability,
    teacher_collect_final: float = 0.0    # falling to this
    teacher_collect_decay_steps: int = 100_000
    exploration_noise: float = 0.1
    random_action_prob: float = 0.0
    textures: bool = True            # training texture bank on table, floor and block...
    texture_prob: float = 1.0        # ...in this share of the episodes, flat colours in the rest. 0.5 was tried
                                     # (an all-textured student scored 20 % on the flat-coloured twin): with it the
                                     # student learned far slower (bench/README.md); the twin runs textured instead
    # segmentation-guided re-texturing of this share of the student's training samples (TrainConfig.retexture_prob):
    # on pick_place seed 0 held-out textures 84 % vs 66 % without it, training distribution 94 % either way
    # (bench/README.md, 2026-12-07 d)
    retexture_prob: float = 0.5
    bf16: bool = True
    lr_final: float = 1.0            # learning rate at the end of the budget, as a fraction of actor_lr (cosine)
    knock_prob: float = 0.0          # share of the training episodes whose block is knocked once (recovery states
                                     # the teacher labels): TrainConfig.knock_prob
    eval_every_steps: int = 20_000
    eval_episodes: int = 30

    def __post_init__(self):
        _check_stage(self, ("total_env_steps", "num_envs", "replay_capacity", "eval_every_steps", "eval_episodes"),
                     ("max_wall_minutes", "passes_per_frame", "her_k", "teacher_collect_decay_steps",
                      "exploration_noise"),
                     ("stop_success", "teacher_collect_prob", "teacher_collect_final", "random_action_prob",
                      "texture_prob", "lr_final", "knock_prob", "retexture_prob"))
        if not self.passes_per_frame > 0:
            raise ConfigError(f"StudentStage.passes_per_frame must be > 0, got {self.passes_per_frame}")


@dataclass(frozen=True)
class FinetuneStage(StrictConfig):
    """Stage 3 (optional, off by default): the paper's asymmetric actor-critic continues from the stage-2
    student: the pixel actor starts as the student, the state critic as the teacher's critic, and the actor
    follows the critic's gradient (the pixel actor drives every episode) with a pull towards the frozen
    teacher's action on the same sample (`bc_weight`, as TD3+BC), so the critic's early errors cannot undo
    what distillation taught. Meant to go past the teacher where what the camera shows differs from the
    state; kept only where it measures better (the pipeline exports whichever of stages 2 and 3 scored
    higher in its final report)."""
    total_env_steps: int = 0         # 0 = off
    max_wall_minutes: float = 0.0    # taken from the pipeline's budget before the student's share
    updates_per_step: float = 0.25
    actor_lr: float = 1e-4           # the student's weights are a good start: small steps
    critic_lr: float = 1e-4
    bc_weight: float = 1.0
    exploration_noise: float = 0.1
    random_action_prob: float = 0.0
    replay_capacity: int = 100_000
    eval_every_steps: int = 10_000
    eval_episodes: int = 30

    def __post_init__(self):
        _check_stage(self, ("replay_capacity", "eval_every_steps", "eval_episodes"),
                     ("total_env_steps", "max_wall_minutes", "bc_weight", "exploration_noise"), ("random_action_prob",))
        for name in ("updates_per_step", "actor_lr", "critic_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"FinetuneStage.{name} must be > 0, got {getattr(self, name)}")

    @property
    def enabled(self) -> bool:
        return self.total_env_steps > 0


@dataclass(frozen=True)
class TrainConfig(StrictConfig):
    # --- what is learned
    sim: SimConfig = field(default_factory=SimConfig)
    env_id: str | None = None        # any gymnasium goal-conditioned env id instead of our sim (then `sim` is unused)
    # single: one run of `wiring` (the paper's methods); staged: teacher (stage 1) -> DAgger student (stage 2)
    pipeline: str = "single"
    teacher: TeacherStage = field(default_factory=TeacherStage)
    student: StudentStage = field(default_factory=StudentStage)
    finetune: FinetuneStage = field(default_factory=FinetuneStage)
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
    # pick / pick_place: this share of the training episodes starts with the block closed in the gripper
    # (aac_sim env reset option; evaluation episodes never do). For privileged teachers: a curriculum
    start_grasped_prob: float = 0.0
    # tasks with a block: this share of the training episodes has the block knocked once, 2-6 cm at a random
    # step (aac_sim env reset option; never in evaluation): the states a deployed policy must recover from
    knock_prob: float = 0.0

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
    teacher_collect_final: float = 0.5        # ... falling linearly to this (DAgger's beta schedule)
    teacher_collect_decay_steps: int = 0      # ... over this many env steps; 0 = constant
    # a trained privileged teacher (a `wiring: state` run folder): loaded and FROZEN; no critic or teacher
    # updates, the pixel actor only learns by regressing its actions (DAgger, the staged pipeline's stage 2)
    teacher_path: str | None = None
    # stage 3: a trained pixel student (a run folder of the distillation above, same spec): its actor and
    # normalizers start this run, the teacher's critic starts its critic, and both learn by the asymmetric
    # actor-critic update, the actor's loss adding bc_weight x its squared distance to the frozen teacher's action
    finetune_from: str | None = None
    bc_weight: float = 0.0
    bf16: bool = False                        # bfloat16 autocast for the pixel actor's updates where the device has a
                                              # fast bf16 path (perf.bf16_is_fast: AVX512/AMX CPUs, bf16 GPUs), else fp32
    # the distilled pixel actor's learning rate falls from actor_lr to actor_lr x this along a cosine over
    # the run's budget (the larger of its env-step and wall-time fractions); 1 = constant. A constant 1e-3
    # left the 2 h student swinging 10-20 points between evals at its end (bench/README.md, 2026-12-02)
    distill_lr_final: float = 1.0
    augment: bool = True             # DrQ random shift on the actor's (and pixel critic's) images
    augment_pad: int = 4
    # with augment: RGB jitter of the training images, per sample and channel a gain in [1-x, 1+x] and an
    # offset in [-x/2, x/2] (of the 0..1 range); 0 = off. A candidate for held-out textures and lighting
    # (bench/README.md, 2026-12-01); evaluation and deployment never see it.
    color_jitter: float = 0.0
    # with augment: the share of training samples whose RGB goes through a random 3x3 convolution (3 -> 3
    # channels, Xavier-normal weights drawn per sample; clipped to 0..1): Lee et al. 2020 "Network
    # Randomization" (RAD's random_conv), a remedy for unseen textures; 0 = off. Depth is left alone.
    randconv_prob: float = 0.0
    # with augment, pixel wirings: the share of training samples whose table, floor and block pixels (the
    # simulator's privileged surface classes, SimConfig.segmentation, turned on for it) each get a random view
    # of a random texture from `retexture_banks`, shaded by the original's smoothed brightness; 0 = off. Where
    # texture randomization in the sim gives one texture per episode, this gives a new one per sample
    # ("green-screen" augmentation, Teoh et al. 2024). Never the held-out bank; never at acting or evaluation.
    retexture_prob: float = 0.0
    retexture_banks: tuple[str, ...] = ("train_large", "train_contrast")
    torch_threads: int = 2
    device: str = "auto"             # auto (CUDA when available) | cpu | cuda; the replay stays in host memory

    # --- evaluation, logging, checkpoints
    eval_every_steps: int = 10_000
    eval_episodes: int = 20
    checkpoint_every_steps: int = 10_000
    keep_checkpoints: int = 2
    # also keep the checkpoint of the best eval so far (`checkpoints/best.pt`; ties go to the later one). The
    # staged pipeline's teacher stage sets it: the pick teacher's evals swung 44-98 % late in its run, and the
    # frozen teacher a student learns from should be its best, not its last (bench/README.md, 2026-12-02)
    keep_best: bool = False
    final_eval_episodes: int = 50    # eval report at the end of training (incl. robustness sweep)
    video_episodes: int = 3

    def __post_init__(self):
        if self.wiring not in WIRINGS:
            raise ConfigError(f"unknown wiring {self.wiring!r}; choose one of {list(WIRINGS)}")
        if self.pipeline not in PIPELINES:
            raise ConfigError(f"unknown pipeline {self.pipeline!r}; choose one of {list(PIPELINES)}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}; choose one of {list(DEVICES)}")
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown algo {self.algo!r}; choose one of {list(ALGOS)}")
        positive_ints = ("total_env_steps", "num_envs", "replay_capacity", "batch_size", "actor_update_every",
                         "hidden_dim", "feature_dim", "torch_threads", "eval_every_steps", "eval_episodes",
                         "checkpoint_every_steps", "keep_checkpoints", "n_step", "stop_evals")
        for name in positive_ints:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("random_steps", "her_k", "augment_pad", "final_eval_episodes", "video_episodes",
                     "teacher_collect_decay_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.gamma < 1:
            raise ConfigError(f"gamma must be in (0, 1), got {self.gamma}")
        if not 0 <= self.color_jitter < 1:
            raise ConfigError(f"color_jitter must be in [0, 1), got {self.color_jitter}")
        if not 0 <= self.randconv_prob <= 1:
            raise ConfigError(f"randconv_prob must be in [0, 1], got {self.randconv_prob}")
        if not 0 <= self.retexture_prob <= 1:
            raise ConfigError(f"retexture_prob must be in [0, 1], got {self.retexture_prob}")
        if self.pipeline == "staged" and self.retexture_prob > 0:
            raise ConfigError("in the staged pipeline the student's re-texturing is student.retexture_prob "
                              f"(default {StudentStage.retexture_prob}); the teacher renders no images")
        if self.pipeline == "staged" and self.env_id and self.student.retexture_prob > 0:
            # refused here, not after the teacher stage has trained
            raise ConfigError(f"student.retexture_prob needs the built-in sims' surface classes; env {self.env_id!r} "
                              "has none: set student.retexture_prob=0")
        if self.retexture_prob > 0:
            banks = tuple(self.retexture_banks)
            if not banks or any(b not in TEXTURE_BANK_NAMES for b in banks):
                raise ConfigError(f"retexture_banks must name texture banks of {list(TEXTURE_BANK_NAMES)}, got {banks}")
            if "heldout" in banks:
                raise ConfigError("retexture_banks must not include 'heldout': the held-out textures are the "
                                  "evaluation's, never trained on")
            if self.env_id or not self.pixels:
                raise ConfigError("retexture_prob needs a pixel wiring on the built-in sims (it reads their surface "
                                  "classes)")
        if not 0 < self.tau <= 1:
            raise ConfigError(f"tau must be in (0, 1], got {self.tau}")
        if not 0 <= self.stop_success <= 1:
            raise ConfigError(f"stop_success must be in [0, 1], got {self.stop_success}")
        if not 0 <= self.random_action_prob <= 1:
            raise ConfigError(f"random_action_prob must be in [0, 1], got {self.random_action_prob}")
        if not 0 <= self.start_grasped_prob <= 1:
            raise ConfigError(f"start_grasped_prob must be in [0, 1], got {self.start_grasped_prob}")
        if self.start_grasped_prob > 0 and (self.env_id or self.sim.task not in GRASP_TASKS):
            raise ConfigError(f"start_grasped_prob is for the grasp tasks {GRASP_TASKS}, not "
                              f"{self.env_id or self.sim.task!r}")
        if not 0 <= self.knock_prob <= 1:
            raise ConfigError(f"knock_prob must be in [0, 1], got {self.knock_prob}")
        if self.knock_prob > 0 and (self.env_id or self.sim.task == "reach"):
            raise ConfigError(f"knock_prob needs a task with a block, not {self.env_id or self.sim.task!r}")
        if self.state_teacher and self.wiring != "asymmetric":
            raise ConfigError(f"state_teacher needs wiring 'asymmetric' (the pixel actor is its student), "
                              f"got wiring {self.wiring!r}")
        for name in ("teacher_collect_prob", "teacher_collect_final", "distill_lr_final"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.teacher_path and not self.state_teacher:
            raise ConfigError("teacher_path needs state_teacher=true (the pixel actor is the loaded teacher's student)")
        if self.finetune_from and not self.teacher_path:
            raise ConfigError("finetune_from needs teacher_path (the frozen teacher whose critic starts the fine-tune "
                              "and whose actions the bc_weight term pulls towards)")
        if self.bc_weight < 0:
            raise ConfigError(f"bc_weight must be >= 0, got {self.bc_weight}")
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


CONFIG_DIR = Path(__file__).resolve().parent / "configs"   # named configs: `main` = the main job


def config_path(name_or_path: str | Path) -> Path:
    """A named config (`main` -> aac_policy/configs/main.yaml) or a YAML path (a `Path` is always a path)."""
    if isinstance(name_or_path, Path):
        return name_or_path
    named = CONFIG_DIR / f"{name_or_path}.yaml"
    if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")):
        if not named.is_file():
            names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
            raise ConfigError(f"no named config {name_or_path!r} (named configs: {names}; or give a YAML path)")
        return named
    return Path(name_or_path)


def load_config(path: str | Path | None, overrides: list[str]) -> TrainConfig:
    """`path`: a named config (`main`), a YAML path, or None for the defaults; then `overrides` (KEY=VALUE)."""
    data = TrainConfig.from_yaml(config_path(path)).to_dict() if path else TrainConfig().to_dict()
    return TrainConfig.from_dict(apply_overrides(data, overrides))
