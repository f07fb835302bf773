"""The paper's CNN with Kirsch edge fusion (IEEE Access, "FER based on a CNN and image edge detection").

Topology at 96x96 (the paper): C1 32@5x5 -> 92, C2 64@5x5 -> 88, S1 max-pool 2 -> 44,
C3 128@5x5 -> 40, S2 max-pool 2 -> 20, FC 20*20*128 = 51200 -> 300 (ReLU), 7 outputs
(softmax is applied by the loss or by the recognizer). ReLU after every convolution; no
convolution bias, as in the paper. Edge fusion follows each convolution's ReLU.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from edgefer.labels import NUM_CLASSES
from edgefer.models._fusion import EdgeFusion, check_fusion, input_edges
from edgefer.models._registry import register_model


class EdgeCNN(nn.Module):
    """The paper's network for a square gray input of side ``input_size``.

    Parameters
    ----------
    input_size : side of the input (96 in the paper; 48 is FER-2013's native size).
    fusion : ``feature``, ``input`` or ``none`` (see :mod:`edgefer.models._fusion`).
    fusion_weight : scale of the superimposed edges. The default 1/15 divides the Kirsch
        response by the sum of its mask's positive weights (5+5+5), so an edge adds its
        intensity step rather than 15 times it; with 1.0 the three fused layers amplify
        activations by up to 16^3 and training with the paper's plain initialization diverges
        at the first step (measured: loss 1.3e3, then 1.7e13, then NaN at lr 0.01).
    conv_bias : the paper fixes convolution bias at 0 (False).
    pool : ``max`` (the paper) or ``stride`` (strided 5x5 convolutions instead of pooling, for
        the paper's claim that pooling speeds training up).
    """

    def __init__(self, input_size: int = 96, num_classes: int = NUM_CLASSES, in_chans: int = 1,
                 fusion: str = "feature", fusion_weight: float = 1 / 15, conv_bias: bool = False,
                 hidden: int = 300, pool: str = "max"):
        super().__init__()
        self.fusion = check_fusion(fusion)
        self.input_size = input_size
        if pool not in ("max", "stride"):
            raise ValueError(f"`pool` must be 'max' or 'stride'; got {pool!r}")
        if input_size < 32:
            raise ValueError(f"`input_size` must be at least 32; got {input_size}")
        s = 2 if pool == "stride" else 1
        self.c1 = nn.Conv2d(in_chans, 32, 5, bias=conv_bias)
        self.c2 = nn.Conv2d(32, 64, 5, stride=s, bias=conv_bias)
        self.c3 = nn.Conv2d(64, 128, 5, stride=s, bias=conv_bias)
        self.pool = nn.MaxPool2d(2) if pool == "max" else nn.Identity()
        self.f1, self.f2, self.f3 = (EdgeFusion(fusion, fusion_weight) for _ in range(3))
        self.relu = nn.ReLU(inplace=False)
        with torch.no_grad():
            n = self._features(torch.zeros(1, in_chans, input_size, input_size)).numel()
        self.fc1 = nn.Linear(n, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # "Small random initial weights": Kaiming-normal keeps ReLU activations in range.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        e = input_edges(x, self.fusion)
        x = self.f1(self.relu(self.c1(x)), e)
        x = self.pool(self.f2(self.relu(self.c2(x)), e))
        x = self.pool(self.f3(self.relu(self.c3(x)), e))
        return torch.flatten(x, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(self._features(x))))


@register_model
def edgecnn(**kwargs) -> EdgeCNN:
    """The paper's network at 96x96 with feature-map edge fusion."""
    return EdgeCNN(**{"input_size": 96, "fusion": "feature", **kwargs})


@register_model
def edgecnn48(**kwargs) -> EdgeCNN:
    """The paper's topology at FER-2013's native 48x48."""
    return EdgeCNN(**{"input_size": 48, "fusion": "feature", **kwargs})


@register_model
def plaincnn(**kwargs) -> EdgeCNN:
    """The paper's network without edge fusion (its plain-CNN contrast), 96x96."""
    return EdgeCNN(**{"input_size": 96, "fusion": "none", **kwargs})
