"""Which observation keys each network reads, derived from an env's observation space.

This is where the asymmetric split is decided and enforced: the actor's key list never
contains a privileged key in the pixel wirings (tests check that the actor cannot even be
handed one). Works for our Panda envs and any gymnasium goal-conditioned env
(`observation` / `achieved_goal` / `desired_goal`, optional `rgb` uint8 HxWx3 and `depth` uint16 mm).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from gymnasium import spaces

from aac_sim.config import SEG_KEY, ConfigError

IMAGE_KEYS = ("rgb", "depth")
PRIVILEGED_KEYS = ("state", "observation", "achieved_goal", SEG_KEY)
AUX_STATE_FIELDS = ("object_pos", "ee_pos")   # what the encoder regresses when the env names its state layout


@dataclass(frozen=True)
class ObsSpec:
    wiring: str
    state_key: str                      # "state" (our envs) or "observation" (gymnasium-robotics style)
    image_keys: tuple[str, ...]         # images the actor (and the symmetric critic) sees
    image_size: int
    actor_vec_keys: tuple[str, ...]
    critic_vec_keys: tuple[str, ...]
    critic_images: bool
    vec_dims: dict = field(default_factory=dict)   # key -> dim for every stored vector key
    action_dim: int = 4
    aux_key: str | None = None          # the encoder's auxiliary target is read from this key...
    aux_slices: tuple[tuple[str, int, int], ...] = ()   # ...at these (name, start, stop) slices

    @property
    def in_channels(self) -> int:
        return 3 * ("rgb" in self.image_keys) + ("depth" in self.image_keys)

    @property
    def actor_keys(self) -> tuple[str, ...]:
        return self.image_keys + self.actor_vec_keys

    @property
    def stored_vec_keys(self) -> tuple[str, ...]:
        keys = self.actor_vec_keys + self.critic_vec_keys + ("achieved_goal",) + ((self.aux_key,) if self.aux_key else ())
        return tuple(dict.fromkeys(keys))

    @property
    def aux_dim(self) -> int:
        return sum(stop - start for _, start, stop in self.aux_slices)

    def dim(self, keys) -> int:
        return sum(self.vec_dims[k] for k in keys)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["aux_slices"] = [list(s) for s in self.aux_slices]
        return d


def build_spec(obs_space: spaces.Dict, action_space: spaces.Box, wiring: str, aux: bool,
               state_layout: dict | None = None) -> ObsSpec:
    if not isinstance(obs_space, spaces.Dict):
        raise ConfigError(f"the learner needs a Dict observation space, got {type(obs_space).__name__}")
    keys = set(obs_space.spaces)
    for k in ("achieved_goal", "desired_goal"):
        if k not in keys:
            raise ConfigError(f"the env is not goal-conditioned: observation has no {k!r} (has {sorted(keys)})")
    state_key = "state" if "state" in keys else "observation" if "observation" in keys else None
    if state_key is None:
        raise ConfigError(f"observation has neither 'state' nor 'observation' (has {sorted(keys)})")
    if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
        raise ConfigError(f"the learner needs a 1-D Box action space, got {action_space}")
    if not (np.allclose(action_space.low, -1) and np.allclose(action_space.high, 1)):
        raise ConfigError("the learner's actions are in [-1, 1]: rescale the env's action space first")

    image_keys: tuple[str, ...] = ()
    image_size = 0
    if wiring != "state":
        image_keys = tuple(k for k in IMAGE_KEYS if k in keys)
        if not image_keys:
            raise ConfigError(f"wiring {wiring!r} needs image keys {IMAGE_KEYS} in the observation; "
                              f"has {sorted(keys)} (sim.render_images off?)")
        sizes = set()
        if "rgb" in image_keys:
            sp = obs_space["rgb"]
            if sp.dtype != np.uint8 or len(sp.shape) != 3 or sp.shape[2] != 3:
                raise ConfigError(f"'rgb' must be uint8 HxWx3, got {sp.dtype} {sp.shape}")
            sizes.add(sp.shape[:2])
        if "depth" in image_keys:
            sp = obs_space["depth"]
            if sp.dtype != np.uint16 or len(sp.shape) != 2:
                raise ConfigError(f"'depth' must be uint16 HxW (millimetres), got {sp.dtype} {sp.shape}")
            sizes.add(sp.shape)
        if len(sizes) != 1 or len({*next(iter(sizes))}) != 1:
            raise ConfigError(f"images must be square and the same size, got {sorted(sizes)}")
        image_size = next(iter(sizes))[0]

    proprio = ("proprio",) if "proprio" in keys else ()
    if wiring == "state":
        actor_vec, critic_vec, critic_images = (state_key, "desired_goal"), (state_key, "desired_goal"), False
    elif wiring == "asymmetric":
        actor_vec, critic_vec, critic_images = proprio + ("desired_goal",), (state_key, "desired_goal"), False
    elif wiring == "symmetric":
        actor_vec, critic_vec, critic_images = proprio + ("desired_goal",), proprio + ("desired_goal",), True
    else:
        raise ConfigError(f"unknown wiring {wiring!r}")
    vec_dims = {}
    for k in set(actor_vec + critic_vec + ("achieved_goal", state_key)):
        sp = obs_space[k]
        if len(sp.shape) != 1:
            raise ConfigError(f"observation key {k!r} must be a flat vector, got shape {sp.shape}")
        vec_dims[k] = int(sp.shape[0])

    aux_key, aux_slices = None, ()
    if aux and wiring != "state":
        if state_layout and "ee_pos" in state_layout:
            aux_key = state_key
            aux_slices = tuple((n, state_layout[n].start, state_layout[n].stop)
                               for n in AUX_STATE_FIELDS if n in state_layout)
        else:   # a generic env has no named layout: regress the achieved goal (e.g. the object position)
            aux_key, aux_slices = "achieved_goal", (("achieved_goal", 0, vec_dims["achieved_goal"]),)
    return ObsSpec(wiring=wiring, state_key=state_key, image_keys=image_keys, image_size=image_size,
                   actor_vec_keys=actor_vec, critic_vec_keys=critic_vec, critic_images=critic_images,
                   vec_dims=vec_dims, action_dim=int(action_space.shape[0]), aux_key=aux_key,
                   aux_slices=aux_slices)
