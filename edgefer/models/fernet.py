"""FERNet: the shipped model's family, a VGG-style CNN with batch norm and optional edge fusion.

Built for accuracy on FER-2013 at its native 48x48 within a 2-core CPU's training budget:
stages of 3x3 convolutions with batch norm and ReLU, max-pooling between stages, dropout and a
global-average-pooled head. ``block="residual"`` pairs a stage's convolutions into ResNet basic
blocks (an identity or 1x1-projection shortcut around each pair) for ensemble members that differ
from the plain ones in architecture, not only in seed. Kirsch edge fusion (the paper's idea) is applied after the first
stage's activations, where maps still have the input's resolution; ``fusion="none"`` is the
ablation.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from edgefer.labels import NUM_CLASSES
from edgefer.models._fusion import EdgeFusion, check_fusion, input_edges
from edgefer.models._registry import register_model


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a shortcut (ResNet's basic block, stride 1): relu(f(x) + s(x)).

    The shortcut is the identity when the channels match and a 1x1 conv-BN otherwise; the second
    batch norm starts at zero, so that each block starts as its shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(cout))
        nn.init.zeros_(self.body[-1].weight)
        self.shortcut = nn.Identity() if cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def _stage(cin: int, width: int, depth: int, block: str) -> nn.Sequential:
    """``depth`` 3x3 convolutions from ``cin`` to ``width`` channels: one after another
    (``plain``), or in basic blocks of two (``residual``; an odd one out comes first, plain)."""
    layers = []
    if block == "plain" or depth == 1:
        for _ in range(depth):
            layers.append(_conv_bn(cin, width))
            cin = width
        return nn.Sequential(*layers)
    if depth % 2:
        layers.append(_conv_bn(cin, width))
        cin = width
    for _ in range(depth // 2):
        layers.append(_BasicBlock(cin, width))
        cin = width
    return nn.Sequential(*layers)


BLOCKS = ("plain", "residual")


class FERNet(nn.Module):
    """VGG-style (or, with ``block="residual"``, ResNet-style) network: ``widths[i]`` channels in stage i, ``depths[i]`` convolutions each.

    Parameters
    ----------
    input_size : side of the square gray input (48 for FER-2013).
    widths, depths : channels and number of 3x3 convolutions per stage; a 2x2 max-pool
        follows every stage but the last.
    fusion : ``feature``, ``input`` or ``none``; applied after stage 1.
    fusion_weight : scale of the superimposed edges.
    dropout : before the classifier.
    block : ``plain`` (VGG) or ``residual`` (a stage's convolutions in ResNet basic blocks).
    """

    def __init__(self, input_size: int = 48, num_classes: int = NUM_CLASSES, in_chans: int = 1,
                 widths=(32, 64, 128, 256), depths=(1, 2, 2, 2), fusion: str = "feature",
                 fusion_weight: float = 0.25, dropout: float = 0.3, block: str = "plain"):
        super().__init__()
        if len(widths) != len(depths) or not widths:
            raise ValueError(f"`widths` and `depths` must have the same non-zero length; got "
                             f"{len(widths)} and {len(depths)}")
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; expected one of {', '.join(BLOCKS)}")
        self.fusion = check_fusion(fusion)
        self.input_size = input_size
        stages, cin = [], in_chans
        for w, d in zip(widths, depths):
            stages.append(_stage(cin, w, d, block))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.fuse = EdgeFusion(fusion, fusion_weight)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(cin, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = input_edges(x, self.fusion)
        last = len(self.stages) - 1
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == 0:
                x = self.fuse(x, e)
            if i < last:
                x = self.pool(x)
        return self.head(x)


@register_model
def fernet(**kwargs) -> FERNet:
    """The shipped model's architecture: 48x48, widths 32-64-128-256, fusion after stage 1."""
    return FERNet(**kwargs)


@register_model
def fernet_small(**kwargs) -> FERNet:
    """A faster, narrower FERNet (widths 16-32-64-128) for CPU speed."""
    return FERNet(**{"widths": (16, 32, 64, 128), **kwargs})
