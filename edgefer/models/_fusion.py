"""Edge fusion: Kirsch edges superimposed on feature maps, in the three readings of the paper."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

FUSION_MODES = ("none", "feature", "input")
"""``feature``: Kirsch edges of each fused layer's own maps are added onto those maps.
``input``: Kirsch edges of the input image, resized to each fused layer, added onto every map.
``none``: the plain CNN the paper contrasts with."""


def check_fusion(mode: str) -> str:
    if mode not in FUSION_MODES:
        raise ValueError(f"`fusion` must be one of {', '.join(FUSION_MODES)}; got {mode!r}")
    return mode


class EdgeFusion(nn.Module):
    """Adds Kirsch edges onto feature maps (B, C, H, W): ``x + weight * edges``.

    In ``feature`` mode the edges are those of ``x`` itself (per channel); in ``input`` mode
    they are ``input_edges`` (B, 1, h, w) of the network input, resized bilinearly to (H, W)
    and broadcast over the channels; in ``none`` mode the maps pass unchanged.

    ``eager`` chooses how ``feature`` fusion is computed, for this module only (see
    :func:`set_eager_fusion`, which sets it on a whole model): false (the default),
    :func:`~edgefer.models.layers.kirsch_fuse`, the numba kernel on CPU; true,
    ``x + weight * kirsch_conv(x)`` in plain torch ops. The two give the same values up to
    float rounding. ``eager`` is not part of the weights (``state_dict``).
    """

    def __init__(self, mode: str = "feature", weight: float = 1.0, *, eager: bool = False):
        super().__init__()
        self.mode = check_fusion(mode)
        self.weight = float(weight)
        self.eager = bool(eager)

    def forward(self, x: torch.Tensor, input_edges: torch.Tensor | None = None) -> torch.Tensor:
        if self.mode == "none":
            return x
        if self.mode == "feature":
            if self.eager:
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
        return f"mode={self.mode!r}, weight={self.weight}" + (", eager=True" if self.eager else "")


def set_eager_fusion(model: nn.Module, eager: bool = True) -> nn.Module:
    """Set how every :class:`EdgeFusion` of ``model`` computes ``feature`` fusion; return ``model``.

    A model is prepared this way once, when it is loaded for a use, and the choice belongs to
    that model alone (two models in one process may differ; no global switch).

    Parameters
    ----------
    model : torch.nn.Module
        Any module; those without edge fusion are returned unchanged.
    eager : bool, default True
        True: plain torch ops, ``x + weight * kirsch_conv(x)``. ONNX export needs this form,
        because the fast CPU path of :func:`~edgefer.models.layers.kirsch_fuse` is a custom
        autograd Function over numba kernels that tracing cannot see into (it would record the
        result as a constant), while ``kirsch_conv`` exports as one ``Conv`` and one
        ``ReduceMax``, which ONNX runtimes run fast. For a few crops at a time (a photo, a video
        frame) it is as fast as the kernel and compiles nothing. False: the numba kernel on CPU,
        the fastest for training and large batches (the default of a new model).

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    for module in model.modules():
        if isinstance(module, EdgeFusion):
            module.eager = bool(eager)
    return model


def input_edges(x: torch.Tensor, mode: str) -> torch.Tensor | None:
    """Kirsch edges (B, 1, H, W) of the network input, only when ``mode == "input"``."""
    if mode != "input":
        return None
    from edgefer.models.layers.kirsch import kirsch
    with torch.no_grad():
        return kirsch(x.float()).to(x.dtype)
