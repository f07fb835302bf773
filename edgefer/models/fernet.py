"""FERNet: the shipped model's family, a VGG-style CNN with batch norm and optional edge fusion.

Built for accuracy on FER-2013 at its native 48x48 within a 2-core CPU's training budget:
stages of 3x3 convolutions with batch norm and ReLU, max-pooling between stages, dropout and a
global-average-pooled head. Kirsch edge fusion (the paper's idea) is applied after the first
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


class FERNet(nn.Module):
    """VGG-style network: ``widths[i]`` channels in stage i, ``depths[i]`` convolutions each.

    Parameters
    ----------
    input_size : side of the square gray input (48 for FER-2013).
    widths, depths : channels and number of 3x3 convolutions per stage; a 2x2 max-pool
        follows every stage but the last.
    fusion : ``feature``, ``input`` or ``none``; applied after stage 1.
    fusion_weight : scale of the superimposed edges.
    dropout : before the classifier.
    """

    def __init__(self, input_size: int = 48, num_classes: int = NUM_CLASSES, in_chans: int = 1,
                 widths=(32, 64, 128, 256), depths=(1, 2, 2, 2), fusion: str = "feature",
                 fusion_weight: float = 0.25, dropout: float = 0.3):
        super().__init__()
        if len(widths) != len(depths) or not widths:
            raise ValueError(f"`widths` and `depths` must have the same non-zero length; got "
                             f"{len(widths)} and {len(depths)}")
        self.fusion = check_fusion(fusion)
        self.input_size = input_size
        stages, cin = [], in_chans
        for i, (w, d) in enumerate(zip(widths, depths)):
            layers = []
            for _ in range(d):
                layers.append(_conv_bn(cin, w))
                cin = w
            stages.append(nn.Sequential(*layers))
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
