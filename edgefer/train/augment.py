"""Batched augmentation on tensors (no per-image Python loop): affine jitter, flips, erasing."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTS = ("none", "flip", "standard", "strong")


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Randomly transform a batch (B, 1, H, W); draws only from ``generator`` (reproducible).

    ``flip``: horizontal flips. ``standard``: flips, rotation within +-10 degrees, scale 0.9-1.1,
    shifts up to 10% of the side. ``strong``: ``standard`` plus random erasing of one patch.
    """
    if mode == "none":
        return x
    if mode not in AUGMENTS:
        raise ValueError(f"`augment` must be one of {', '.join(AUGMENTS)}; got {mode!r}")
    b = x.shape[0]
    g = generator

    def u(lo, hi):
        return torch.rand(b, generator=g) * (hi - lo) + lo

    flip = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0)
    if mode == "flip":
        return torch.where(flip.view(b, 1, 1, 1) < 0, x.flip(-1), x)
    ang = u(-10, 10) * math.pi / 180
    scale = u(0.9, 1.1)
    tx, ty = u(-0.2, 0.2), u(-0.2, 0.2)  # normalized coords: 0.2 = 10% of the side
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1),
                         torch.stack([sin * flip, cos, ty], 1)], 1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if mode == "strong":
        h, w = x.shape[-2:]
        eh = (u(0.1, 0.4) * h).long()
        ew = (u(0.1, 0.4) * w).long()
        y0 = (torch.rand(b, generator=g) * (h - eh)).long()
        x0 = (torch.rand(b, generator=g) * (w - ew)).long()
        keep = torch.rand(b, generator=g) < 0.5
        rows = torch.arange(h).view(1, h, 1)
        cols = torch.arange(w).view(1, 1, w)
        mask = ((rows >= y0.view(b, 1, 1)) & (rows < (y0 + eh).view(b, 1, 1))
                & (cols >= x0.view(b, 1, 1)) & (cols < (x0 + ew).view(b, 1, 1))
                & ~keep.view(b, 1, 1))
        out = out.masked_fill(mask.unsqueeze(1), 0.0)
    return out
