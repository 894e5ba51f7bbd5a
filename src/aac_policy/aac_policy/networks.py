"""Networks: pixel actor, state actor, state critic (asymmetric), pixel critic (symmetric baseline).

Inputs arrive already normalized: vectors by `RunningNorm`, images by `image_tensor` (RGB in
[0, 1], depth in metres / DEPTH_RANGE_M clipped to [0, 1], channels first, channels_last memory).
The same functions run inside the exported actor, so training and deployment see the same numbers.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTH_RANGE_M = 2.0        # depth input = clip(depth_mm / 1000, 0, DEPTH_RANGE_M) / DEPTH_RANGE_M; 0 = no reading
NORM_CLIP = 5.0


class RunningNorm(nn.Module):
    """Running mean / std of a vector input (as in HER's normalizer); clipped z-scores."""

    def __init__(self, dim: int, eps: float = 1e-2):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.eps = eps

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, self.mean.numel()).double()
        n = x.shape[0]
        if n == 0:
            return
        bmean, bvar = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = bmean - self.mean.double()
        mean = self.mean.double() + delta * n / total
        m2 = self.var.double() * self.count + bvar * n + delta.pow(2) * self.count * n / total
        self.mean.copy_(mean.float())
        self.var.copy_((m2 / total).float())
        self.count.fill_(float(total))

    def std(self) -> torch.Tensor:
        return torch.sqrt(self.var + self.eps * self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp((x - self.mean) / self.std(), -NORM_CLIP, NORM_CLIP)


def image_tensor(rgb: Optional[torch.Tensor], depth: Optional[torch.Tensor]) -> torch.Tensor:
    """(B,H,W,3) RGB 0..255 and/or (B,H,W) depth in mm (any numeric dtype) -> (B,C,H,W) float.

    Built directly in channels-last memory (the conv stack runs ~1.5x faster that way on CPU):
    the (B,H,W,C) float tensor viewed as NCHW needs no copy. Filling one preallocated tensor is
    2x faster than converting the parts and concatenating them.
    """
    ref = rgb if rgb is not None else depth
    assert ref is not None, "image_tensor needs rgb and/or depth"
    c = (3 if rgb is not None else 0) + (1 if depth is not None else 0)
    out = torch.empty((ref.shape[0], ref.shape[1], ref.shape[2], c), dtype=torch.float32, device=ref.device)
    i = 0
    if rgb is not None:
        out[:, :, :, 0:3].copy_(rgb)
        out[:, :, :, 0:3].mul_(1.0 / 255.0)
        i = 3
    if depth is not None:
        # DEPTH_RANGE_M = 2.0, written as literals so that TorchScript can compile this function
        out[:, :, :, i].copy_(depth)
        out[:, :, :, i].mul_(0.001 / 2.0).clamp_(0.0, 1.0)
    return out.permute(0, 3, 1, 2)


def image_tensor_plain(rgb: Optional[torch.Tensor], depth: Optional[torch.Tensor]) -> torch.Tensor:
    """`image_tensor`'s numbers (bit for bit; tests/test_onnx_export.py) from plain ops: cast, scale, clamp,
    concat, permute. The exported deploy module runs this one: image_tensor's in-place writes into slices
    of a preallocated tensor trace to ~200 ONNX shape / scatter ops, which cost ONNX Runtime more than the
    convolutions do (bench/README.md, 2026-12-01 session 2)."""
    parts = []
    if rgb is not None:
        parts.append(rgb.float() * (1.0 / 255.0))
    if depth is not None:
        # DEPTH_RANGE_M = 2.0, as in image_tensor
        parts.append((depth.float() * (0.001 / 2.0)).clamp(0.0, 1.0).unsqueeze(-1))
    assert parts, "image_tensor_plain needs rgb and/or depth"
    return torch.cat(parts, dim=-1).permute(0, 3, 1, 2)


def random_shift(imgs: list[np.ndarray], pad: int, rng: np.random.Generator) -> list[np.ndarray]:
    """DrQ augmentation on raw (B,H,W,...) image batches: shift each sample by a random integer
    offset in [-pad, pad], replicating the border (= replicate-pad + random crop). All images of
    one sample (RGB and depth) get the same shift. Done on the uint8/uint16 arrays before the
    float conversion, with one slice copy per sample: 3 ms for a 256 x 84x84 RGB-D batch, against
    9 ms for the same gather as one advanced-indexing op in torch."""
    if pad <= 0:
        return imgs
    b, h, w = imgs[0].shape[:3]
    dy = rng.integers(0, 2 * pad + 1, b)
    dx = rng.integers(0, 2 * pad + 1, b)
    out = []
    for x in imgs:
        padded = np.pad(x, [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (x.ndim - 3), mode="edge")
        y = np.empty_like(x)
        for i in range(b):
            y[i] = padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out.append(y)
    return out


def color_jitter(images: torch.Tensor, strength: float, rng: np.random.Generator) -> torch.Tensor:
    """RGB jitter of a (B,C,H,W) image batch from `image_tensor` (RGB in channels 0-2, 0..1), in place:
    per sample and channel x * gain + offset, gain in [1-s, 1+s], offset in [-s/2, s/2], clipped to [0, 1].
    Depth (channel 3) is left alone. Drawn from `rng` (the agent's augmentation stream: a resumed run
    jitters exactly as an uninterrupted one)."""
    b = images.shape[0]
    gain = torch.from_numpy(rng.uniform(1 - strength, 1 + strength, (b, 3, 1, 1)).astype(np.float32))
    offset = torch.from_numpy(rng.uniform(-strength / 2, strength / 2, (b, 3, 1, 1)).astype(np.float32))
    rgb = images[:, 0:3]
    rgb.mul_(gain.to(images.device)).add_(offset.to(images.device)).clamp_(0.0, 1.0)
    return images


def random_conv(images: torch.Tensor, prob: float, rng: np.random.Generator) -> torch.Tensor:
    """Network randomization (Lee et al. 2020; RAD's random_conv) of a (B,C,H,W) batch from `image_tensor`,
    in place: each sample with probability `prob` gets its RGB (channels 0-2, 0..1) replaced by a 3x3
    convolution 3 -> 3 with its own Xavier-normal weights (std sqrt(2 / (fan_in + fan_out)) = sqrt(1/27)),
    replicate-padded and clipped to [0, 1]. Depth is left alone. Drawn from `rng` (the agent's
    augmentation stream: a resumed run draws exactly as an uninterrupted one)."""
    b, _, h, w = images.shape
    chosen = np.flatnonzero(rng.random(b) < prob)
    if chosen.size == 0:
        return images
    n = chosen.size
    weights = torch.from_numpy(rng.normal(0.0, np.sqrt(2.0 / (27 + 27)), (n * 3, 3, 3, 3)).astype(np.float32))
    idx = torch.from_numpy(chosen).to(images.device)
    rgb = images[idx, 0:3].reshape(1, n * 3, h, w)   # one grouped conv: a kernel per sample
    out = F.conv2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), weights.to(images.device, images.dtype), groups=n)
    images[idx, 0:3] = out.reshape(n, 3, h, w).clamp_(0.0, 1.0)
    return images


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 3) -> nn.Sequential:
    mods, d = [], in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


class ImageEncoder(nn.Module):
    """Strided conv stack (8x8/4, 4x4/2, 3x3/1) -> linear -> LayerNorm -> tanh.

    Measured on 2 CPU threads at batch 256, 84x84 RGB-D: 42 ms per forward+backward+Adam step
    (DrQ's 4x32 stack with only the first layer strided: 550 ms). See bench/learner_speed.py.
    """

    def __init__(self, in_channels: int, image_size: int, feature_dim: int):
        super().__init__()
        pad = (2, 1, 1) if image_size < 36 else (0, 0, 0)   # small images (tests, 16-32 px) need padding
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4, padding=pad[0]), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=pad[1]), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1, padding=pad[2]), nn.ReLU(),
            nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.to(memory_format=torch.channels_last)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(img))


class StateActor(nn.Module):
    """MLP on (normalized) vector inputs -> action in [-1, 1]."""

    def __init__(self, vec_dim: int, action_dim: int, hidden: int):
        super().__init__()
        self.net = mlp(vec_dim, hidden, action_dim)

    def forward(self, vec: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(vec))


class PixelActor(nn.Module):
    """Conv encoder on RGB-D + MLP on proprio/goal -> action; optional auxiliary regression head
    that predicts privileged low-dimensional quantities from the image features (Pinto et al.)."""

    def __init__(self, in_channels: int, image_size: int, vec_dim: int, action_dim: int,
                 hidden: int, feature_dim: int, aux_dim: int = 0):
        super().__init__()
        self.encoder = ImageEncoder(in_channels, image_size, feature_dim)
        self.policy = mlp(feature_dim + vec_dim, hidden, action_dim)
        self.aux = nn.Linear(feature_dim, aux_dim) if aux_dim > 0 else None

    def act(self, img: torch.Tensor, vec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.encoder(img)
        return torch.tanh(self.policy(torch.cat([feat, vec], dim=-1))), feat

    def forward(self, img: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
        return self.act(img, vec)[0]


class StateCritic(nn.Module):
    """Q(s, g, a) on vector inputs; `n` heads (2 for TD3's twin critics)."""

    def __init__(self, vec_dim: int, action_dim: int, hidden: int, n: int):
        super().__init__()
        self.qs = nn.ModuleList(mlp(vec_dim + action_dim, hidden, 1) for _ in range(n))

    def forward(self, vec: torch.Tensor, action: torch.Tensor, img: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = torch.cat([vec, action], dim=-1)
        return [q(x).squeeze(-1) for q in self.qs]


class PixelCritic(nn.Module):
    """Symmetric baseline: Q(image, proprio, goal, a) with its own image encoder shared by the heads."""

    def __init__(self, in_channels: int, image_size: int, vec_dim: int, action_dim: int,
                 hidden: int, feature_dim: int, n: int):
        super().__init__()
        self.encoder = ImageEncoder(in_channels, image_size, feature_dim)
        self.qs = nn.ModuleList(mlp(feature_dim + vec_dim + action_dim, hidden, 1) for _ in range(n))

    def forward(self, vec: torch.Tensor, action: torch.Tensor, img: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = torch.cat([self.encoder(img), vec, action], dim=-1)
        return [q(x).squeeze(-1) for q in self.qs]


_LUMA = (0.299, 0.587, 0.114)


def _smooth(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N,C,H,W) maps averaged over k x k cells and bilinearly resampled back: a blur at a fraction of a
    stride-1 pooling's cost (CPU avg_pool2d with stride 1 is slow)."""
    return F.interpolate(F.avg_pool2d(x, k, k, ceil_mode=True), size=x.shape[-2:], mode="bilinear",
                         align_corners=False)


def _texture_views(bank: torch.Tensor, n: int, h: int, w: int, rng: np.random.Generator) -> torch.Tensor:
    """n random views (n,3,h,w) of random textures of `bank` (N,3,S,S): a square of 0.15 to 0.6 of the texture's
    side, turned by a random angle, kept inside the texture, bilinearly resampled."""
    which = torch.from_numpy(rng.integers(0, bank.shape[0], n))
    scale = rng.uniform(0.15, 0.6, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    # a turned square of half-side `scale` reaches scale * sqrt(2) from its centre: the view stays in the texture
    shift = rng.uniform(-1.0, 1.0, (n, 2)) * (1.0 - np.sqrt(2.0) * scale)[:, None]
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    # F.affine_grid's sampling grid (align_corners=False), written out: its batched 3x2 matmul is ~5x slower
    dev = bank.device
    col = lambda v: torch.from_numpy(v.astype(np.float32)).to(dev).view(n, 1, 1)  # noqa: E731
    x = ((torch.arange(w, device=dev, dtype=torch.float32) * 2 + 1) / w - 1).view(1, 1, w)
    y = ((torch.arange(h, device=dev, dtype=torch.float32) * 2 + 1) / h - 1).view(1, h, 1)
    grid = torch.stack([col(cos) * x - col(sin) * y + col(shift[:, 0]),
                        col(sin) * x + col(cos) * y + col(shift[:, 1])], dim=-1)
    return F.grid_sample(bank[which], grid, mode="bilinear", padding_mode="border", align_corners=False)


def retexture(images: torch.Tensor, seg: torch.Tensor, prob: float, bank: torch.Tensor,
              surfaces: tuple[tuple[int, ...], ...], rng: np.random.Generator, shade_cell: int = 6) -> torch.Tensor:
    """Segmentation-guided re-texturing ("green-screen" augmentation) of a (B,C,H,W) batch from `image_tensor`,
    in place: each sample with probability `prob` gets, for each surface of `surfaces` (the labels it covers
    in `seg`, (B,H,W)), its pixels replaced by a random view of a random texture of `bank` (N,3,S,S float in
    0..1, on the images' device; see _texture_views). The new colour is shaded by the original's brightness on the same surface
    averaged over `shade_cell`-pixel cells (lighting gradients, soft shadows and the block's lit and shaded
    faces stay; the old texture's fine pattern goes) relative to its mean over the surface. Depth (channel 3)
    is left alone. Drawn from `rng` (a resumed run draws exactly as an uninterrupted one). The surfaces are
    composed into one texture and one shading map first, so the full-size RGB passes are few (this runs on
    every training batch)."""
    b, _, h, w = images.shape
    chosen = np.flatnonzero(rng.random(b) < prob)
    if chosen.size == 0 or not surfaces:
        return images
    n, k, dev = chosen.size, len(surfaces), images.device
    idx = torch.from_numpy(chosen).to(dev)
    rgb = images[idx, 0:3]
    lut = torch.zeros(256, dtype=torch.uint8, device=dev)   # label -> 1 + its surface's index (0: left alone)
    for j, labels in enumerate(surfaces):
        lut[list(labels)] = j + 1
    which_surface = lut[seg[idx].to(dev).long()].unsqueeze(1)            # (n,1,h,w)
    masks = [which_surface == j + 1 for j in range(k)]
    lum = (rgb * torch.tensor(_LUMA, device=dev).view(1, 3, 1, 1)).sum(1, keepdim=True)
    mf = torch.cat(masks, 1).to(rgb.dtype)                               # (n,k,h,w)
    local = _smooth(torch.cat([lum * mf, mf], 1), shade_cell)            # one pass for every surface
    local = local[:, :k] / local[:, k:].clamp_min(1e-3)
    mean = (lum * mf).sum((2, 3), keepdim=True) / mf.sum((2, 3), keepdim=True).clamp_min(1.0)
    shades = (local / mean.clamp_min(1e-3)).clamp_(0.25, 1.5)
    views = _texture_views(bank, n * k, h, w, rng).view(k, n, 3, h, w)
    tex, shade = views[0], shades[:, :1]
    for j in range(1, k):
        tex = torch.where(masks[j], views[j], tex)
        shade = torch.where(masks[j], shades[:, j:j + 1], shade)
    out = torch.where(which_surface > 0, tex * shade, rgb)
    images[idx, 0:3] = out.clamp_(0.0, 1.0)
    return images
