"""MTCNN face detector (Zhang et al. 2016): three small CNNs in a cascade, run with torch.

A port of facenet-pytorch 2.6.0's MTCNN (MIT licence, T. Esler; weights converted from
D. Sandberg's facenet, in turn from the authors' Caffe models) without torchvision: the three
networks (P-, R- and O-Net, 2 MB of float32 weights in ``edgefer/weights/detectors/mtcnn.pt``,
licence beside it) and the glue between them (image pyramid, box regression, non-maximum
suppression) in NumPy and OpenCV. It finds faces that OpenCV's frontal Haar cascade misses
(turned, tilted, partly hidden; see docs/detectors.md) and gives five landmarks per face:
the eyes, the nose tip and the mouth corners.

References
----------
K. Zhang, Z. Zhang, Z. Li, Y. Qiao, "Joint Face Detection and Alignment Using Multitask
Cascaded Convolutional Networks", IEEE Signal Processing Letters 23(10), 2016.
https://github.com/timesler/facenet-pytorch (models/mtcnn.py, models/utils/detect_face.py).
"""
from __future__ import annotations

import functools
import logging
import numbers
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from edgefer.preprocess._checks import check_image, check_int
from edgefer.preprocess.detect import FaceBox

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "detectors" / "mtcnn.pt"
"""The three networks' state dicts ``{"pnet": ..., "rnet": ..., "onet": ...}`` (float32)."""

THRESHOLDS = (0.6, 0.7, 0.7)
"""Face-probability thresholds of the three stages (facenet-pytorch's and the paper's defaults)."""

PYRAMID_FACTOR = 0.709
"""Scale step of the image pyramid (about 1/sqrt(2); facenet-pytorch's default)."""

BOX_TO_HAAR = (0.0, -0.02, 0.926)
"""(dx, dy, side) that map an MTCNN box to the square box Haar would give the same face, as
fractions of the MTCNN box's larger side: centre shifted by (dx, dy), side scaled by ``side``.
The classifiers were trained and evaluated on Haar-framed crops, so detections are reframed
the same way; the medians over the 791 of 800 random LFW photos where both detectors found
the same face (``benchmarks/detectors.py --calibrate --photos 800``; docs/detectors.md)."""


class PNet(nn.Module):
    """Proposal network: fully convolutional, 12x12 windows at stride 2."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refinement network on 24x24 candidates."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # Caffe's (W, H, C) flattening order
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output network on 48x48 candidates: face probability, box regression, five landmarks."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


@functools.lru_cache(maxsize=2)
def _networks(path: str) -> tuple[PNet, RNet, ONet]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"MTCNN weights not found: {p}")
    try:
        states = torch.load(p, map_location="cpu", weights_only=True)
        nets = PNet(), RNet(), ONet()
        for net, key in zip(nets, ("pnet", "rnet", "onet")):
            net.load_state_dict(states[key])
            net.eval()
    except Exception as exc:  # any unpickling or shape problem means a bad file
        raise FileNotFoundError(f"MTCNN weights file is not a valid MTCNN state: {p} ({exc})") from exc
    return nets


class MTCNNFaceDetector:
    """Multi-task cascaded CNN face detector (see the module's notes).

    Parameters
    ----------
    min_size : int
        Smallest face side searched for, in original-image pixels (>= 12).
    thresholds : 3 floats
        Face-probability thresholds of the three stages.
    max_side : int, optional
        If set and the image's longer side is larger, detection runs on a copy shrunk to this
        longer side (``cv2.INTER_AREA``); boxes are scaled back.
    haar_frame : bool
        Reframe boxes as Haar would frame the same face (:data:`BOX_TO_HAAR`), so that crops
        match what the classifiers were trained on; False gives MTCNN's own boxes.
    weights : path, optional
        The networks' weights; default the shipped :data:`WEIGHTS`.

    Examples
    --------
    >>> MTCNNFaceDetector().detect(np.zeros((64, 64), np.uint8))
    []
    """

    name = "mtcnn"

    thread_safe = True
    """``detect`` may run in several threads at once: the networks are only read (eval mode,
    ``torch.inference_mode``) and every buffer is the call's own (tests/test_mtcnn.py)."""

    def __init__(self, *, min_size: int = 20, thresholds=THRESHOLDS, max_side: int | None = None,
                 haar_frame: bool = True, weights=None):
        self.min_size = check_int(min_size, "min_size", minimum=12)
        t = tuple(thresholds)
        if len(t) != 3 or not all(isinstance(v, numbers.Real) and 0 <= v <= 1 for v in t):
            raise ValueError(f"`thresholds` must be 3 numbers in [0, 1]; got {thresholds!r}")
        self.thresholds = tuple(float(v) for v in t)
        self.max_side = None if max_side is None else check_int(max_side, "max_side", minimum=12)
        self.haar_frame = bool(haar_frame)
        self.weights = Path(weights) if weights is not None else WEIGHTS
        self.pnet, self.rnet, self.onet = _networks(str(self.weights))

    @property
    def params(self) -> tuple:
        """What changes the boxes (a cache key for detected data sets)."""
        return ("mtcnn", self.min_size, self.thresholds, self.max_side,
                BOX_TO_HAAR if self.haar_frame else None)

    def __repr__(self) -> str:
        return (f"MTCNNFaceDetector(min_size={self.min_size}, thresholds={self.thresholds}, "
                f"max_side={self.max_side}, haar_frame={self.haar_frame})")

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in a uint8 gray (H, W), BGR (H, W, 3) or BGRA (H, W, 4) image, largest first.

        Each :class:`FaceBox` has the O-Net face probability as ``score`` and five
        ``landmarks`` (x, y): left eye, right eye (as seen in the image), nose, mouth corners.
        """
        check_image(image, ndim=(2, 3), channels=(3, 4))
        if image.ndim == 2:
            rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        elif image.shape[2] == 4:
            rgb = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        else:
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        scale = 1.0
        if self.max_side is not None and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                             interpolation=cv2.INTER_AREA)
        min_size = max(12.0, self.min_size * scale)
        with torch.inference_mode():
            boxes, points = _detect(rgb, min_size, self.pnet, self.rnet, self.onet, self.thresholds)
        faces = []
        for (x1, y1, x2, y2, score), pts in zip(boxes, points):
            x1, y1, x2, y2 = x1 / scale, y1 / scale, x2 / scale, y2 / scale
            pts = pts / scale
            if self.haar_frame:
                dx, dy, k = BOX_TO_HAAR
                side = max(x2 - x1, y2 - y1)
                cx, cy = (x1 + x2) / 2 + dx * side, (y1 + y2) / 2 + dy * side
                half = k * side / 2
                x1, y1, x2, y2 = cx - half, cy - half, cx + half, cy + half
            x0, y0 = max(0, round(x1)), max(0, round(y1))
            xe, ye = min(width, round(x2)), min(height, round(y2))
            if xe > x0 and ye > y0:
                faces.append(FaceBox(x0, y0, xe - x0, ye - y0, float(score),
                                     landmarks=tuple((float(px), float(py)) for px, py in pts)))
        faces.sort(key=lambda f: (-f.area, -(f.score or 0.0), f.y, f.x))
        return faces


def _normalize(rgb: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8/float -> (N, 3, H, W) float32 in about [-1, 1], stored channels-last.

    Channels-last is the (N, H, W, C) memory the image already has, and torch's CPU max-pooling
    is about 4x faster on it than on NCHW (1.1 vs 0.3 ms for P-Net's first pool at 160x120).
    """
    a = (np.asarray(rgb, np.float32) - 127.5) * 0.0078125
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)


def _detect(rgb: np.ndarray, min_size: float, pnet, rnet, onet, thresholds):
    """Boxes (K, 5: x1 y1 x2 y2 score) and landmarks (K, 5, 2) in ``rgb``'s pixels."""
    h, w = rgb.shape[:2]
    m = 12.0 / min_size
    scales, side = [], min(h, w) * m
    s = m
    while side >= 12:
        scales.append(s)
        s *= PYRAMID_FACTOR
        side *= PYRAMID_FACTOR
    empty = np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)
    # Stage 1: P-Net over the pyramid.
    found = []
    for s in scales:
        hs, ws = int(h * s + 1), int(w * s + 1)
        im = cv2.resize(rgb, (ws, hs), interpolation=cv2.INTER_AREA)
        reg, prob = pnet(_normalize(im[None]))
        b = _proposals(reg[0].numpy(), prob[0, 1].numpy(), s, thresholds[0])
        if len(b):
            found.append(b[_nms(b[:, :4], b[:, 4], 0.5)])
    if not found:
        return empty
    boxes = np.concatenate(found)
    boxes = boxes[_nms(boxes[:, :4], boxes[:, 4], 0.7)]
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = np.stack([boxes[:, 0] + boxes[:, 5] * bw, boxes[:, 1] + boxes[:, 6] * bh,
                      boxes[:, 2] + boxes[:, 7] * bw, boxes[:, 3] + boxes[:, 8] * bh, boxes[:, 4]], 1)
    boxes = _square(boxes)
    # Stage 2: R-Net on 24x24 crops.
    boxes, crops = _crops(rgb, boxes, 24)
    if not len(boxes):
        return empty
    reg, prob = rnet(_normalize(crops))
    score = prob[:, 1].numpy()
    keep = score > thresholds[1]
    boxes, reg = np.concatenate([boxes[keep, :4], score[keep, None]], 1), reg.numpy()[keep]
    pick = _nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes = _square(_regress(boxes[pick], reg[pick]))
    # Stage 3: O-Net on 48x48 crops: final boxes and landmarks.
    boxes, crops = _crops(rgb, boxes, 48)
    if not len(boxes):
        return empty
    reg, pts, prob = onet(_normalize(crops))
    score = prob[:, 1].numpy()
    keep = score > thresholds[2]
    boxes = np.concatenate([boxes[keep, :4], score[keep, None]], 1)
    reg, pts = reg.numpy()[keep], pts.numpy()[keep]
    bw, bh = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
    px = bw[:, None] * pts[:, :5] + boxes[:, 0:1] - 1
    py = bh[:, None] * pts[:, 5:10] + boxes[:, 1:2] - 1
    points = np.stack([px, py], 2)
    boxes = _regress(boxes, reg)
    pick = _nms(boxes[:, :4], boxes[:, 4], 0.7, "min")
    return boxes[pick], points[pick]


def _proposals(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """P-Net cells above ``threshold`` as (K, 9) boxes: x1 y1 x2 y2 score dx1 dy1 dx2 dy2."""
    ys, xs = np.nonzero(prob >= threshold)
    if not len(ys):
        return np.zeros((0, 9), np.float32)
    bb = np.stack([xs, ys], 1).astype(np.float32)
    q1 = np.floor((2 * bb + 1) / scale)
    q2 = np.floor((2 * bb + 12) / scale)
    return np.concatenate([q1, q2, prob[ys, xs, None], reg[:, ys, xs].T], 1).astype(np.float32)


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares about their centres."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int):
    """Boxes that cut a non-empty crop, and their crops resized to (size, size)."""
    h, w = rgb.shape[:2]
    b = np.trunc(boxes[:, :4]).astype(np.int64)
    x = np.maximum(b[:, 0], 1)
    y = np.maximum(b[:, 1], 1)
    ex = np.minimum(b[:, 2], w)
    ey = np.minimum(b[:, 3], h)
    keep = (ey > y - 1) & (ex > x - 1)
    crops = [cv2.resize(rgb[y[k] - 1:ey[k], x[k] - 1:ex[k]], (size, size), interpolation=cv2.INTER_AREA)
             for k in np.nonzero(keep)[0]]
    if not crops:
        return boxes[:0], None
    return boxes[keep], np.stack(crops)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    if not len(boxes):
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores, kind="stable")
    keep = []
    while order.size:
        i = order[-1]
        keep.append(i)
        rest = order[:-1]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = iw * ih
        if method == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, np.int64)
