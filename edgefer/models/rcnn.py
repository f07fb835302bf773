"""A compact two-stage Faster R-CNN for expressions: the paper's "R-CNN" contrast [19].

Li et al. (2017) normalize the face image, extract features with trainable convolutions and
max pooling, generate region proposals with a Region Proposal Network (RPN), and let a Faster
R-CNN head classify each region into an expression (softmax) and regress its bounding box;
they report mAP ~0.82 on CLDC video frames. They publish no layer sizes, anchors or sampling
settings, so those below follow Ren et al. (2015) scaled down to 48x48 gray faces and a CPU:

* backbone: four 3x3 conv + BN + ReLU layers, 2x2 max pooling after the first three
  (stride 8: a 48x48 face gives a 6x6 map);
* anchors: ``len(sizes) * len(ratios)`` per feature cell, centred on the cell, sizes
  ``(S/4, S/2, S)`` for input side ``S``, ratios (h/w) ``(0.5, 1, 2)``;
* RPN: 3x3 conv, then 1x1 objectness and 1x1 (dx, dy, dw, dh) per anchor; anchors with IoU
  > 0.7 against a ground-truth box (and each box's best anchor) are positive, < 0.3 negative;
  ``rpn_batch`` anchors per image, at most half positive; BCE + smooth-L1;
* proposals: top ``pre_nms`` by objectness, greedy NMS at 0.7, top ``post_nms``;
* RoI align (separable bilinear sampling, 2x2 samples per bin) to 3x3, two FC
  layers, 8 logits (the seven expressions in :data:`edgefer.labels.CLASSES` order, then
  background at index 7) and one class-agnostic box regression;
* head sampling: proposals plus the ground-truth boxes (always kept), IoU >= 0.5 foreground
  with the matched box's expression, otherwise background; ``roi_batch`` per image, at most a
  quarter foreground.

The head's 8-way cross-entropy factorizes exactly into a foreground/background term and a
7-way cross-entropy over the expressions on foreground RoIs; the second is replaced by the
training loop's ``cls_loss`` (cross-entropy or the paper's MSE), so soft targets work too.
With one-hot targets and cross-entropy the sum is Faster R-CNN's head loss.

References
----------
.. [1] J. Li, D. Zhang, J. Zhang et al., "Facial expression recognition with Faster R-CNN",
   Procedia Computer Science 107 (2017) 135-140.
.. [2] S. Ren, K. He, R. Girshick, J. Sun, "Faster R-CNN: towards real-time object detection
   with region proposal networks", NeurIPS 2015.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from edgefer.labels import NUM_CLASSES
from edgefer.models._registry import register_model

BBOX_CLIP = math.log(1000.0 / 16)
"""Upper bound on decoded log-scale deltas (Detectron / torchvision), against exp overflow."""

HEAD_BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
"""Delta weights of the Fast R-CNN head (Girshick 2015; torchvision); the RPN uses 1s."""


class Detections(NamedTuple):
    """Detections in one image: ``boxes`` (N, 4) x1, y1, x2, y2 in pixels, ``labels`` (N,)
    expression indices into :data:`edgefer.labels.CLASSES`, ``scores`` (N,) in [0, 1]."""

    boxes: torch.Tensor
    labels: torch.Tensor
    scores: torch.Tensor


# --------------------------------------------------------------------------- box operations

def make_anchors(feature_hw: tuple[int, int], stride: float, sizes: Sequence[float],
                 ratios: Sequence[float], *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Anchor boxes (x1, y1, x2, y2) in image pixels for every cell of a feature map.

    Parameters
    ----------
    feature_hw : (Hf, Wf) of the feature map.
    stride : image pixels per feature cell; cell (i, j) is centred at
        ((j + 0.5) * stride, (i + 0.5) * stride).
    sizes : anchor side for ratio 1; every anchor of size ``s`` has area ``s**2``.
    ratios : height / width; width ``s / sqrt(r)``, height ``s * sqrt(r)``.

    Returns
    -------
    (Hf * Wf * len(ratios) * len(sizes), 4) tensor, ordered by row, column, ratio, size.

    >>> make_anchors((1, 1), 8, [4], [1.0]).tolist()
    [[2.0, 2.0, 6.0, 6.0]]
    """
    hf, wf = feature_hw
    if hf < 1 or wf < 1 or not sizes or not ratios:
        raise ValueError(f"`feature_hw` must be positive and `sizes`, `ratios` non-empty; got "
                         f"{feature_hw}, {len(sizes)} sizes, {len(ratios)} ratios")
    s = torch.as_tensor(sizes, dtype=torch.float64)
    r = torch.as_tensor(ratios, dtype=torch.float64)
    w = (s[None, :] / r.sqrt()[:, None]).reshape(-1)
    h = (s[None, :] * r.sqrt()[:, None]).reshape(-1)
    base = torch.stack([-w, -h, w, h], 1) / 2  # (K, 4) centred at 0
    cy = (torch.arange(hf, dtype=torch.float64) + 0.5) * stride
    cx = (torch.arange(wf, dtype=torch.float64) + 0.5) * stride
    cy, cx = torch.meshgrid(cy, cx, indexing="ij")
    shifts = torch.stack([cx, cy, cx, cy], -1).reshape(-1, 1, 4)
    return (shifts + base[None]).reshape(-1, 4).to(device=device, dtype=dtype)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every box in ``a`` (..., N, 4) with every box in ``b``
    (..., M, 4), boxes as (x1, y1, x2, y2); returns (..., N, M). Empty boxes give 0.

    >>> box_iou(torch.tensor([[0., 0, 2, 2]]), torch.tensor([[1., 0, 3, 2]])).tolist()
    [[0.3333333432674408]]
    """
    a, b = a[..., :, None, :], b[..., None, :, :]
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    union = area_a + area_b - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def encode_boxes(anchors: torch.Tensor, gt: torch.Tensor,
                 weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> torch.Tensor:
    """Regression targets (dx, dy, dw, dh) taking ``anchors`` to ``gt`` (both (..., 4)).

    dx = wx (gx - ax) / aw, dy = wy (gy - ay) / ah, dw = ww log(gw / aw),
    dh = wh log(gh / ah), with (x, y) box centres and (w, h) sizes (R-CNN, Girshick 2014).
    """
    aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ax, ay = anchors[..., 0] + 0.5 * aw, anchors[..., 1] + 0.5 * ah
    gw, gh = gt[..., 2] - gt[..., 0], gt[..., 3] - gt[..., 1]
    gx, gy = gt[..., 0] + 0.5 * gw, gt[..., 1] + 0.5 * gh
    wx, wy, ww, wh = weights
    return torch.stack([wx * (gx - ax) / aw, wy * (gy - ay) / ah,
                        ww * torch.log(gw / aw), wh * torch.log(gh / ah)], -1)


def decode_boxes(anchors: torch.Tensor, deltas: torch.Tensor,
                 weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> torch.Tensor:
    """Inverse of :func:`encode_boxes`: boxes (..., 4) from ``anchors`` and ``deltas``.

    The log-scale deltas are clamped at log(1000 / 16) so that exp cannot overflow.
    """
    aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ax, ay = anchors[..., 0] + 0.5 * aw, anchors[..., 1] + 0.5 * ah
    wx, wy, ww, wh = weights
    x = ax + deltas[..., 0] / wx * aw
    y = ay + deltas[..., 1] / wy * ah
    w = aw * torch.exp((deltas[..., 2] / ww).clamp(max=BBOX_CLIP))
    h = ah * torch.exp((deltas[..., 3] / wh).clamp(max=BBOX_CLIP))
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], -1)


def clip_boxes(boxes: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Boxes (..., 4) clipped to the image [0, W] x [0, H]."""
    h, w = hw
    return torch.stack([boxes[..., 0].clamp(0, w), boxes[..., 1].clamp(0, h),
                        boxes[..., 2].clamp(0, w), boxes[..., 3].clamp(0, h)], -1)


def _greedy_keep(boxes: torch.Tensor, iou_threshold: float,
                 valid: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy NMS over boxes already sorted by decreasing score, batched: (B, K, 4) -> (B, K)
    bool.

    Greedy NMS keeps box i iff no kept box j < i overlaps it by IoU > threshold. That rule
    has exactly one solution (by induction on i), so iterating it from "keep all" until it
    stops changing gives the greedy result in at most K rounds of batched tensor operations,
    usually a handful, instead of a Python loop over boxes.
    """
    k = boxes.shape[-2]
    over = box_iou(boxes, boxes) > iou_threshold
    over &= torch.ones(k, k, dtype=torch.bool, device=boxes.device).triu(1)  # j < i only
    if valid is not None:
        over &= valid[..., :, None]  # invalid boxes suppress nothing
    keep = torch.ones(boxes.shape[:-1], dtype=torch.bool, device=boxes.device)
    for _ in range(k):
        new = ~(over & keep[..., :, None]).any(-2)
        if torch.equal(new, keep):
            break
        keep = new
    return keep if valid is None else keep & valid


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes, by decreasing score.

    Parameters
    ----------
    boxes : (N, 4) x1, y1, x2, y2.
    scores : (N,).
    iou_threshold : a box is dropped when its IoU with a higher-scoring kept box exceeds this.

    >>> b = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    >>> nms(b, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist()
    [0, 2]
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(f"`boxes` must be (N, 4) and `scores` (N,); got {tuple(boxes.shape)} "
                         f"and {tuple(scores.shape)}")
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True)
    return order[_greedy_keep(boxes[order][None], iou_threshold)[0]]


def _bin_weights(lo: torch.Tensor, hi: torch.Tensor, size: int, output_size: int,
                 sampling_ratio: int) -> torch.Tensor:
    """Bilinear weights (..., P, size) of each bin's averaged samples along one axis.

    ``lo``, ``hi`` (...) are RoI edges in feature units (cell i spans [i, i + 1]). Samples sit
    at the centres of ``P * sampling_ratio`` equal sub-cells; a sample at cell-centre
    coordinate u (clamped to [0, size - 1], i.e. border padding) weights cell i by
    max(0, 1 - |u - i|), which is linear interpolation between its two neighbours.
    """
    n = output_size * sampling_ratio
    t = (torch.arange(n, device=lo.device, dtype=lo.dtype) + 0.5) / n
    u = (lo[..., None] + t * (hi - lo)[..., None] - 0.5).clamp(0, size - 1)  # (..., n)
    cells = torch.arange(size, device=lo.device, dtype=lo.dtype)
    w = (1 - (u[..., None] - cells).abs()).clamp(min=0)  # (..., n, size)
    return w.unflatten(-2, (output_size, sampling_ratio)).mean(-2)


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int,
              spatial_scale: float, sampling_ratio: int = 2) -> torch.Tensor:
    """RoI align (He et al. 2017, "aligned" pixel model) by separable bilinear sampling.

    Each RoI is cut into ``output_size`` x ``output_size`` bins; each bin averages
    ``sampling_ratio``**2 bilinear samples at the centres of its sub-cells. Feature cell
    (i, j) is centred at image pixel ((j + 0.5) / scale, (i + 0.5) / scale). Samples outside
    the map take the nearest border value (proposals are clipped to the image anyway). The
    result equals ``grid_sample(mode="bilinear", padding_mode="border",
    align_corners=False)`` at those points followed by the bin means; because bilinear
    sampling on a grid is separable and the mean is linear, it is computed as two small
    matrix products per RoI (row weights, column weights), which is several times faster
    on a CPU than ``grid_sample`` and its backward.

    Parameters
    ----------
    features : (B, C, Hf, Wf).
    rois : (B, R, 4) x1, y1, x2, y2 in image pixels, R boxes per image.
    output_size : bins per side (P).
    spatial_scale : feature cells per image pixel (1 / stride).

    Returns
    -------
    (B, R, C, P, P)
    """
    if features.ndim != 4 or rois.ndim != 3 or rois.shape[0] != features.shape[0] \
            or rois.shape[-1] != 4:
        raise ValueError(f"`features` must be (B, C, H, W) and `rois` (B, R, 4); got "
                         f"{tuple(features.shape)} and {tuple(rois.shape)}")
    hf, wf = features.shape[-2:]
    f = rois.to(features.dtype) * spatial_scale
    wy = _bin_weights(f[..., 1], f[..., 3], hf, output_size, sampling_ratio)  # (B, R, P, Hf)
    wx = _bin_weights(f[..., 0], f[..., 2], wf, output_size, sampling_ratio)  # (B, R, P, Wf)
    rows = torch.einsum("brpy,bcyx->brcpx", wy, features)
    return torch.einsum("brcpx,brqx->brcpq", rows, wx)


def _sample(pos: torch.Tensor, neg: torch.Tensor, batch: int, pos_fraction: float,
            force: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random per-row subsets of ``pos`` (at most ``batch * pos_fraction``, ``force`` first)
    and ``neg`` (filling up to ``batch``) as boolean masks, both (B, N)."""
    def rank(mask, first=None):
        key = torch.rand(mask.shape, device=mask.device)
        key = key.masked_fill(~mask, 2.0)
        if first is not None:
            key = key.masked_fill(first & mask, -1.0)
        return key.argsort(1).argsort(1)

    pos_s = pos & (rank(pos, force) < int(batch * pos_fraction))
    room = batch - pos_s.sum(1, keepdim=True)
    neg_s = neg & (rank(neg) < room)
    return pos_s, neg_s


# --------------------------------------------------------------------------------- modules

def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FasterRCNN(nn.Module):
    """Two-stage expression detector; ``forward`` gives (B, 7) logits of the best detection.

    Parameters
    ----------
    input_size : side of the square gray training input (48 for FER-2013 crops, 96 or 128
        for photos with background); sets the default anchor sizes. Any image of at least
        16x16 is accepted by ``forward`` and ``detect``.
    widths : backbone channels; 2x2 max pooling follows all but the last (stride 8).
    anchor_sizes : anchor sides in pixels; default ``(S/4, S/2, S)``.
    anchor_ratios : anchor height/width ratios.
    rpn_batch, rpn_pos_fraction, rpn_iou : anchors sampled per image, positive share at most,
        (negative below, positive above) IoU.
    pre_nms, post_nms : proposals kept before and after NMS, (training, inference).
    rpn_nms : proposal NMS IoU threshold.
    roi_size, hidden : RoI align bins per side and width of the two FC layers.
    roi_batch, roi_fg_fraction, roi_fg_iou : RoIs sampled per image (the ground-truth boxes
        included), foreground share at most, foreground IoU.
    """

    def __init__(self, input_size: int = 48, num_classes: int = NUM_CLASSES, in_chans: int = 1,
                 widths: Sequence[int] = (16, 32, 64, 128),
                 anchor_sizes: Sequence[float] | None = None,
                 anchor_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                 rpn_batch: int = 64, rpn_pos_fraction: float = 0.5,
                 rpn_iou: tuple[float, float] = (0.3, 0.7),
                 pre_nms: tuple[int, int] = (64, 32), post_nms: tuple[int, int] = (16, 8),
                 rpn_nms: float = 0.7, roi_size: int = 3, hidden: int = 256,
                 roi_batch: int = 16, roi_fg_fraction: float = 0.25, roi_fg_iou: float = 0.5):
        super().__init__()
        if input_size < 16:
            raise ValueError(f"`input_size` must be at least 16; got {input_size}")
        if len(widths) < 4:
            raise ValueError(f"`widths` needs at least 4 entries (stride 8); got {len(widths)}")
        self.input_size = input_size
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.stride = 2 ** (len(widths) - 1)
        self.anchor_sizes = tuple(anchor_sizes or (input_size / 4, input_size / 2, input_size))
        self.anchor_ratios = tuple(anchor_ratios)
        self.rpn_batch, self.rpn_pos_fraction, self.rpn_iou = rpn_batch, rpn_pos_fraction, rpn_iou
        self.pre_nms, self.post_nms, self.rpn_nms = pre_nms, post_nms, rpn_nms
        self.roi_size = roi_size
        self.roi_batch, self.roi_fg_fraction = roi_batch, roi_fg_fraction
        self.roi_fg_iou = roi_fg_iou

        layers, cin = [], in_chans
        for i, w in enumerate(widths):
            layers.append(_conv_bn(cin, w))
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = w
        self.backbone = nn.Sequential(*layers)
        k = len(self.anchor_sizes) * len(self.anchor_ratios)
        self.rpn_conv = nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1), nn.ReLU(inplace=True))
        self.rpn_obj = nn.Conv2d(cin, k, 1)
        self.rpn_box = nn.Conv2d(cin, 4 * k, 1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * roi_size ** 2, hidden),
                                  nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
                                  nn.ReLU(inplace=True))
        self.cls_score = nn.Linear(hidden, num_classes + 1)  # expressions, then background
        self.bbox_pred = nn.Linear(hidden, 4)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.backbone.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in (self.rpn_conv[0], self.rpn_obj, self.rpn_box):  # Ren et al.: N(0, 0.01)
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.bbox_pred.bias)

    # ---------------------------------------------------------------------------- pieces

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_chans or min(x.shape[-2:]) < 16:
            raise ValueError(f"`x` must be (B, {self.in_chans}, H, W) with H, W >= 16; "
                             f"got shape {tuple(x.shape)}")

    def _rpn(self, x: torch.Tensor):
        """Features (B, C, Hf, Wf), objectness (B, A), deltas (B, A, 4), anchors (A, 4)."""
        feat = self.backbone(x)
        h = self.rpn_conv(feat)
        b, _, hf, wf = feat.shape
        k = len(self.anchor_sizes) * len(self.anchor_ratios)
        obj = self.rpn_obj(h).permute(0, 2, 3, 1).reshape(b, hf * wf * k)
        deltas = self.rpn_box(h).reshape(b, k, 4, hf, wf).permute(0, 3, 4, 1, 2)
        anchors = make_anchors((hf, wf), self.stride, self.anchor_sizes, self.anchor_ratios,
                               device=x.device)
        return feat, obj.float(), deltas.reshape(b, -1, 4).float(), anchors

    def _proposals(self, obj, deltas, anchors, hw):
        """Top-scoring decoded anchors after NMS: boxes (B, P, 4) and validity (B, P)."""
        i = 0 if self.training else 1
        top, idx = obj.topk(min(self.pre_nms[i], obj.shape[1]), dim=1)  # sorted
        boxes = clip_boxes(decode_boxes(anchors[idx], deltas.gather(
            1, idx[..., None].expand(-1, -1, 4))), hw)
        valid = ((boxes[..., 2] - boxes[..., 0]) >= 1) & ((boxes[..., 3] - boxes[..., 1]) >= 1)
        keep = _greedy_keep(boxes, self.rpn_nms, valid)
        score = top.masked_fill(~keep, float("-inf"))
        score, j = score.topk(min(self.post_nms[i], score.shape[1]), dim=1)
        return boxes.gather(1, j[..., None].expand(-1, -1, 4)), torch.isfinite(score)

    def _head(self, feat, rois):
        """Class logits (B, R, 8) and box deltas (B, R, 4) for RoIs (B, R, 4)."""
        b, r = rois.shape[:2]
        pooled = roi_align(feat, rois, self.roi_size, 1.0 / self.stride)
        h = self.head(pooled.reshape(b * r, *pooled.shape[2:]))
        return (self.cls_score(h).reshape(b, r, -1).float(),
                self.bbox_pred(h).reshape(b, r, 4).float())

    def _infer(self, x):
        self._check(x)
        feat, obj, deltas, anchors = self._rpn(x)
        rois, valid = self._proposals(obj, deltas, anchors, x.shape[-2:])
        logits, box = self._head(feat, rois)
        return rois, valid, logits, box

    # ------------------------------------------------------------------------------ API

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 7) expression logits of each image's highest-scoring detection.

        A detection's score is its largest expression probability under the 8-way softmax
        (as in :meth:`detect`); softmax over the returned 7 logits gives the expression
        distribution with background excluded.
        """
        _, valid, logits, _ = self._infer(x)
        score = logits.softmax(-1)[..., :self.num_classes].amax(-1).masked_fill(~valid, -1.0)
        best = score.argmax(1)
        return logits[torch.arange(len(best), device=x.device), best, :self.num_classes]

    @torch.no_grad()
    def detect(self, x: torch.Tensor, score_threshold: float = 0.5,
               nms_threshold: float = 0.5) -> list[Detections]:
        """Expression detections per image, for photos with background.

        Each proposal's box is refined by the head; its label is the most probable
        expression and its score that expression's probability under the 8-way softmax
        (background included). Class-agnostic greedy NMS (one face, one expression) then
        drops overlaps and scores below ``score_threshold`` are discarded.

        Parameters
        ----------
        x : (B, C, H, W) normalized images, any H, W >= 16.

        Returns
        -------
        list of B :class:`Detections` ``(boxes, labels, scores)``, highest score first; an
        image without detections gets empty tensors.
        """
        rois, valid, logits, box = self._infer(x)
        boxes = clip_boxes(decode_boxes(rois, box, HEAD_BOX_WEIGHTS), x.shape[-2:])
        score, label = logits.softmax(-1)[..., :self.num_classes].max(-1)
        score = score.masked_fill(~valid, -1.0)
        order = score.argsort(1, descending=True)
        boxes = boxes.gather(1, order[..., None].expand(-1, -1, 4))
        score, label, valid = score.gather(1, order), label.gather(1, order), valid.gather(1, order)
        keep = _greedy_keep(boxes, nms_threshold, valid) & (score >= score_threshold)
        return [Detections(boxes[i][keep[i]], label[i][keep[i]], score[i][keep[i]])
                for i in range(len(x))]

    def training_loss(self, x: torch.Tensor, target: torch.Tensor, cls_loss,
                      boxes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Faster R-CNN's four-part loss with ``cls_loss`` as the expression term.

        Parameters
        ----------
        x : (B, C, H, W) normalized images.
        target : (B, 7) expression distributions (one-hot or soft), or (B, G, 7) for G faces
            per image.
        cls_loss : ``cls_loss(logits (N, 7), target (N, 7)) -> scalar``.
        boxes : (B, 4) or (B, G, 4) ground-truth face boxes in pixels; default the whole
            image (0, 0, W, H), which is what a face crop is.

        Returns
        -------
        loss : RPN objectness BCE + RPN smooth-L1 + head foreground/background CE +
            ``cls_loss`` on foreground RoIs + head smooth-L1.
        logits : (B, 7) expression logits of each image's first ground-truth box (training
            accuracy).
        """
        self._check(x)
        b, _, h, w = x.shape
        tgt = target.float()
        if boxes is None:
            boxes = x.new_tensor([0.0, 0.0, w, h], dtype=torch.float32).expand(b, 4)
        gt = boxes.float().reshape(b, -1, 4)
        tgt = tgt.reshape(b, -1, tgt.shape[-1])
        if tgt.shape[:2] != gt.shape[:2] or tgt.shape[-1] != self.num_classes:
            raise ValueError(f"`target` must be (B, {self.num_classes}) or (B, G, "
                             f"{self.num_classes}) matching `boxes` (B, G, 4); got "
                             f"{tuple(target.shape)} and {tuple(boxes.shape)}")
        g = gt.shape[1]
        feat, obj, deltas, anchors = self._rpn(x)

        # RPN: label anchors, sample, BCE + smooth-L1 normalized by the sampled count.
        iou = box_iou(anchors.expand(b, -1, -1), gt)  # (B, A, G)
        best_iou, best_gt = iou.max(2)
        lo, hi = self.rpn_iou
        per_gt = iou.amax(1, keepdim=True)
        pos = (best_iou >= hi) | ((iou == per_gt) & (per_gt > 0)).any(2)
        neg = (best_iou < lo) & ~pos
        pos, neg = _sample(pos, neg, self.rpn_batch, self.rpn_pos_fraction)
        n = (pos | neg).sum().clamp(min=1)
        sel = pos | neg
        rpn_obj = F.binary_cross_entropy_with_logits(obj[sel], pos[sel].float(),
                                                     reduction="sum") / n
        matched = gt.gather(1, best_gt[..., None].expand(-1, -1, 4))
        rpn_reg = F.smooth_l1_loss(deltas[pos], encode_boxes(anchors.expand(b, -1, -1)[pos],
                                                             matched[pos]),
                                   beta=1 / 9, reduction="sum") / n

        # Head: proposals (no gradient into the RPN through them, as in Ren et al.'s
        # approximate joint training) plus the ground truth; sample a fixed R per image.
        props, pvalid = self._proposals(obj.detach(), deltas.detach(), anchors, (h, w))
        rois = torch.cat([gt, props], 1)
        rvalid = torch.cat([pvalid.new_ones(b, g), pvalid], 1)
        is_gt = torch.zeros_like(rvalid)
        is_gt[:, :g] = True
        riou, rgt = box_iou(rois, gt).max(2)
        fg = (riou >= self.roi_fg_iou) & rvalid
        fg, bg = _sample(fg, ~fg & rvalid, self.roi_batch, self.roi_fg_fraction, force=is_gt)
        fg = fg | is_gt  # the ground truth is always a foreground RoI
        r = min(self.roi_batch, rois.shape[1])
        key = 2.0 * is_gt + (fg | bg) + torch.linspace(0.5, 0, rois.shape[1], device=x.device)
        pick = key.topk(r, dim=1).indices  # ground truth first, then sampled, then padding

        def take(t):
            return t.gather(1, pick if t.ndim == 2 else pick[..., None].expand(-1, -1, t.shape[-1]))

        rois, fg, used, rgt = take(rois), take(fg), take(fg | bg), take(rgt)
        logits, box = self._head(feat, rois.detach())
        lse = logits.logsumexp(-1)
        fg_term = logits[..., :self.num_classes].logsumexp(-1) - lse  # log P(foreground)
        bg_term = logits[..., self.num_classes] - lse  # log P(background)
        m = used.float()
        head_obj = -(torch.where(fg, fg_term, bg_term) * m).sum() / m.sum()
        fgu = fg & used
        rt = tgt.gather(1, rgt[..., None].expand(-1, -1, tgt.shape[-1]))
        expr = cls_loss(logits[fgu][:, :self.num_classes], rt[fgu])
        mg = gt.gather(1, rgt[..., None].expand(-1, -1, 4))
        head_reg = F.smooth_l1_loss(box[fgu], encode_boxes(rois[fgu], mg[fgu], HEAD_BOX_WEIGHTS),
                                    beta=1 / 9, reduction="sum") / m.sum()
        loss = rpn_obj + rpn_reg + head_obj + expr + head_reg
        return loss, logits[:, 0, :self.num_classes]


@register_model
def rcnn(**kwargs) -> FasterRCNN:
    """Faster R-CNN contrast [19] at 48x48 (``input_size=96`` or ``128`` for photos)."""
    return FasterRCNN(**{"input_size": 48, **kwargs})
