"""Off-policy actor-critic (DDPG or TD3) over the three observation wirings.

asymmetric: PixelActor(images, proprio, goal)   StateCritic(state, goal, action)   <- the paper
symmetric:  PixelActor(images, proprio, goal)   PixelCritic(images, proprio, goal, action)
state:      StateActor(state, goal)             StateCritic(state, goal, action)   <- oracle

asymmetric + state_teacher: a privileged StateActor (the teacher) learns with the state critic
exactly as in the `state` wiring, and the critic's targets use the teacher's actions; the
PixelActor (the deployable policy) learns by regressing the teacher's action on the same state
from its own pixels (+ the auxiliary loss). Supervised targets on every sample give the pixel
encoder a far denser signal than the critic's action gradient, and no pixel forward is needed
in the critic update, so critic updates cost what they cost in the oracle.
"""
from __future__ import annotations

import copy
import logging

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from aac_sim.config import SEG_BLOCK, SEG_FLOOR, SEG_KEY, SEG_TABLE

from .config import TrainConfig
from .networks import (PixelActor, PixelCritic, RunningNorm, StateActor, StateCritic, color_jitter, image_tensor,
                       random_conv, random_shift, retexture)
from .perf import bf16_is_fast, bf16_support_note
from .spec import ObsSpec

GOAL_KEYS = ("desired_goal", "achieved_goal")
# the surfaces retexture_prob re-textures: table and floor with one texture (little floor is in view), the block
# with another
RETEXTURE_SURFACES = ((SEG_TABLE, SEG_FLOOR), (SEG_BLOCK,))
# bank textures are held at this side: the sim's camera sees ~a 32-pixel window of a 256 texture across the
# table; the views (0.15-0.6 of the side) span 40-150 of those pixels
RETEXTURE_SIZE = 64

log = logging.getLogger(__name__)


def load_texture_bank(banks) -> torch.Tensor:
    """Every texture of the named training banks (aac_sim.scene's PNG cache; generated on first use) as
    (N,3,RETEXTURE_SIZE,RETEXTURE_SIZE) float32 in 0..1. A texture in two banks (train_large holds train) is
    kept once."""
    import cv2
    from aac_sim.scene import TEXTURE_BANKS, texture_file   # the simulator: training side only
    files = dict.fromkeys(texture_file(b, i) for b in banks for i in range(TEXTURE_BANKS[b]))
    out = []
    for f in files:
        img = cv2.imread(f, cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"could not read texture {f}")
        img = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), (RETEXTURE_SIZE, RETEXTURE_SIZE),
                         interpolation=cv2.INTER_AREA)
        out.append(img.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out).astype(np.float32) / 255.0)


def norm_name(key: str) -> str:
    """Desired and achieved goals live in the same space and share one normalizer (as in HER)."""
    return "goal" if key in GOAL_KEYS else key


def _split_norms(norms_state: dict) -> dict[str, dict]:
    """A ModuleDict's state dict ('goal.mean', ...) -> {'goal': {'mean': ...}, ...}."""
    out: dict[str, dict] = {}
    for key, value in norms_state.items():
        name, field_ = key.split(".", 1)
        out.setdefault(name, {})[field_] = value
    return out


def _polyak(target: nn.Module, online: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters()):
            t.lerp_(o, tau)


class Agent:
    def __init__(self, spec: ObsSpec, cfg: TrainConfig, device: str | torch.device = "cpu"):
        self.spec, self.cfg, self.device = spec, cfg, torch.device(device)
        A, H = spec.action_dim, cfg.hidden_dim
        n_q = 2 if cfg.algo == "td3" else 1
        names = sorted({norm_name(k) for k in spec.vec_dims})
        dims = {norm_name(k): d for k, d in spec.vec_dims.items()}
        self.norms = nn.ModuleDict({n: RunningNorm(dims[n]) for n in names}).to(self.device)
        if cfg.pixels:
            self.actor = PixelActor(spec.in_channels, spec.image_size, spec.dim(spec.actor_vec_keys), A, H,
                                    cfg.feature_dim, spec.aux_dim if cfg.aux_loss else 0)
        else:
            self.actor = StateActor(spec.dim(spec.actor_vec_keys), A, H)
        if spec.critic_images:
            self.critic = PixelCritic(spec.in_channels, spec.image_size, spec.dim(spec.critic_vec_keys), A, H,
                                      cfg.feature_dim, n_q)
        else:
            self.critic = StateCritic(spec.dim(spec.critic_vec_keys), A, H, n_q)
        self.actor.to(self.device)
        self.critic.to(self.device)
        self.teacher = None
        # stage 3: the teacher stays, frozen, as the bc_weight term's label; the critic and the pixel actor
        # learn by the asymmetric actor-critic update (not the concurrent teacher's)
        self.finetune = bool(cfg.finetune_from)
        if cfg.state_teacher:   # privileged StateActor on the critic's inputs (see the module docstring)
            self.teacher = StateActor(spec.dim(spec.critic_vec_keys), A, H).to(self.device)
            self.teacher_target = copy.deepcopy(self.teacher).requires_grad_(False)
            self.teacher_opt = torch.optim.Adam(self.teacher.parameters(), lr=cfg.actor_lr)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.bf16 = cfg.bf16 and bf16_is_fast(self.device)
        if cfg.bf16 and not self.bf16:
            log.warning("bf16 requested but this %s has no fast bfloat16 path (%s): the pixel actor trains in "
                        "fp32", self.device.type, bf16_support_note(self.device))
        # columns of the aux key that the encoder regresses (object / grasp-point position)
        self.aux_index = torch.tensor([i for _, a, b in spec.aux_slices for i in range(a, b)], dtype=torch.long,
                                      device=self.device)
        self.critic_updates = 0
        self.frozen_norms: set[str] = set()   # normalizers that came with a loaded teacher: never updated
        self.np_rng = np.random.default_rng(cfg.seed + 1)   # augmentation shifts
        self._retexture_bank: torch.Tensor | None = None
        self.q_low, self.q_high = -1.0 / (1.0 - cfg.gamma), 0.0   # sparse {-1, 0} rewards bound the return

    # ------------------------------------------------------------------ inputs
    def _t(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device)

    def vec(self, obs: dict, keys) -> torch.Tensor:
        return torch.cat([self.norms[norm_name(k)](self._t(obs[k]).float()) for k in keys], dim=-1)

    def images(self, obs: dict, shift_pad: int = 0) -> torch.Tensor:
        keys = self.spec.image_keys
        # the surface classes (training batches with retexture_prob) shift with their images
        seg = self.cfg.retexture_prob > 0 and shift_pad > 0 and SEG_KEY in obs and "rgb" in keys
        raw = random_shift([np.asarray(obs[k]) for k in keys + ((SEG_KEY,) if seg else ())], shift_pad, self.np_rng)
        named = {k: self._t(x) for k, x in zip(keys, raw)}
        out = image_tensor(named.get("rgb"), named.get("depth"))
        if seg:   # first: it changes the scene; the colour augmentations below act on the camera's view of it
            retexture(out, torch.from_numpy(raw[-1]), self.cfg.retexture_prob, self.retexture_bank(),
                      RETEXTURE_SURFACES, self.np_rng)
        if shift_pad > 0 and "rgb" in named:   # training-time augmentation only
            if self.cfg.color_jitter > 0:
                color_jitter(out, self.cfg.color_jitter, self.np_rng)
            if self.cfg.randconv_prob > 0:
                random_conv(out, self.cfg.randconv_prob, self.np_rng)
        return out

    def retexture_bank(self) -> torch.Tensor:
        """The textures of `retexture_banks` (see load_texture_bank), loaded onto the agent's device on first use."""
        if self._retexture_bank is None:
            self._retexture_bank = load_texture_bank(self.cfg.retexture_banks).to(self.device)
        return self._retexture_bank

    def update_norms(self, obs: dict) -> None:
        """Feed newly collected vectors (any leading shape) to the running normalizers."""
        for k in self.spec.vec_dims:
            if k in obs and norm_name(k) not in self.frozen_norms:
                self.norms[norm_name(k)].update(self._t(obs[k]).float())

    def load_teacher(self, teacher_agent: dict) -> None:
        """Install a trained `wiring: state` agent's actor as the frozen teacher, with the normalizers
        its inputs were trained with (the student's goal input shares them). `teacher_agent` is the
        "agent" part of that run's checkpoint."""
        if self.teacher is None:
            raise ValueError("load_teacher needs state_teacher=true")
        self.teacher.load_state_dict(teacher_agent["actor"])
        self.teacher_target.load_state_dict(teacher_agent["actor"])
        self.teacher.requires_grad_(False)
        names = {norm_name(k) for k in self.spec.critic_vec_keys}
        own = {n: sd for n, sd in _split_norms(teacher_agent["norms"]).items() if n in names}
        for name, sd in own.items():
            self.norms[name].load_state_dict(sd)
        self.frozen_norms = set(own)

    def load_finetune_start(self, student_agent: dict, teacher_agent: dict) -> None:
        """Stage 3's starting point: the pixel actor and every normalizer of the trained student, the
        teacher's critic (it scores the state the asymmetric critic sees, with the same network), fresh
        optimizers. Call after load_teacher; the arguments are the "agent" parts of the two checkpoints."""
        if not self.finetune or self.teacher is None:
            raise ValueError("load_finetune_start needs finetune_from and a loaded teacher")
        for part in ("actor", "actor_target", "norms"):
            getattr(self, part).load_state_dict(student_agent[part])
        for part in ("critic", "critic_target"):
            getattr(self, part).load_state_dict(teacher_agent[part])

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: dict) -> np.ndarray:
        """Deterministic actions for a batch of actor observations (only actor keys are read)."""
        vec = self.vec(obs, self.spec.actor_vec_keys)
        a = self.actor(self.images(obs), vec) if self.cfg.pixels else self.actor(vec)
        return a.cpu().numpy()

    @torch.no_grad()
    def act_teacher(self, obs: dict) -> np.ndarray:
        """The privileged teacher's actions (reads the critic's keys: simulator state + goal)."""
        return self.teacher(self.vec(obs, self.spec.critic_vec_keys)).cpu().numpy()

    def update_sample_keys(self) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """(obs keys, next-obs keys) an update() batch reads; None = all. With a state teacher the
        critic and the teacher read vectors only, so sampling skips the frames."""
        if not self.distilling:
            return None, None
        keys = tuple(dict.fromkeys(self.spec.critic_vec_keys + ("desired_goal",)))
        return keys, keys

    # ------------------------------------------------------------------ learning
    @property
    def distilling(self) -> bool:
        """A teacher whose actions the pixel actor regresses (concurrent or frozen), rather than stage 3's
        actor-critic update with a frozen teacher as the bc_weight label."""
        return self.teacher is not None and not self.finetune

    def update(self, batch: dict) -> dict:
        cfg, spec = self.cfg, self.spec
        o, o2 = batch["obs"], batch["next_obs"]
        action = self._t(batch["action"])
        reward = self._t(batch["reward"])
        # n-step batches carry gamma^k per sample (replay.sample); 1-step ones may omit it
        discount = self._t(batch["discount"]) if "discount" in batch else cfg.gamma
        img = img2 = None
        actor_step = (self.critic_updates + 1) % cfg.actor_update_every == 0
        if not self.distilling and cfg.pixels:
            pad = cfg.augment_pad if cfg.augment else 0
            img2 = self.images(o2, pad)            # the target actor always looks at the next frame
            if spec.critic_images or actor_step:   # the asymmetric critic alone never needs pixels
                img = self.images(o, pad)

        critic_vec, critic_vec2 = self.vec(o, spec.critic_vec_keys), self.vec(o2, spec.critic_vec_keys)
        with torch.no_grad():
            if self.distilling:
                a2 = self.teacher_target(critic_vec2)
            elif cfg.pixels:
                a2 = self.actor_target(img2, self.vec(o2, spec.actor_vec_keys))
            else:
                a2 = self.actor_target(self.vec(o2, spec.actor_vec_keys))
            if cfg.algo == "td3":   # target policy smoothing
                noise = (torch.randn_like(a2) * cfg.target_noise).clamp(-cfg.target_noise_clip, cfg.target_noise_clip)
                a2 = (a2 + noise).clamp(-1.0, 1.0)
            q2 = torch.stack(self.critic_target(critic_vec2, a2, img2)).min(dim=0).values
            target = (reward + discount * q2).clamp(self.q_low, self.q_high)
        qs = self.critic(critic_vec, action, img)
        critic_loss = sum(F.mse_loss(q, target) for q in qs)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        _polyak(self.critic_target, self.critic, cfg.tau)
        self.critic_updates += 1
        metrics = {"loss/critic": critic_loss.item(), "q/mean": qs[0].mean().item(), "q/target": target.mean().item()}

        if actor_step:
            if self.distilling:
                metrics.update(self._update_teacher(critic_vec.detach()))
            else:
                metrics.update(self._update_actor(o, img, critic_vec.detach()))
        return metrics

    def _update_teacher(self, critic_vec) -> dict:
        loss = self._policy_step(self.teacher, self.teacher_target, self.teacher_opt,
                                 self.teacher(critic_vec), critic_vec)
        return {"loss/teacher": loss.item()}

    def _policy_step(self, online: nn.Module, target: nn.Module, opt, a, critic_vec, img=None,
                     extra_loss=None) -> torch.Tensor:
        """Deterministic policy gradient step of `online` (which produced `a`): raise the critic's Q,
        keep actions off the bounds; `extra_loss` (the aux regression) joins the same backward.
        Returns the policy loss without the extra term."""
        # the critic only scores the action here: freezing its weights skips their gradients
        # (the pixel critic's conv backward would otherwise double the cost)
        self.critic.requires_grad_(False)
        q = self.critic(critic_vec, a, img)[0]
        self.critic.requires_grad_(True)
        policy_loss = -q.mean() + self.cfg.action_l2 * a.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        (policy_loss if extra_loss is None else policy_loss + extra_loss).backward()
        opt.step()
        _polyak(target, online, self.cfg.tau)
        return policy_loss

    def set_distill_lr(self, lr: float) -> None:
        for group in self.actor_opt.param_groups:
            group["lr"] = lr

    def distill(self, batch: dict) -> dict:
        """One pixel-actor step towards the teacher's action on the same (relabelled) sample."""
        cfg, spec, o = self.cfg, self.spec, batch["obs"]
        img = self.images(o, cfg.augment_pad if cfg.augment else 0)
        with torch.no_grad():
            target = self.teacher(self.vec(o, spec.critic_vec_keys))
        if not torch.isfinite(target).all():
            raise FloatingPointError("the teacher produced non-finite action labels (NaN/inf): its weights or "
                                     "normalizers are broken; retrain or reload the teacher")
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            a, feat = self.actor.act(img, self.vec(o, spec.actor_vec_keys))
            aux_pred = self.actor.aux(feat) if self.actor.aux is not None else None
        bc_loss = F.mse_loss(a.float(), target)
        loss = bc_loss
        out = {"loss/distill": bc_loss.item()}
        if aux_pred is not None:
            aux_loss = F.mse_loss(aux_pred.float(), self.aux_target(o))
            loss = loss + cfg.aux_weight * aux_loss
            out["loss/aux"] = aux_loss.item()
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_opt.step()
        return out

    def distill_sample_keys(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A distillation batch reads the actor's inputs, the teacher's inputs and the aux target; no next frame."""
        keys = self.spec.actor_keys + self.spec.critic_vec_keys + ((self.spec.aux_key,) if self.spec.aux_key else ())
        keys += (SEG_KEY,) if self.cfg.retexture_prob > 0 else ()
        return tuple(dict.fromkeys(keys + ("desired_goal",))), ()

    def _update_actor(self, o: dict, img, critic_vec) -> dict:
        cfg, spec = self.cfg, self.spec
        actor_vec = self.vec(o, spec.actor_vec_keys)
        aux_loss = None
        if cfg.pixels:
            a, feat = self.actor.act(img, actor_vec)
            if self.actor.aux is not None:
                aux_loss = F.mse_loss(self.actor.aux(feat), self.aux_target(o))
        else:
            a = self.actor(actor_vec)
        extra = cfg.aux_weight * aux_loss if aux_loss is not None else None
        bc_loss = None
        if self.finetune and cfg.bc_weight > 0:   # stage 3: stay near the frozen teacher's action
            with torch.no_grad():
                label = self.teacher(critic_vec)
            bc_loss = F.mse_loss(a, label)
            extra = cfg.bc_weight * bc_loss if extra is None else extra + cfg.bc_weight * bc_loss
        actor_loss = self._policy_step(self.actor, self.actor_target, self.actor_opt, a, critic_vec,
                                       img.detach() if img is not None else None, extra)
        out = {"loss/actor": actor_loss.item()}
        if aux_loss is not None:
            out["loss/aux"] = aux_loss.item()
        if bc_loss is not None:
            out["loss/bc"] = bc_loss.item()
        return out

    def aux_target(self, o: dict) -> torch.Tensor:
        """Privileged quantities (object / gripper position) as z-scores of the running normalizer."""
        key, idx = self.spec.aux_key, self.aux_index
        return self.norms[norm_name(key)](self._t(o[key]).float())[:, idx]

    # ------------------------------------------------------------------ persistence
    PARTS = ("actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt", "norms")
    TEACHER_PARTS = ("teacher", "teacher_target", "teacher_opt")

    def _parts(self) -> tuple[str, ...]:
        return self.PARTS + (self.TEACHER_PARTS if self.teacher is not None else ())

    def state_dict(self) -> dict:
        return {**{name: getattr(self, name).state_dict() for name in self._parts()},
                "critic_updates": self.critic_updates}

    def load_state_dict(self, sd: dict) -> None:
        for name in self._parts():
            getattr(self, name).load_state_dict(sd[name])
        self.critic_updates = int(sd["critic_updates"])
