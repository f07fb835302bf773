"""FRR-CNN: feature-redundancy-reduced CNN with transformation-invariant pooling [20].

Xie and Hu (2017) train a CNN whose convolution kernels are "induced to be divergent by
presenting a more discriminative mutual difference among feature maps of the same layer",
so that it produces less redundant features, and they pool features across input
transformations with TI-pooling (Laptev et al. 2016). The letter does not give the network,
the exact difference measure, its weight or the transformations in a form we could follow,
so these are our choices:

* network: three stages of 3x3 convolution + BN + ReLU with 2x2 max pooling (widths
  32-64-128), adaptive average pooling to 3x3, FC 256 + ReLU + dropout, FC 7;
* redundancy term: :func:`feature_redundancy` on each convolution's response maps (before
  batch norm and ReLU; on ReLU outputs the term could be zeroed by switching maps off,
  the scale-invariant cosine on the linear responses cannot), averaged over the layers,
  computed on the untransformed copy only (the kernels are shared, and this keeps the
  term's cost at a quarter); see that function for the definition;
* weight ``redundancy_weight`` (lambda) 0.1;
* TI-pooling transformations: identity, horizontal flip, rotations by -10 and +10 degrees
  (bilinear, border padding); the element-wise max is taken over the flattened features
  after the last convolution stage, before the fully connected classifier, as in Laptev et
  al. TI-pooling is applied in training and at inference.

References
----------
.. [1] S. Xie and H. Hu, "Facial expression recognition with FRR-CNN", Electronics Letters
   53(4) (2017) 235-237.
.. [2] D. Laptev, N. Savinov, J. M. Buhmann, M. Pollefeys, "TI-POOLING: transformation-
   invariant pooling for feature learning in convolutional neural networks", CVPR 2016.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from edgefer.labels import NUM_CLASSES
from edgefer.models._registry import register_model


def feature_redundancy(maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean squared cosine similarity between the different feature maps of one layer.

    For each sample, every map is flattened and scaled to unit L2 norm
    (n_c = a_c / max(||a_c||, eps)), and

        R = 1 / (C (C - 1)) * sum_{i != j} <n_i, n_j>**2,

    averaged over the batch. R is 0 when the maps are mutually orthogonal (for example
    disjoint supports), 1 when they are all equal up to scale, and grows with redundancy in
    between. It is invariant to each map's scale, so it cannot be lowered by shrinking
    responses; an all-zero map counts as orthogonal to every other.

    Parameters
    ----------
    maps : (B, C, H, W) or (B, C, N) with C >= 2.

    Returns
    -------
    Scalar tensor (float32 or wider).

    >>> a = torch.zeros(1, 2, 2, 2); a[0, 0, 0, 0] = 1; a[0, 1, 1, 1] = 3
    >>> feature_redundancy(a).item()
    0.0
    """
    if maps.ndim not in (3, 4) or maps.shape[1] < 2:
        raise ValueError(f"`maps` must be (B, C, H, W) or (B, C, N) with C >= 2; got shape "
                         f"{tuple(maps.shape)}")
    v = maps.flatten(2)
    if v.dtype not in (torch.float32, torch.float64):
        v = v.float()
    # Cosines from the Gram matrix of the raw maps: one (C, N) x (N, C) product and no
    # elementwise pass over the (B, C, N) maps, which dominates on early, large layers.
    gram = v @ v.transpose(1, 2)  # (B, C, C)
    norm = gram.diagonal(dim1=1, dim2=2).clamp(min=eps * eps).sqrt()  # (B, C)
    cos = gram / (norm[:, :, None] * norm[:, None, :])
    c = cos.shape[-1]
    off = cos.square().sum((1, 2)) - cos.diagonal(dim1=1, dim2=2).square().sum(1)
    return (off / (c * (c - 1))).mean()


def ti_pool(features_per_transform) -> torch.Tensor:
    """TI-pooling: element-wise max over transformations.

    Parameters
    ----------
    features_per_transform : (K, B, ...) tensor or a sequence of K tensors (B, ...), the
        features of the K transformed copies of a batch.

    Returns
    -------
    (B, ...) tensor; gradients flow to the copy that attains each maximum.

    >>> ti_pool([torch.tensor([1., 5.]), torch.tensor([3., 2.])]).tolist()
    [3.0, 5.0]
    """
    f = features_per_transform
    if not torch.is_tensor(f):
        f = torch.stack(list(f))
    if f.ndim < 2 or f.shape[0] < 1:
        raise ValueError(f"`features_per_transform` must be (K, B, ...) with K >= 1; got "
                         f"shape {tuple(f.shape)}")
    return f.amax(0)


def ti_transforms(x: torch.Tensor, *, flip: bool = True,
                  angles: Sequence[float] = (-10.0, 10.0)) -> torch.Tensor:
    """Transformed copies of ``x`` (B, C, H, W): identity, the horizontal flip if ``flip``,
    then a rotation about the centre for each angle in degrees (bilinear, border padding).

    Returns
    -------
    (K, B, C, H, W) with K = 1 + flip + len(angles).
    """
    if x.ndim != 4:
        raise ValueError(f"`x` must be (B, C, H, W); got shape {tuple(x.shape)}")
    out = [x]
    if flip:
        out.append(x.flip(-1))
    if angles:
        b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        rad = torch.tensor([math.radians(a) for a in angles], dtype=torch.float32,
                           device=x.device)
        cos, sin = rad.cos(), rad.sin()
        # affine_grid works in normalized coordinates; the aspect terms keep rotations rigid
        # in pixels for non-square images.
        theta = torch.stack([torch.stack([cos, -sin * h / w, torch.zeros_like(cos)], -1),
                             torch.stack([sin * w / h, cos, torch.zeros_like(cos)], -1)], 1)
        k = len(angles)
        theta = theta.repeat_interleave(b, 0).to(x.dtype)  # (k*B, 2, 3)
        xs = x.repeat(k, 1, 1, 1)
        grid = F.affine_grid(theta, list(xs.shape), align_corners=False)
        rot = F.grid_sample(xs, grid, mode="bilinear", padding_mode="border",
                            align_corners=False)
        out.extend(rot.reshape(k, *x.shape).unbind(0))
    return torch.stack(out)


class FRRCNN(nn.Module):
    """FRR-CNN for a square gray input of side ``input_size``.

    Parameters
    ----------
    input_size : side of the input (48 for FER-2013).
    widths : channels of the convolution stages; 2x2 max pooling follows each.
    hidden, dropout : the fully connected layer after TI-pooling.
    redundancy_weight : lambda of the redundancy term in :meth:`training_loss`.
    flip, angles : the TI-pooling transformations (identity is always included).
    """

    def __init__(self, input_size: int = 48, num_classes: int = NUM_CLASSES, in_chans: int = 1,
                 widths: Sequence[int] = (32, 64, 128), hidden: int = 256, dropout: float = 0.5,
                 redundancy_weight: float = 0.1, flip: bool = True,
                 angles: Sequence[float] = (-10.0, 10.0)):
        super().__init__()
        if input_size < 2 ** len(widths):
            raise ValueError(f"`input_size` must be at least {2 ** len(widths)} for "
                             f"{len(widths)} stages; got {input_size}")
        self.input_size = input_size
        self.in_chans = in_chans
        self.redundancy_weight = redundancy_weight
        self.flip, self.angles = flip, tuple(angles)
        self.convs = nn.ModuleList()
        self.post = nn.ModuleList()
        cin = in_chans
        for w in widths:
            self.convs.append(nn.Conv2d(cin, w, 3, padding=1, bias=False))
            self.post.append(nn.Sequential(nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                                           nn.MaxPool2d(2)))
            cin = w
        self.squeeze = nn.AdaptiveAvgPool2d(3)
        self.classifier = nn.Sequential(nn.Linear(cin * 9, hidden), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _features(self, x: torch.Tensor, responses: list | None = None,
                  first: int = 0) -> torch.Tensor:
        """Flattened features (N, D) of a batch; appends each convolution's responses of
        the first ``first`` samples (all when 0) to ``responses``."""
        for conv, post in zip(self.convs, self.post):
            x = conv(x)
            if responses is not None:
                responses.append(x[:first] if first else x)
            x = post(x)
        return self.squeeze(x).flatten(1)

    def _pooled(self, x: torch.Tensor, responses: list | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"`x` must be (B, {self.in_chans}, H, W); got shape "
                             f"{tuple(x.shape)}")
        t = ti_transforms(x, flip=self.flip, angles=self.angles)  # (K, B, C, H, W)
        # One pass over all K copies; the identity copy comes first.
        f = self._features(t.flatten(0, 1), responses, first=x.shape[0])
        return ti_pool(f.reshape(t.shape[0], x.shape[0], -1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """TI-pooled features (B, D) fed to the classifier."""
        return self._pooled(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self._pooled(x))

    def redundancy(self, responses: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mean :func:`feature_redundancy` over the given layers' responses."""
        return torch.stack([feature_redundancy(r) for r in responses]).mean()

    def training_loss(self, x: torch.Tensor, target: torch.Tensor,
                      cls_loss) -> tuple[torch.Tensor, torch.Tensor]:
        """``cls_loss(logits, target) + redundancy_weight * redundancy``; returns
        ``(loss, logits)`` with logits (B, 7)."""
        responses: list[torch.Tensor] = []
        logits = self.classifier(self._pooled(x, responses))
        loss = cls_loss(logits, target)
        if self.redundancy_weight:
            loss = loss + self.redundancy_weight * self.redundancy(responses)
        return loss, logits


@register_model
def frrcnn(**kwargs) -> FRRCNN:
    """FRR-CNN [20] at 48x48: redundancy term (lambda 0.1) and TI-pooling over 4 transforms."""
    return FRRCNN(**{"input_size": 48, **kwargs})
