"""Classification metrics over the seven classes: accuracy, recall, F1, confusion matrix."""
from __future__ import annotations

import numpy as np

from edgefer.labels import CLASSES, NUM_CLASSES


def confusion_matrix(y_true, y_pred, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """int64 (K, K): rows are true classes, columns predicted classes."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"`y_true` and `y_pred` differ in shape: {y_true.shape} vs {y_pred.shape}")
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


BALANCED_MIN_SUPPORT = 50
"""Classes with fewer items than this are left out of ``balanced_accuracy``: LFW's crowd labels
hold 5-12 photos of fear and of disgust per half, too few for a recall that means anything."""


def balanced_accuracy(y_true, y_pred, min_support: int = BALANCED_MIN_SUPPORT) -> tuple[float, list[str]]:
    """Mean recall over the classes with at least ``min_support`` items in ``y_true``, and those
    classes' names (NaN and ``[]`` when none has that many)."""
    cm = confusion_matrix(y_true, y_pred)
    support = cm.sum(1)
    keep = support >= min_support
    if not keep.any():
        return float("nan"), []
    recall = np.diag(cm)[keep] / support[keep]
    return float(recall.mean()), [c for c, k in zip(CLASSES, keep) if k]


def classification_report(y_true, y_pred) -> dict:
    """accuracy, balanced_accuracy (mean recall over the classes with at least
    :data:`BALANCED_MIN_SUPPORT` items, named in ``balanced_accuracy_classes``), macro_f1 (mean F1
    over the classes present in ``y_true``, named in ``macro_f1_classes``: a class the data does
    not hold has no F1 and is left out, not counted as 0), n,
    per_class {name: {recall, precision, f1, support}}, confusion."""
    cm = confusion_matrix(y_true, y_pred)
    n = int(cm.sum())
    tp = np.diag(cm).astype(float)
    support = cm.sum(1).astype(float)
    predicted = cm.sum(0).astype(float)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    bacc, bacc_classes = balanced_accuracy(y_true, y_pred)
    return {
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "balanced_accuracy": bacc,
        "balanced_accuracy_classes": bacc_classes,
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "macro_f1_classes": [c for c, k in zip(CLASSES, present) if k],
        "n": n,
        "per_class": {c: {"recall": float(recall[i]), "precision": float(precision[i]),
                          "f1": float(f1[i]), "support": int(support[i])}
                      for i, c in enumerate(CLASSES)},
        "confusion": cm.tolist(),
    }
