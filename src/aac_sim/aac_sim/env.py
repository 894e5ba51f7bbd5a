"""Goal-conditioned PyBullet Panda environment with an asymmetric observation split.

Actor keys (what the real robot has): `rgb` HxWx3 uint8, `depth` HxW uint16 mm (0 = no
reading), `proprio` (end-effector position, velocity, gripper width), `desired_goal`.
Privileged keys (simulator only, for the critic): `state` and `achieved_goal`.
The goal is never drawn into the camera image: on the real robot it is a commanded vector.
"""
from __future__ import annotations

import dataclasses

import cv2
import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium import spaces

from aac_robot.camera import (CameraExtrinsics, CameraIntrinsics, DEFAULT_EXTRINSICS_YAML, DEFAULT_INTRINSICS_YAML,
                              gl_projection_matrix, gl_view_matrix, resized_intrinsics)
from aac_robot.metrics import GRASP_TASKS, held
from aac_robot.motion import MotionLimits, applied_action, limit_xyz
from aac_robot.preprocessing import CropResize, metres_to_depth_mm

from .config import SEG_BLOCK, SEG_FLOOR, SEG_KEY, SEG_OTHER, SEG_TABLE, ConfigError, SimConfig, from_dict
from .randomization import DomainRandomizer, EpisodeParams
from .scene import (GRIPPER_MAX_WIDTH, NEUTRAL_ARM_Q, PandaIK, build_scene, command_joints, load_texture, make_block,
                    reset_robot)
from .tasks import goal_distance, make_task

ACTOR_KEYS = ("rgb", "depth", "proprio", "desired_goal")
PRIVILEGED_KEYS = ("state", "achieved_goal")
IMAGE_KEYS = ("rgb", "depth")
PROPRIO_LAYOUT = (("ee_pos", 3), ("ee_vel", 3), ("gripper_width", 1))
ROBOT_STATE_LAYOUT = (("arm_q", 7), ("arm_qd", 7), ("finger_q", 2), ("finger_qd", 2), ("ee_pos", 3), ("ee_vel", 3))
OBJECT_STATE_LAYOUT = (("object_pos", 3), ("object_quat", 4), ("object_linvel", 3), ("object_angvel", 3),
                       ("object_rel_ee", 3), ("contacts", 3))  # contacts: left finger, right finger, table
_DEFAULT_LIMITS = MotionLimits()
WORKSPACE_LOW = np.array(_DEFAULT_LIMITS.workspace_low)   # default box (SimConfig.motion sets the one in use)
WORKSPACE_HIGH = np.array(_DEFAULT_LIMITS.workspace_high)
NEAR_M, FAR_M = 0.05, 5.0
_Z_NUM, _Z_DEN, _Z_SLOPE = np.float32(FAR_M * NEAR_M), np.float32(FAR_M), np.float32(FAR_M - NEAR_M)
# reset option knock_prob: the knock's distance (m, uniform) and step (uniform, inclusive); the twin's
# recovery eval knocks 5 cm at step 5 (`aac_deploy_eval --perturb-at`)
KNOCK_M = (0.02, 0.06)
KNOCK_STEPS = (1, 25)
RENDER_SIZE = 256   # env.render() for people (videos); the policy gets image_size


def layout_slices(layout) -> dict[str, slice]:
    out, i = {}, 0
    for name, n in layout:
        out[name] = slice(i, i + n)
        i += n
    return out


def task_state_fields(task) -> tuple:
    """(name, size) of each field of obs["state"] for `task`, in order; `AacPandaEnv.state_layout`
    holds the same as slices."""
    return ROBOT_STATE_LAYOUT + (OBJECT_STATE_LAYOUT if task.has_object else ())


def observation_space(cfg: SimConfig) -> spaces.Dict:
    """The observation space of an env with config `cfg`: built from the config alone (no simulator), so
    sims over ROS that run `cfg` are given the same one by the trainer that drives them."""
    S = cfg.image_size
    vec = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
    obs_spaces = {}
    if cfg.render_images:
        obs_spaces["rgb"] = spaces.Box(0, 255, (S, S, 3), np.uint8)
        obs_spaces["depth"] = spaces.Box(0, np.iinfo(np.uint16).max, (S, S), np.uint16)
        if cfg.segmentation:
            obs_spaces[SEG_KEY] = spaces.Box(0, SEG_BLOCK, (S, S), np.uint8)
    obs_spaces.update(proprio=vec(sum(n for _, n in PROPRIO_LAYOUT)), desired_goal=vec(3),
                      state=vec(sum(n for _, n in task_state_fields(make_task(cfg.task)))), achieved_goal=vec(3))
    return spaces.Dict(obs_spaces)


def _make_config(task, config, overrides) -> SimConfig:
    if isinstance(config, SimConfig):
        data = dataclasses.asdict(config)
    elif config is None:
        data = {}
    elif isinstance(config, dict):
        data = dict(config)
    else:
        raise ConfigError(f"config must be a SimConfig or a mapping, got {type(config).__name__}")
    if task is not None:
        data["task"] = task
    data.update(overrides)
    return from_dict(SimConfig, data)


class AacPandaEnv(gym.Env):
    """One Panda task. Use `gym.make("AAC/Push-v0")` etc. or construct with a SimConfig."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, task: str | None = None, config: SimConfig | dict | None = None,
                 render_mode: str | None = None, **overrides):
        self.cfg = cfg = _make_config(task, config, overrides)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}; only 'rgb_array'")
        self.render_mode = render_mode
        self.task = make_task(cfg.task)
        self.camera_intrinsics = CameraIntrinsics.from_yaml(cfg.camera_intrinsics or DEFAULT_INTRINSICS_YAML)
        self.camera_extrinsics = CameraExtrinsics.from_yaml(cfg.camera_extrinsics or DEFAULT_EXTRINSICS_YAML)
        self.crop = CropResize.center_square(self.camera_intrinsics, cfg.image_size)
        self.policy_intrinsics = self.crop.intrinsics(self.camera_intrinsics)
        self.last_native = None   # (rgb, depth, intrinsics) of the last full-frame render (camera_render: native)
        self.render_hooks: list = []   # called before each camera render (e.g. a calibration board following the hand)

        self.client = p.connect(p.DIRECT)
        self.scene = build_scene(self.client, cfg.render_model, cfg.control_dt / cfg.physics_substeps)
        self.ik = PandaIK(self.scene)
        self._start_q = self._start_pose(self.task.ee_start)
        self.block = None
        self._blocks: dict[float, int] = {}
        self._parking: dict[int, tuple] = {}
        self._texture_ids: dict[tuple[str, int], int] = {}   # (bank, index) -> renderer id, loaded on first use
        self._textured: set[int] = set()   # bodies showing a texture now

        self.state_layout = layout_slices(task_state_fields(self.task))
        self.proprio_layout = layout_slices(PROPRIO_LAYOUT)
        self.observation_space = observation_space(cfg)
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)

        self._dr: DomainRandomizer | None = None
        self.episode: EpisodeParams | None = None
        self.goal = np.zeros(3)
        self._steps = 0
        self._held = False   # the block in the gripper at the last observation (grasp tasks' success)
        self._command_delay = 0
        self._ws_low, self._ws_high = np.array(cfg.motion.workspace_low), np.array(cfg.motion.workspace_high)
        self._knock: tuple[int, np.ndarray] | None = None   # (step, dxy) of this episode's knock, until it happens

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Training-only options (evaluation never passes them):
        `{"start_grasped_prob": p}` (grasp tasks): with probability p the episode starts with the block closed
        in the gripper at its start position (a curriculum for a privileged teacher).
        `{"knock_prob": p}` (tasks with a block): with probability p the block is knocked once, at rest,
        `KNOCK_M` metres in a random direction at a step drawn from `KNOCK_STEPS`, unless it is in the hand
        then (the states a robot must recover from, `displace_object`; the twin's recovery eval knocks
        the same way). `"knock_at": k` and `"knock_m": d` fix the step and the distance (a recovery eval)."""
        super().reset(seed=seed)
        if seed is not None or self._dr is None:
            # Domain randomization streams are spawned from the seed, independent of the task's draws.
            dr_seed = seed if seed is not None else int(self.np_random.integers(2**63))
            self._dr = DomainRandomizer(self.cfg.randomization, np.random.SeedSequence([dr_seed, 0xAAC]))
        self.episode = ep = self._dr.episode(self.camera_extrinsics, self.policy_intrinsics, self.cfg.object_size_m)
        self._apply_episode(ep)
        sample = self.task.sample(self.np_random, ep.object_size)
        reset_robot(self.scene, self._start_q)
        if self.block is not None:
            p.resetBasePositionAndOrientation(self.block, sample.object_pos.tolist(), (0, 0, 0, 1),
                                              physicsClientId=self.client)
            p.resetBaseVelocity(self.block, (0, 0, 0), (0, 0, 0), physicsClientId=self.client)
        self.goal = sample.goal.astype(np.float64)
        p_grasped = float((options or {}).get("start_grasped_prob", 0.0))
        if not 0.0 <= p_grasped <= 1.0:
            raise ValueError(f"start_grasped_prob must be in [0, 1], got {p_grasped}")
        if p_grasped > 0.0:
            if self.task.name not in GRASP_TASKS:
                raise ValueError(f"start_grasped_prob is for grasp tasks {GRASP_TASKS}, not {self.task.name!r}")
            if self.np_random.uniform() < p_grasped:   # drawn after the task's sample: goals do not change
                self._start_in_hand(sample.object_pos, ep.object_size)
        self._knock = self._draw_knock(options or {})
        self._steps = 0
        substep = self.cfg.control_dt / self.cfg.physics_substeps
        # the previous command (the start pose, gripper open) holds this many substeps into each step
        self._command_delay = min(int(round(ep.action_latency_s / substep)), self.cfg.physics_substeps)
        obs = self._observe()
        return obs, {"is_success": self._success(obs["achieved_goal"])}

    def step(self, action):
        """One control step. The action is executed as the robot would: through the velocity command
        and back (the speed limit of `cfg.motion` scales it onto the unit ball, `motion.applied_action`),
        with the channel's noise, towards a grasp-point target one step ahead of where the grasp point
        is now, clipped to the workspace box."""
        a = applied_action(self.check_action(action), self.cfg.motion)
        noisy = self._dr.action(a.astype(np.float64))
        noisy[:3] = limit_xyz(noisy[:3])   # noise does not take the arm past the speed limit
        target = np.clip(self._ee + noisy[:3] * self.cfg.max_ee_step_m, self._ws_low, self._ws_high)
        width = (noisy[3] + 1.0) / 2.0 * self.cfg.motion.gripper_max_width_m
        return self._advance(self.ik.solve(target), width)

    def step_joints(self, arm_q, gripper_width: float):
        """One control step towards joint-position targets (a ros2_control joint_trajectory_controller
        command) instead of a Cartesian action. Same physics, reward and truncation as `step`;
        action noise and latency randomization do not apply (they model the policy's channel)."""
        q = self.check_arm_targets(arm_q)
        w = float(gripper_width)
        if not 0.0 <= w <= GRIPPER_MAX_WIDTH:   # also catches NaN
            raise ValueError(f"gripper width must be in [0, {GRIPPER_MAX_WIDTH}] m, got {gripper_width}")
        return self._advance(q, w, delay_substeps=0)

    def check_arm_targets(self, arm_q) -> np.ndarray:
        """panda_joint1..7 targets as float64; ValueError if not 7 finite values inside the joint limits."""
        q = np.array(arm_q, dtype=np.float64)
        if q.shape != (7,) or not np.isfinite(q).all():
            raise ValueError(f"arm joint targets must be 7 finite values, got {np.asarray(arm_q).tolist()}")
        low, high = self.joint_limits()
        bad = [f"panda_joint{i + 1}={v:.3f} not in [{lo:.3f}, {hi:.3f}]"
               for i, (v, lo, hi) in enumerate(zip(q, low[:7], high[:7])) if not lo <= v <= hi]
        if bad:
            raise ValueError("arm joint targets outside the joint limits: " + ", ".join(bad))
        return q

    def displace_object(self, delta_xy) -> np.ndarray:
        """Knock the block by `delta_xy` (m, base frame) across the table, at rest, keeping it inside the
        workspace: the perturbation of a robustness eval. Returns the block's new position."""
        d = np.asarray(delta_xy, dtype=np.float64)
        if d.shape != (2,) or not np.isfinite(d).all():
            raise ValueError(f"displacement must be 2 finite values (dx, dy) in m, got {np.asarray(delta_xy).tolist()}")
        if self.block is None or not self.task.has_object:
            raise ValueError(f"task {self.cfg.task!r} has no block to displace")
        pos, quat = p.getBasePositionAndOrientation(self.block, physicsClientId=self.client)
        new = np.array(pos, dtype=np.float64)
        new[:2] = np.clip(new[:2] + d, self._ws_low[:2], self._ws_high[:2])
        p.resetBasePositionAndOrientation(self.block, new.tolist(), quat, physicsClientId=self.client)
        p.resetBaseVelocity(self.block, (0, 0, 0), (0, 0, 0), physicsClientId=self.client)
        return new

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower/upper position limits of panda_joint1..7 then the two fingers (URDF values)."""
        lower, upper = np.asarray(self.ik.lower), np.asarray(self.ik.upper)
        return lower[self.ik.movable_order], upper[self.ik.movable_order]

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities of panda_joint1..7, panda_finger_joint1/2 (float64, as /joint_states)."""
        s = self.scene
        joints = p.getJointStates(s.robot, s.arm_joints + s.finger_joints, physicsClientId=self.client)
        return np.array([j[0] for j in joints]), np.array([j[1] for j in joints])

    def _advance(self, arm_q, width: float, delay_substeps: int | None = None):
        """Physics for one control step. Timing as on the robot (randomization `action` and
        `camera_timing`): the new joint targets take over `delay_substeps` into the step (the previous
        ones hold until then), and the camera image and proprio are those of the newest frame the
        policy could have at the next control tick, captured `observation_age` before it (the frame's
        own time: on the robot the policy node pairs a frame with the joint state of its stamp).
        The privileged state, reward and success are the state at the tick."""
        cfg, ep = self.cfg, self.episode
        S, dt = cfg.physics_substeps, cfg.control_dt
        info = {}
        if self._knock is not None and self._steps >= self._knock[0]:
            if not self._held:   # yanking a held block out of closed fingers is not a knock
                self.displace_object(self._knock[1])
                info["knocked"] = True
            self._knock = None
        delay = self._command_delay if delay_substeps is None else delay_substeps
        age = ep.observation_age((self._steps + 1) * dt, dt)
        capture = S - int(round(age / dt * S))   # the image is taken after this many substeps
        robot_obs = self._observe_robot() if capture == 0 else None
        for i in range(S):
            if i == delay:
                command_joints(self.scene, arm_q, width)
            p.stepSimulation(physicsClientId=self.client)
            if i + 1 == capture:
                robot_obs = self._observe_robot()
        self._steps += 1
        obs = {**robot_obs, **self._observe_privileged()}
        success = self._success(obs["achieved_goal"])
        reward = float(self.compute_reward(obs["achieved_goal"], self.goal)) + 0.0   # what HER relabels: distance only
        truncated = self._steps >= self.cfg.max_episode_steps
        return obs, reward, False, truncated, {"is_success": success, **info}

    def compute_reward(self, achieved_goal, desired_goal, info=None):
        """Sparse reward, vectorised over leading dimensions: 0 on success, -1 otherwise."""
        d = goal_distance(achieved_goal, desired_goal)
        return -(d > self.cfg.distance_threshold_m).astype(np.float32)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        intr = resized_intrinsics(self.episode.intrinsics, RENDER_SIZE, RENDER_SIZE)
        rgb, _ = self._render(intr, with_depth=False)
        return rgb

    def close(self):
        if getattr(self, "client", None) is not None:
            try:
                p.disconnect(physicsClientId=self.client)
            except p.error:
                pass
            self.client = None

    # ------------------------------------------------------------------ helpers
    def check_action(self, action) -> np.ndarray:
        a = np.array(action, dtype=np.float64)
        if a.shape != (4,):
            raise ValueError(f"action must have shape (4,) [dx, dy, dz, gripper], got {a.shape}")
        peak = np.abs(a).max()
        if not peak <= 1.0 + 1e-6:   # also catches NaN
            if not np.isfinite(a).all():
                raise ValueError(f"action contains NaN or inf: {a.tolist()}")
            raise ValueError(f"action out of range [-1, 1]: {a.tolist()} (clip it in the policy, not here)")
        return np.clip(a, -1.0, 1.0, out=a)

    def _success(self, achieved) -> float:
        """The task's success for the state just observed (`_observe_privileged` sets `_held`)."""
        at_goal = bool(goal_distance(achieved, self.goal) < self.cfg.distance_threshold_m)
        return float(self.task.success(at_goal, self._held, self.goal, self.episode.object_size))

    def _apply_episode(self, ep: EpisodeParams) -> None:
        c, s = self.client, self.scene
        if self.task.has_object:
            block = self._block_for_size(ep.object_size)
            if block != self.block:
                if self.block is not None:   # park the previous block, frozen (mass 0), out of sight
                    p.changeDynamics(self.block, -1, mass=0.0, physicsClientId=c)
                    p.resetBasePositionAndOrientation(self.block, self._parking[self.block], (0, 0, 0, 1),
                                                      physicsClientId=c)
                self.block = block
            p.changeDynamics(block, -1, mass=ep.object_mass, lateralFriction=ep.object_friction, physicsClientId=c)
        parts = [("table", s.table), ("floor", s.floor)] + ([("object", self.block)] if self.task.has_object else [])
        if ep.textures is None:
            for part, body in parts:
                # a body still showing a texture loses it (an episode's look never depends on earlier ones)
                untex = dict(textureUniqueId=-1) if body in self._textured else {}
                p.changeVisualShape(body, -1, rgbaColor=ep.colors[part], physicsClientId=c, **untex)
                self._textured.discard(body)
        else:
            bank = ep.textures["bank"]
            for part, body in parts:
                key = (bank, ep.textures[part])
                if key not in self._texture_ids:
                    self._texture_ids[key] = load_texture(c, *key)
                # TinyRenderer multiplies the texture by the base colour: white on table and floor, the
                # episode's object colour on the block (its nominal colour when colours are not randomized:
                # an untinted block was brighter than any block in training, bench/README.md)
                tint = ep.colors["object"] if part == "object" else (1, 1, 1, 1)
                p.changeVisualShape(body, -1, rgbaColor=tint, textureUniqueId=self._texture_ids[key],
                                    physicsClientId=c)
                self._textured.add(body)
        for link in s.robot_links:
            color = ep.colors["robot_dark"] if link in s.robot_dark_links else ep.colors["robot"]
            p.changeVisualShape(s.robot, link, rgbaColor=color, physicsClientId=c)
        self._view = gl_view_matrix(ep.extrinsics)
        self._proj = gl_projection_matrix(ep.intrinsics, NEAR_M, FAR_M)
        self._light = ep.lighting.pybullet_kwargs()

    def _draw_knock(self, options: dict) -> tuple[int, np.ndarray] | None:
        prob = float(options.get("knock_prob", 0.0))
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"knock_prob must be in [0, 1], got {prob}")
        if prob == 0.0:
            return None   # draws nothing: episodes without the option are unchanged
        if not self.task.has_object:
            raise ValueError(f"knock_prob needs a task with a block, not {self.task.name!r}")
        at, dist = options.get("knock_at"), options.get("knock_m")
        if at is not None and not 1 <= int(at) < self.cfg.max_episode_steps:
            raise ValueError(f"knock_at must be a step in [1, {self.cfg.max_episode_steps - 1}], got {at}")
        if dist is not None and not 0.0 < float(dist) <= 0.3:
            raise ValueError(f"knock_m must be in (0, 0.3] m, got {dist}")
        rng = self.np_random   # drawn after the task's sample: goals and start positions do not change
        if rng.uniform() >= prob:
            return None
        step = int(rng.integers(KNOCK_STEPS[0], min(KNOCK_STEPS[1], self.cfg.max_episode_steps - 1) + 1))
        angle, d = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(*KNOCK_M)
        step, d = (int(at) if at is not None else step), (float(dist) if dist is not None else d)
        return step, d * np.array([np.cos(angle), np.sin(angle)])

    def _start_in_hand(self, object_pos: np.ndarray, size: float) -> None:
        """The arm with its grasp point at the block's centre and the fingers closed on it, settled for a few
        physics substeps so the contacts hold (the arm's next command keeps it closed: width 0)."""
        q = self._ik_pose(object_pos, self._start_q, width=size)
        p.resetBasePositionAndOrientation(self.block, object_pos.tolist(), (0, 0, 0, 1), physicsClientId=self.client)
        command_joints(self.scene, q, 0.0)
        for _ in range(self.cfg.physics_substeps):
            p.stepSimulation(physicsClientId=self.client)

    def _start_pose(self, ee_start) -> tuple:
        """Arm joint angles with the grasp point at `ee_start` (gripper down), solved once."""
        if ee_start is None:
            return NEUTRAL_ARM_Q
        return self._ik_pose(ee_start, NEUTRAL_ARM_Q)

    def _ik_pose(self, target, q0, width: float = GRIPPER_MAX_WIDTH) -> tuple:
        """Joint angles with the grasp point at `target` (gripper down), the robot left there. IK solves from
        the current pose: a few resets from q0 converge to the exact point."""
        q = q0
        for _ in range(10):
            reset_robot(self.scene, q, width=width)
            q = tuple(self.ik.solve(target).tolist())
        reset_robot(self.scene, q, width=width)
        return q

    def _block_for_size(self, size: float) -> int:
        """Blocks are created once per size and reused. Creating a body per episode made every
        later frame slower (TinyRenderer keeps removed bodies' graphics: +6 % after 300 resets)."""
        key = round(size, 4)
        if key not in self._blocks:
            self._blocks[key] = body = make_block(self.client, size, 0.0, 1.0, (1, 1, 1, 1))
            self._parking[body] = (5.0 + 0.2 * len(self._blocks), 5.0, 0.1)
        return self._blocks[key]

    def _render(self, intr: CameraIntrinsics, with_depth: bool = True, with_seg: bool = False):
        """(rgb, depth mm or None), plus the surface classes (SEG_*) as a third item with `with_seg`."""
        for hook in self.render_hooks:
            hook()
        proj = self._proj if intr is self.episode.intrinsics else gl_projection_matrix(intr, NEAR_M, FAR_M)
        _, _, rgba, depth_buf, seg_buf = p.getCameraImage(
            intr.width, intr.height, self._view, proj, renderer=p.ER_TINY_RENDERER,
            flags=0 if with_seg else p.ER_NO_SEGMENTATION_MASK, physicsClientId=self.client, **self._light)
        rgb = cv2.cvtColor(np.asarray(rgba, dtype=np.uint8).reshape(intr.height, intr.width, 4), cv2.COLOR_RGBA2RGB)
        depth = None
        if with_depth:
            d = np.asarray(depth_buf, dtype=np.float32).reshape(intr.height, intr.width)
            z = _Z_NUM / (_Z_DEN - _Z_SLOPE * d)    # OpenGL depth buffer -> metric z-depth
            z = self._dr.depth(z)
            depth = metres_to_depth_mm(z, intr.depth_min_m, intr.depth_max_m)
        if not with_seg:
            return rgb, depth
        return rgb, depth, self._surface_classes(np.asarray(seg_buf, dtype=np.int64).reshape(intr.height, intr.width))

    def _surface_classes(self, body_ids: np.ndarray) -> np.ndarray:
        """PyBullet's per-pixel body ids (-1 where nothing is hit) -> SEG_* classes, uint8."""
        out = np.full(body_ids.shape, SEG_OTHER, dtype=np.uint8)
        out[body_ids == self.scene.table] = SEG_TABLE
        out[body_ids == self.scene.floor] = SEG_FLOOR
        if self.block is not None:
            out[body_ids == self.block] = SEG_BLOCK
        return out

    def _joints(self) -> tuple[np.ndarray, np.ndarray]:
        joints = p.getJointStates(self.scene.robot, self.scene.arm_joints + self.scene.finger_joints,
                                  physicsClientId=self.client)
        return np.array([j[0] for j in joints]), np.array([j[1] for j in joints])

    def _grasp_point(self) -> tuple[np.ndarray, np.ndarray]:
        # forward kinematics of the current joint state (what FK of /joint_states gives on the real arm,
        # aac_robot.kinematics), not the link pose cached before the last physics substep
        link = p.getLinkState(self.scene.robot, self.scene.ee_link, computeLinkVelocity=1,
                              computeForwardKinematics=1, physicsClientId=self.client)
        return np.asarray(link[4]), np.asarray(link[6])

    def camera_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """The camera's full frame (rgb, depth mm) of the current state with this episode's camera (pose
        jitter, focal jitter, lighting, depth noise): what a RealSense would send (calibration in the sim)."""
        factor = self.episode.intrinsics.fx / self.policy_intrinsics.fx
        return self._render(self.camera_intrinsics.scaled_focal(factor))

    def _render_camera(self) -> tuple[np.ndarray, np.ndarray]:
        """The policy's images: rendered directly at the policy size (camera_render: policy), or the
        camera's full frame with the episode's focal jitter, cropped and resized exactly as the deploy
        path does with a real RealSense frame (camera_render: native; ~6x the render cost)."""
        seg = self.cfg.segmentation
        if self.cfg.camera_render == "policy":
            self.last_native = None
            return self._render(self.episode.intrinsics, with_seg=seg)
        factor = self.episode.intrinsics.fx / self.policy_intrinsics.fx
        native = self.camera_intrinsics.scaled_focal(factor)
        rgb, depth, *classes = self._render(native, with_seg=seg)
        self.last_native = (rgb, depth, native)   # the full frame of this observation (the sim node can publish it)
        out = (self.crop.rgb(rgb, native), self.crop.depth(depth, native))
        if seg:   # nearest neighbour, as the depth: a class is never averaged
            out += (self.crop.labels(classes[0]),)
        return out

    def _observe(self) -> dict:
        """The whole observation of the current state (no camera delay)."""
        return {**self._observe_robot(), **self._observe_privileged()}

    def _observe_robot(self) -> dict:
        """What the robot's sensors give the policy: camera images and proprio (at the frame's time)."""
        q, _ = self._joints()
        ee_pos, ee_vel = self._grasp_point()
        obs = {}
        if self.cfg.render_images:
            obs["rgb"], obs["depth"], *seg = self._render_camera()
            if seg:
                obs[SEG_KEY] = seg[0]
        obs["proprio"] = np.concatenate([ee_pos, ee_vel, [q[7] + q[8]]]).astype(np.float32)
        return obs

    def _observe_privileged(self) -> dict:
        """The goal and the simulator's state now (the critic's inputs, reward and success)."""
        c, s = self.client, self.scene
        q, qd = self._joints()
        ee_pos, ee_vel = self._grasp_point()
        self._ee = ee_pos
        parts = [q[:7], qd[:7], q[7:], qd[7:], ee_pos, ee_vel]
        achieved = ee_pos
        if self.block is not None and self.task.has_object:
            pos, quat = p.getBasePositionAndOrientation(self.block, physicsClientId=c)
            lin, ang = p.getBaseVelocity(self.block, physicsClientId=c)
            pos, quat = np.asarray(pos), np.asarray(quat)
            quat = quat if quat[3] >= 0 else -quat   # q and -q are the same rotation: keep one
            contacts = [float(bool(p.getContactPoints(s.robot, self.block, linkIndexA=j, physicsClientId=c)))
                        for j in s.finger_joints]
            contacts.append(float(bool(p.getContactPoints(s.table, self.block, physicsClientId=c))))
            parts += [pos, quat, lin, ang, pos - ee_pos, contacts]
            achieved = pos
            self._held = bool(held(contacts))
        else:
            self._held = False
        return {"desired_goal": self.goal.astype(np.float32), "state": np.concatenate(parts).astype(np.float32),
                "achieved_goal": np.asarray(achieved, dtype=np.float32)}
