"""Edge fusion: Kirsch edges superimposed on feature maps, in the three readings of the paper."""
from __future__ import annotations

import contextlib
import threading

import torch
import torch.nn as nn
import torch.nn.functional as F

FUSION_MODES = ("none", "feature", "input")
"""``feature``: Kirsch edges of each fused layer's own maps are added onto those maps.
``input``: Kirsch edges of the input image, resized to each fused layer, added onto every map.
``none``: the plain CNN the paper contrasts with."""


_eager = threading.local()


@contextlib.contextmanager
def eager_fusion():
    """Within this block, ``feature`` fusion runs as plain torch ops, ``x + weight * kirsch_conv(x)``.

    The fast CPU path of :func:`~edgefer.models.layers.kirsch_fuse` is a custom autograd
    Function over numba kernels, which tracing (ONNX export) cannot see into: it would record
    the result as a constant. The eager path computes the same values (up to float rounding)
    as a convolution with the 8 compass masks and a max, which ONNX runtimes run fast.
    """
    before = getattr(_eager, "on", False)
    _eager.on = True
    try:
        yield
    finally:
        _eager.on = before


def check_fusion(mode: str) -> str:
    if mode not in FUSION_MODES:
        raise ValueError(f"`fusion` must be one of {', '.join(FUSION_MODES)}; got {mode!r}")
    return mode


class EdgeFusion(nn.Module):
    """Adds Kirsch edges onto feature maps (B, C, H, W): ``x + weight * edges``.

    In ``feature`` mode the edges are those of ``x`` itself (per channel); in ``input`` mode
    they are ``input_edges`` (B, 1, h, w) of the network input, resized bilinearly to (H, W)
    and broadcast over the channels; in ``none`` mode the maps pass unchanged.
    """

    def __init__(self, mode: str = "feature", weight: float = 1.0):
        super().__init__()
        self.mode = check_fusion(mode)
        self.weight = float(weight)

    def forward(self, x: torch.Tensor, input_edges: torch.Tensor | None = None) -> torch.Tensor:
        if self.mode == "none":
            return x
        if self.mode == "feature":
            if getattr(_eager, "on", False):
                from edgefer.models.layers.kirsch import kirsch_conv
                return x + self.weight * kirsch_conv(x)
            from edgefer.models.layers.kirsch import kirsch_fuse
            return kirsch_fuse(x, self.weight)
        if input_edges is None:
            raise ValueError("input fusion needs `input_edges` (B, 1, H, W)")
        e = input_edges
        if e.shape[-2:] != x.shape[-2:]:
            e = F.interpolate(e, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x + self.weight * e.to(x.dtype)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, weight={self.weight}"


def input_edges(x: torch.Tensor, mode: str) -> torch.Tensor | None:
    """Kirsch edges (B, 1, H, W) of the network input, only when ``mode == "input"``."""
    if mode != "input":
        return None
    from edgefer.models.layers.kirsch import kirsch
    with torch.no_grad():
        return kirsch(x.float()).to(x.dtype)
