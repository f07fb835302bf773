"""Evaluate a model on a data set split, the same path recognition takes."""
from __future__ import annotations

import hashlib
import logging

import numpy as np

from edgefer.data.dataset import FaceDataset
from edgefer.data.pixels import dataset_pixels
from edgefer.evaluate.metrics import classification_report

log = logging.getLogger(__name__)


def pixel_hashes(images) -> list[str]:
    """SHA-1 of each image's raw pixels: identical images (FER-2013's twins) share a hash."""
    return [hashlib.sha1(np.ascontiguousarray(im).tobytes()).hexdigest() for im in images]


def evaluate(recognizer, ds: FaceDataset, *, detect: bool | None = None, labels: str = "dataset",
             exclude: set[str] | None = None, progress: bool = False) -> dict:
    """Metrics of ``recognizer`` on ``ds``.

    Parameters
    ----------
    recognizer : :class:`edgefer.recognize.Recognizer` (its checkpoint's preprocessing is used).
    detect : find the largest face first with ``recognizer.detector`` (default: when the items
        are whole photos);
        the whole image is used when none is found, and counted as ``no_face``.
    labels : ``dataset`` (the set's own labels) or ``ferplus`` (FER+ crowd majority among the
        seven classes; items with no FER+ vote among them are left out and counted).
    exclude : pixel hashes (see :func:`pixel_hashes`) of items to report separately, e.g. the
        test images with an identical twin in the training set; adds ``accuracy_without_twins``.
    """
    y = ds.labels
    keep = np.ones(len(ds), bool)
    if labels == "ferplus":
        if ds.soft_labels is None:
            raise ValueError(f"split {ds.split!r} has no FER+ labels (ferplus.csv not found beside the data)")
        keep = ~np.isnan(ds.soft_labels[:, 0])
        y = np.where(keep, np.nan_to_num(ds.soft_labels).argmax(1), -1)
    elif labels != "dataset":
        raise ValueError(f"`labels` must be 'dataset' or 'ferplus'; got {labels!r}")
    pixels, counts = dataset_pixels(ds, recognizer.spec, detect=detect, progress=progress,
                                    detector=getattr(recognizer, "detector", None))
    probs = recognizer.probabilities(pixels)
    pred = probs.argmax(1)
    report = classification_report(y[keep], pred[keep])
    report.update(split=ds.split, labels=labels, model=recognizer.name, checkpoint=str(recognizer.path),
                  detect=bool(ds.needs_detection if detect is None else detect),
                  detector=getattr(getattr(recognizer, "detector", None), "name", None),
                  left_out_no_label=int((~keep).sum()), **counts)
    if exclude:
        twin = np.array([h in exclude for h in pixel_hashes(ds.images)], bool)
        solo = keep & ~twin
        report["accuracy_without_twins"] = float((pred[solo] == y[solo]).mean()) if solo.any() else float("nan")
        report["n_without_twins"] = int(solo.sum())
    return report
