"""Detection metrics: PASCAL VOC average precision per class and its mean (mAP)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _array(a, dtype, shape_tail: tuple[int, ...], name: str) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor, without importing torch here
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=dtype)
    if a.size == 0:
        a = a.reshape((0,) + shape_tail)
    if a.shape[1:] != shape_tail:
        raise ValueError(f"`{name}` must have shape (N{''.join(', %d' % s for s in shape_tail)}); "
                         f"got {a.shape}")
    return a


def _vector(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a).reshape(-1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) box with (M, 4) boxes, (x1, y1, x2, y2)."""
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    union = ((box[2] - box[0]) * (box[3] - box[1])
             + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def average_precision(detections: Sequence, ground_truths: Sequence, label: int,
                      iou: float = 0.5) -> float:
    """VOC average precision of one class; ``nan`` when the class has no ground truth.

    Detections of the class over all images are ranked by score; each is a true positive
    when its IoU with a not yet matched ground-truth box of the class in the same image is
    at least ``iou`` (the best-overlapping box is tried), otherwise a false positive
    (duplicates included). AP is the area under the precision-recall curve after making
    precision monotone (the VOC 2010+ all-point rule).

    Parameters
    ----------
    detections : per image ``(boxes (N, 4), labels (N,), scores (N,))``.
    ground_truths : per image ``(boxes (M, 4), labels (M,))``.
    """
    if len(detections) != len(ground_truths):
        raise ValueError(f"`detections` and `ground_truths` must list the same images; got "
                         f"{len(detections)} and {len(ground_truths)}")
    gts, scored = [], []
    for i, (det, gt) in enumerate(zip(detections, ground_truths)):
        db, dl, ds = det
        gb, gl = gt
        db, gb = _array(db, float, (4,), "boxes"), _array(gb, float, (4,), "boxes")
        dl, ds, gl = _vector(dl), _vector(ds), _vector(gl)
        gts.append(gb[gl == label])
        for b, s in zip(db[dl == label], ds[dl == label]):
            scored.append((float(s), i, b))
    n_gt = sum(len(g) for g in gts)
    if n_gt == 0:
        return float("nan")
    scored.sort(key=lambda t: -t[0])  # stable: ties keep input order
    used = [np.zeros(len(g), bool) for g in gts]
    tp = np.zeros(len(scored))
    for k, (_, i, b) in enumerate(scored):
        if len(gts[i]) == 0:
            continue
        o = _iou(b, gts[i])
        o[used[i]] = -1.0
        j = int(o.argmax())
        if o[j] >= iou:
            used[i][j] = True
            tp[k] = 1
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(tp) + 1)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(detections: Sequence, ground_truths: Sequence,
                           iou: float = 0.5) -> float:
    """Mean of :func:`average_precision` over the classes that have ground truth.

    Raises
    ------
    ValueError
        When no image has a ground-truth box.

    >>> gt = [([[0, 0, 10, 10]], [3])]
    >>> mean_average_precision([([[0, 0, 10, 10]], [3], [0.9])], gt)
    1.0
    """
    labels = set()
    for gt in ground_truths:
        labels.update(int(v) for v in _vector(gt[1]))
    if not labels:
        raise ValueError("`ground_truths` holds no boxes; mAP is undefined")
    return float(np.mean([average_precision(detections, ground_truths, c, iou)
                          for c in sorted(labels)]))
