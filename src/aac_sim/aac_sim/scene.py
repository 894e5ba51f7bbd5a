"""PyBullet scene: low-poly Panda render model, table, floor, block. No task logic here."""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

import cv2
import numpy as np
import pybullet as p

from aac_robot.motion import GRIPPER_MAX_WIDTH  # noqa: F401 (re-exported for the sim's modules)
from aac_robot.panda import (ARM_JOINTS, EE_DOWN_QUAT, EE_LINK, FINGER_JOINTS, NEUTRAL_ARM_Q,  # noqa: F401
                             PandaIK, cache_dir, load_panda, panda_urdf)

from .config import TEXTURE_BANK_NAMES

ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
FINGER_FORCE = 40.0

from aac_robot.panda import TABLE_CENTER, TABLE_HALF  # noqa: E402 (top surface at z = 0, robot base on it)
FLOOR_Z = -0.4

NOMINAL_COLORS = {
    "table": (0.55, 0.42, 0.30, 1.0),
    "floor": (0.35, 0.35, 0.38, 1.0),
    "object": (0.85, 0.15, 0.10, 1.0),
    "robot": (0.92, 0.92, 0.92, 1.0),
    "robot_dark": (0.25, 0.25, 0.28, 1.0),
}


TEXTURE_SIZE = 256
# Procedural texture banks (domain randomization `textures`): the content of texture i of a bank is a
# fixed function of (bank, i), written once as a PNG into the cache dir and loaded once per PyBullet
# client. Two disjoint banks: `train` (what training randomizes over) and `heldout` (the evaluation's
# held-out condition: the original 8 textures, pixel for pixel, so earlier evaluation numbers stay
# comparable). Seeds never overlap (held-out 1000 + i, train 5000 + i) and the train kinds use their
# own scales, angles and offsets; tests/test_sim_randomization.py checks no pair is a copy or a recolour.
# On a GEOM_BOX TinyRenderer maps about a quarter of the texture (in u and v) onto each face: the camera
# sees a fifth to a quarter of the 1.15 x 1.0 m table top, and the block shows a patch of a few cells.
TEXTURE_KINDS = ("checker", "checker", "checker", "stripes", "stripes", "noise", "noise", "grid")  # held-out bank
TRAIN_TEXTURE_KINDS = ("checker", "stripes", "noise", "tiles", "wood", "weave", "terrazzo", "marble")
TEXTURE_BANKS = {"train": 64, "heldout": len(TEXTURE_KINDS), "train_large": 512, "train_contrast": 512}
assert tuple(TEXTURE_BANKS) == TEXTURE_BANK_NAMES
NUM_TEXTURES = TEXTURE_BANKS["heldout"]   # size of the held-out bank
# The generator behind each bank: `train_large` continues `train` (its first 64 textures are train's, the
# same files), so a run can widen its training bank without a second family of textures to check.
# `train_contrast` has train's kinds, scales and angles but draws each colour pair over the whole luminance
# contrast range: in `train` two uniform colours rarely differ much in brightness (texture_contrast: 90 % of
# its textures below 0.13, 4 of 64 at 0.15 or more), while the held-out textures a pixel student fails on are
# the highest-contrast ones (held-out 1, 3, 4: 0.26, 0.21, 0.22; bench/README.md, 2026-12-06 b).
_TEXTURE_FAMILY = {"train": "train", "train_large": "train", "heldout": "heldout", "train_contrast": "train_contrast"}
# + index; the ranges never meet (train < 4000 textures, train_contrast < 10000)
_TEXTURE_SEED = {"heldout": 1000, "train": 5000, "train_contrast": 10000}
LUMA = np.array([0.299, 0.587, 0.114])   # Rec. 601 luminance of linear-ish RGB in [0, 1]


def texture_contrast(img: np.ndarray) -> float:
    """Brightness contrast of an RGB uint8 texture: the std of its luminance (0-1)."""
    return float((img / 255.0 @ LUMA).std())


def _value_noise(rng, cells: int, n: int) -> np.ndarray:
    """Smooth random field in [0, 1]: a cells x cells random grid, bilinearly upsampled to n x n."""
    grid = rng.random((cells + 1, cells + 1))
    t = np.linspace(0, cells, n, endpoint=False)
    i = t.astype(int)
    f = t - i
    f = f * f * (3 - 2 * f)   # smoothstep
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def _normalized(w: np.ndarray) -> np.ndarray:
    return (w - w.min()) / max(w.max() - w.min(), 1e-9)


def _blend(c0, c1, w: np.ndarray) -> np.ndarray:
    return c0[None, None] * (1 - w[..., None]) + c1[None, None] * w[..., None]


def _two_colours(rng: np.random.Generator, min_l1: float) -> tuple[np.ndarray, np.ndarray]:
    """A pattern's two colours, kept at least `min_l1` apart (sum over RGB) so the pattern shows."""
    c0, c1 = rng.uniform(0.05, 0.95, size=(2, 3))
    if np.abs(c0 - c1).sum() < min_l1:
        c1 = 1.0 - c0
    return c0, c1


# per-channel distance under which a training colour pair counts as a held-out texture's (either order)
HELDOUT_COLOUR_MARGIN = 0.25


def _near_heldout_colours(c0: np.ndarray, c1: np.ndarray) -> bool:
    for h0, h1 in _HELDOUT_COLOURS:
        for a, b in ((h0, h1), (h1, h0)):
            if max(np.abs(c0 - a).max(), np.abs(c1 - b).max()) < HELDOUT_COLOUR_MARGIN:
                return True
    return False


def _heldout_texture(index: int, n: int) -> np.ndarray:
    """The original 8 textures (seed 1000 + index): do not change, evaluation numbers depend on them."""
    rng = np.random.default_rng(_TEXTURE_SEED["heldout"] + index)
    c0, c1 = _two_colours(rng, min_l1=0.9)
    y, x = np.mgrid[0:n, 0:n] / n
    kind = TEXTURE_KINDS[index]
    if kind == "checker":
        cells = (6, 12, 20)[index % 3]
        w = ((np.floor(x * cells) + np.floor(y * cells)) % 2)
    elif kind == "stripes":
        period = (1 / 24, 1 / 20)[index % 2]
        u = y if index % 2 else (x + y) / np.sqrt(2)   # straight or diagonal stripes
        w = (np.floor(u / period) % 2)
    elif kind == "noise":
        w = 0.6 * _value_noise(rng, 16, n) + 0.4 * _value_noise(rng, 48, n)
        w = (w - w.min()) / max(w.max() - w.min(), 1e-9)
    else:   # grid: thin lines on a plain background (tiles)
        cells = 24
        w = ((np.abs((x * cells) % 1 - 0.5) > 0.42) | (np.abs((y * cells) % 1 - 0.5) > 0.42)).astype(float)
    return _blend(c0, c1, w)


_HELDOUT_COLOURS = tuple(_two_colours(np.random.default_rng(_TEXTURE_SEED["heldout"] + i), min_l1=0.9)
                         for i in range(len(TEXTURE_KINDS)))


def _contrast_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A colour pair whose luminance differs by 0.05-0.9 (uniform), hues random: the brightness contrast
    of a two-colour texture spread over the whole range instead of mostly near 0."""
    dl = rng.uniform(0.05, 0.9)
    lo = rng.uniform(0.03, 0.97 - dl)
    pair = []
    for target in rng.permutation([lo, lo + dl]):
        c = rng.uniform(0.0, 1.0, size=3)
        pair.append(np.clip(c + (target - c @ LUMA), 0.0, 1.0))   # shift to the target luminance
    return pair[0], pair[1]


def _train_texture(index: int, n: int, family: str = "train") -> np.ndarray:
    """Training texture `index` (seed 5000 + index; `train_contrast`: 10000 + index): kind by index, colours,
    scales, angle, offset random. Scales are log-uniform from about the held-out ones (which show 0.5-1.5
    pattern periods in the policy view of the table, ~1/16 of the texture's width) to a few times finer
    (up to ~5 periods in view)."""
    rng = np.random.default_rng(_TEXTURE_SEED[family] + index)
    logu = lambda lo, hi: float(np.exp(rng.uniform(np.log(lo), np.log(hi))))  # noqa: E731
    kind = TRAIN_TEXTURE_KINDS[index % len(TRAIN_TEXTURE_KINDS)]
    draw = _contrast_colours if family == "train_contrast" else lambda r: _two_colours(r, min_l1=0.6)
    c0, c1 = draw(rng)
    # Beyond train's 64 (fixed: results depend on them, and the overlap test checks them one by one) a
    # texture never takes a held-out texture's colour pair: same colours in another pattern gave colour
    # histograms as close as a moved copy's. Redrawn from the texture's own stream, so still deterministic.
    while (family != "train" or index >= TEXTURE_BANKS["train"]) and _near_heldout_colours(c0, c1):
        c0, c1 = draw(rng)
    y, x = np.mgrid[0:n, 0:n] / n
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle) + rng.uniform(0, 1)    # rotated, shifted coordinates
    v = -x * np.sin(angle) + y * np.cos(angle) + rng.uniform(0, 1)
    if kind == "checker":
        cells = logu(5, 64)
        w = (np.floor(u * cells) + np.floor(v * cells * rng.uniform(0.7, 1.4))) % 2
    elif kind == "stripes":
        period = 1 / logu(12, 80)
        duty = rng.uniform(0.25, 0.75)
        w = ((u / period) % 1 < duty).astype(float)
    elif kind == "noise":
        a, b = int(logu(6, 32)), int(logu(32, 100))
        w = _normalized(0.6 * _value_noise(rng, a, n) + 0.4 * _value_noise(rng, b, n))
    elif kind == "tiles":   # grout lines, square tiles or bricks (every other row offset by half a tile)
        cells = logu(8, 48)
        aspect = rng.choice([1.0, 2.0])
        grout = rng.uniform(0.04, 0.12)
        row = np.floor(v * cells)
        uu = u * cells / aspect + (0.5 * (row % 2) if aspect > 1 else 0.0)
        w = (((uu % 1) < grout) | (((v * cells) % 1) < grout * aspect)).astype(float)
        w = np.maximum(w, 0.25 * _value_noise(rng, 32, n))   # a little variation over the tiles
    elif kind == "wood":   # growth rings of a log cut lengthwise: far-off centre, distorted by noise
        cx, cy = rng.uniform(-2, 3), rng.uniform(3, 6)
        r = np.hypot((u - cx) * rng.uniform(0.1, 0.3), v - cy) + rng.uniform(0.02, 0.08) * _value_noise(rng, 6, n)
        rings = (r * logu(20, 90)) % 1
        w = 0.75 * rings ** rng.uniform(1.5, 4) + 0.25 * _value_noise(rng, 96, n)   # + fine grain
        c1 = c0 * rng.uniform(0.35, 0.7)   # darker late wood of the same hue
    elif kind == "weave":   # basket weave: cells alternate horizontal / vertical threads
        cells = logu(8, 28)
        threads = int(rng.integers(2, 5))
        horizontal = (np.floor(u * cells) + np.floor(v * cells)) % 2
        t = np.where(horizontal > 0, v, u) * cells * threads
        w = 0.5 + 0.5 * np.cos(2 * np.pi * t)
        w = 0.8 * w + 0.2 * _value_noise(rng, 64, n)
    elif kind == "terrazzo":   # chips of 2-3 colours on a plain background
        palette = rng.uniform(0.05, 0.95, size=(int(rng.integers(2, 4)), 3))
        img = np.broadcast_to(c0, (n, n, 3)).copy()
        r_lo, r_hi = rng.uniform(0.002, 0.006), rng.uniform(0.008, 0.02)
        for _ in range(int(rng.integers(400, 1200))):
            cx, cy, rad = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(r_lo, r_hi)
            i0, i1 = max(int((cy - rad) * n), 0), min(int((cy + rad) * n) + 2, n)
            j0, j1 = max(int((cx - rad) * n), 0), min(int((cx + rad) * n) + 2, n)
            inside = (x[i0:i1, j0:j1] - cx) ** 2 + (y[i0:i1, j0:j1] - cy) ** 2 < rad * rad
            img[i0:i1, j0:j1][inside] = palette[rng.integers(len(palette))]
        return img
    else:   # marble: thin dark veins along a turbulent sine
        turbulence = 0.5 * _value_noise(rng, 8, n) + 0.3 * _value_noise(rng, 20, n) + 0.2 * _value_noise(rng, 48, n)
        s = np.sin(2 * np.pi * (u * logu(4, 16) + rng.uniform(2, 6) * turbulence))
        w = 1 - np.abs(s) ** rng.uniform(0.15, 0.4)
        c0 = 0.55 + 0.4 * c0   # light stone
    return _blend(c0, c1, np.clip(w, 0.0, 1.0))


def make_texture(index: int, bank: str = "heldout", n: int = TEXTURE_SIZE) -> np.ndarray:
    """Texture `index` of `bank` ("train" or "heldout") as an n x n x 3 uint8 RGB image (deterministic)."""
    if bank not in TEXTURE_BANKS:
        raise ValueError(f"unknown texture bank {bank!r}; choose one of {list(TEXTURE_BANKS)}")
    if not 0 <= index < TEXTURE_BANKS[bank]:
        raise ValueError(f"{bank} texture index must be in [0, {TEXTURE_BANKS[bank]}), got {index}")
    family = _TEXTURE_FAMILY[bank]
    img = _heldout_texture(index, n) if family == "heldout" else _train_texture(index, n, family)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


_texture_file_memo: dict[tuple[str, int, str], str] = {}


def texture_file(bank: str, index: int) -> str:
    """PNG path of texture `index` of `bank`, generated into the cache dir on first use (content-addressed;
    remembered per process and cache dir, so later calls do not regenerate the image)."""
    if bank not in TEXTURE_BANKS:
        raise ValueError(f"unknown texture bank {bank!r}; choose one of {list(TEXTURE_BANKS)}")
    family = _TEXTURE_FAMILY[bank]
    out_dir = cache_dir() / "textures"
    key = (family, index, str(out_dir))
    if key in _texture_file_memo and os.path.exists(_texture_file_memo[key]):
        return _texture_file_memo[key]
    img = make_texture(index, bank)
    digest = hashlib.sha1(img.tobytes()).hexdigest()[:12]
    prefix = "texture" if family == "heldout" else f"texture_{family}"   # held-out names as before
    out = out_dir / f"{prefix}_{index}_{digest}.png"
    if not out.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".png")   # several workers may get here at once
        os.close(fd)
        if not cv2.imwrite(tmp, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            os.unlink(tmp)
            raise OSError(f"could not write texture {tmp}")
        os.replace(tmp, out)
    _texture_file_memo[key] = str(out)
    return str(out)


def texture_files(bank: str = "heldout") -> tuple[str, ...]:
    """PNG paths of a whole texture bank (see texture_file)."""
    if bank not in TEXTURE_BANKS:
        raise ValueError(f"unknown texture bank {bank!r}; choose one of {list(TEXTURE_BANKS)}")
    return tuple(texture_file(bank, i) for i in range(TEXTURE_BANKS[bank]))


def load_texture(client: int, bank: str, index: int) -> int:
    """Load texture `index` of `bank` into a PyBullet client; returns its texture id. The env loads a
    texture on its first use: a 512-texture bank would take ~100 MB of renderer memory per client and
    ~8 s to generate if loaded whole."""
    return p.loadTexture(texture_file(bank, index), physicsClientId=client)


@dataclass
class SceneIds:
    client: int
    robot: int
    table: int
    floor: int
    arm_joints: tuple[int, ...]
    finger_joints: tuple[int, ...]
    ee_link: int
    robot_links: tuple[int, ...]      # links with a visual shape (-1 = base)
    robot_dark_links: tuple[int, ...]


def _box(client: int, half, pos, color, mass: float = 0.0, collision: bool = True) -> int:
    vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=color, physicsClientId=client)
    col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client) if collision else -1
    return p.createMultiBody(baseMass=mass, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                             basePosition=pos, physicsClientId=client)


def build_scene(client: int, render_model: str, physics_dt: float) -> SceneIds:
    """Create the static scene and the robot in an empty PyBullet client."""
    p.setPhysicsEngineParameter(fixedTimeStep=physics_dt, numSolverIterations=50, physicsClientId=client)
    p.setGravity(0, 0, -9.81, physicsClientId=client)
    floor = _box(client, (3.0, 3.0, 0.01), (0.0, 0.0, FLOOR_Z - 0.01), NOMINAL_COLORS["floor"])
    table = _box(client, TABLE_HALF, TABLE_CENTER, NOMINAL_COLORS["table"])
    panda = load_panda(client, render_model)
    robot, arm, fingers, links = panda.robot, panda.arm_joints, panda.finger_joints, panda.links
    for j in fingers:
        p.changeDynamics(robot, j, lateralFriction=1.5, spinningFriction=0.002, physicsClientId=client)
    visual_links = tuple(sorted({v[1] for v in p.getVisualShapeData(robot, physicsClientId=client)}))
    dark = tuple(links[n] for n in ("panda_leftfinger", "panda_rightfinger") if links[n] in visual_links)
    return SceneIds(client, robot, table, floor, arm, fingers, links[EE_LINK], visual_links, dark)


def make_block(client: int, size: float, mass: float, friction: float, color) -> int:
    half = (size / 2,) * 3
    body = _box(client, half, (0.5, 0.0, size / 2), color, mass=mass)
    p.changeDynamics(body, -1, lateralFriction=friction, spinningFriction=0.002, rollingFriction=0.0001,
                     physicsClientId=client)
    return body


def reset_robot(scene: SceneIds, arm_q=NEUTRAL_ARM_Q, width: float = GRIPPER_MAX_WIDTH) -> None:
    c = scene.client
    for j, q in zip(scene.arm_joints, arm_q):
        p.resetJointState(scene.robot, j, q, 0.0, physicsClientId=c)
    for j in scene.finger_joints:
        p.resetJointState(scene.robot, j, width / 2, 0.0, physicsClientId=c)
    command_joints(scene, arm_q, width)


def command_joints(scene: SceneIds, arm_q, width: float) -> None:
    c = scene.client
    p.setJointMotorControlArray(scene.robot, scene.arm_joints, p.POSITION_CONTROL, targetPositions=list(arm_q),
                                forces=ARM_FORCES, physicsClientId=c)
    p.setJointMotorControlArray(scene.robot, scene.finger_joints, p.POSITION_CONTROL,
                                targetPositions=[width / 2] * 2, forces=[FINGER_FORCE] * 2, physicsClientId=c)
