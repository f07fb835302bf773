"""Knowledge distillation: a teacher model's probabilities as soft training targets.

``edgefer train --teacher MODEL`` and ``scripts/gpu_kit.py pack`` both come here: the teacher
(a shipped model's role or name, or a model file, an ensemble manifest included) classifies the
training images once, in its own preprocessing and test-time views; the run records
:func:`teacher_id`, and refuses to resume with another teacher.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from edgefer.io import atomic_write_bytes

log = logging.getLogger(__name__)

TARGETS_FILE = "teacher_targets.npy"
"""The teacher's probabilities (N, 7) for the training images, kept in the run's folder."""


def teacher_path(teacher: str | os.PathLike) -> Path:
    """The teacher's model file: a shipped model's role or name, or a model file.

    Raises FileNotFoundError, IsADirectoryError or ValueError as
    :func:`~edgefer.recognize.resolve_model` does.
    """
    from edgefer.recognize import resolve_model
    return resolve_model(teacher)


def teacher_id(path: str | os.PathLike) -> str:
    """What a run records of its teacher: the model file's name and the start of a SHA-256 of its
    bytes and, for an ensemble manifest (which only names its members), of its members' bytes in
    order.

    A resume is refused when this differs from the saved run's, so it pins the teacher's weights.

    Raises
    ------
    ValueError
        A manifest that is not valid or names a missing member.
    """
    from edgefer.classifiers import read_manifest

    path = Path(path)
    digest = hashlib.sha256(path.read_bytes())
    if path.suffix.lower() == ".json":
        for member in read_manifest(path)["members"]:
            digest.update(member.read_bytes())
    return f"{path.name} sha256:{digest.hexdigest()[:16]}"


def teacher_targets(path: str | os.PathLike, dataset, out_dir: str | os.PathLike | None = None, *,
                    resume: bool = False, progress: bool = False) -> np.ndarray:
    """The teacher's class probabilities, float32 (N, 7), for ``dataset``'s images.

    Parameters
    ----------
    path : the teacher's model file (see :func:`teacher_path`).
    dataset : a :class:`~edgefer.data.dataset.FaceDataset` (the training images).
    out_dir : where to keep them (:data:`TARGETS_FILE`, written atomically); None: not kept.
    resume : reuse the file in ``out_dir`` when it holds (N, 7) probabilities (before training,
        ``fit`` refuses a resume whose teacher differs from the saved run's); otherwise they are
        computed afresh.
    progress : show a progress bar while the images are decoded.

    Raises
    ------
    ValueError, DataError
        A teacher file that cannot be loaded, or an image that cannot be decoded.
    """
    from edgefer.classifiers import load_classifier
    from edgefer.data.pixels import dataset_pixels

    cache = Path(out_dir) / TARGETS_FILE if out_dir is not None else None
    if resume and cache is not None and cache.is_file():
        probs = np.load(cache)
        if probs.shape == (len(dataset), 7):
            return probs
    clf = load_classifier(path)
    pixels, _ = dataset_pixels(dataset, clf.spec, progress=progress)
    log.info("teacher %s: classifying %d training images", Path(path).name, len(pixels))
    probs = clf.probabilities(pixels).astype(np.float32)  # the classifier batches internally
    if cache is not None:
        atomic_write_bytes(cache, lambda f: np.save(f, probs))
    return probs


def mix_ferplus(teacher_probs: np.ndarray, votes: np.ndarray, share: float) -> np.ndarray:
    """Soft targets (N, 7): ``share`` of FER+'s vote distribution and the rest the teacher's
    probabilities, per image; the teacher's alone where an image has no FER+ vote among the seven
    classes (a NaN row in ``votes``, as the data readers give it).

    Raises
    ------
    ValueError
        ``share`` outside [0, 1], or ``votes`` not of the teacher's shape.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"`share` must be in [0, 1]; got {share}")
    votes = np.asarray(votes)
    if votes.shape != np.shape(teacher_probs):
        raise ValueError(f"`votes` {votes.shape} and `teacher_probs` {np.shape(teacher_probs)} differ in shape")
    has = ~np.isnan(votes[:, 0])
    mixed = np.asarray(teacher_probs, np.float32).copy()
    mixed[has] = share * votes[has] + (1 - share) * mixed[has]
    return mixed
