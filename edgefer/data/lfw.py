"""Labeled Faces in the Wild (deep-funneled photos) joined with a crowd-labelled ``legend.csv``.

Layout::

    <root>/legend.csv                                   user.id,image,emotion
    <root>/lfw-deepfunneled/<Person_Name>/<Person_Name>_NNNN.jpg

A legend row is joined to its photo by file name: ``Aaron_Eckhart_0001.jpg`` is
``lfw-deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg`` (the person is the name without
``_NNNN.jpg``). Labels are matched ignoring case, with the usual synonyms (``anger``,
``HAPPINESS``, ``sadness``; :func:`edgefer.labels.label_index`).

Rows left out, each counted under its reason in ``skipped`` (never silently):

* the image is not an LFW photo (the legend has ~920 rows for other images);
* the photo is missing from ``lfw-deepfunneled/``;
* a second row for the same photo (the first label is kept);
* a class outside the seven (``contempt``), or an empty label;
* a row with too few columns.

Items are whole 250x250 news photos, so ``needs_detection=True``. Images are read lazily
(:class:`edgefer.data.folders.LazyImages`): indexing, loading or summarizing the set decodes
no photo; an unreadable photo raises ImageReadError naming it when the item is used.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from pathlib import Path

import numpy as np

from edgefer.data.dataset import FaceDataset
from edgefer.data.folders import FileIndex, LazyImages
from edgefer.errors import DataError
from edgefer.labels import label_index

log = logging.getLogger(__name__)

LEGEND = "legend.csv"
PHOTOS = "lfw-deepfunneled"
LFW_NAME = re.compile(r"^(?P<person>.+)_\d{4}\.jpg$")
"""An LFW file name: ``<Person_Name>_NNNN.jpg``."""

HALVES = ("choose", "report")
"""LFW split by person into two halves (:func:`lfw_half`): models are *chosen* on one and
*reported* on the other, so that a reported LFW score was not selected for."""


def lfw_half(person: str) -> str:
    """The half of LFW that holds every photo of ``person`` (the folder name, e.g.
    ``Aaron_Eckhart``): ``"choose"`` when the first byte of the SHA-256 of the name's UTF-8 bytes
    is even, else ``"report"``. A fixed rule: no photo of one person is in both halves."""
    return HALVES[hashlib.sha256(person.encode("utf-8")).digest()[0] % 2]


SKIP_NOT_LFW = "legend row is not an LFW photo"
SKIP_MISSING = f"LFW photo missing from {PHOTOS}/"
SKIP_DUPLICATE = "photo labelled twice (first label kept)"
SKIP_CONFLICT = "photo labelled twice with another label (first label kept)"
SKIP_OUTSIDE_CLASSES = "class outside the seven"
SKIP_EMPTY_LABEL = "empty label"
SKIP_SHORT_ROW = "legend row with missing columns"


def photo_path(root: str | os.PathLike, image: str) -> Path | None:
    """Where LFW keeps the photo named ``image``, or ``None`` when the name is not LFW's."""
    m = LFW_NAME.match(image)
    return None if m is None else Path(root) / PHOTOS / m["person"] / image


def index_lfw(root: str | os.PathLike) -> FileIndex:
    """Join ``legend.csv`` with the photos under ``lfw-deepfunneled/``, without decoding any.

    Returns a FileIndex with split ``all``, ``needs_detection=True`` and the left-out rows
    counted per reason in ``skipped``.

    Raises
    ------
    FileNotFoundError
        ``root``, its ``legend.csv`` or its ``lfw-deepfunneled/`` folder is missing.
    DataError
        The legend lacks an ``image`` or ``emotion`` column, or no row joins a photo.
    """
    root = Path(root)
    legend = root / LEGEND
    for need in (root, legend, root / PHOTOS):
        if not need.exists():
            raise FileNotFoundError(f"{need}: no such file or folder (LFW needs {LEGEND} and {PHOTOS}/)")
    try:
        with open(legend, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip().lower() for h in next(reader, [])]
            rows = [r for r in reader if r]  # blank lines are not rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{legend}: not a readable UTF-8 CSV ({exc})") from None
    if "image" not in header or "emotion" not in header:
        raise DataError(f"{legend}: expected columns user.id,image,emotion; got {', '.join(header) or 'none'}")
    i_image, i_label = header.index("image"), header.index("emotion")
    files, labels, skipped = [], [], {}
    first_label: dict[str, str] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for r in rows:
        if len(r) <= max(i_image, i_label):
            skip(SKIP_SHORT_ROW)
            continue
        image, name = r[i_image].strip(), r[i_label].strip().lower()
        path = photo_path(root, image)
        if path is None:
            skip(SKIP_NOT_LFW)
            continue
        if image in first_label:
            skip(SKIP_DUPLICATE if first_label[image] == name else SKIP_CONFLICT)
            continue
        first_label[image] = name
        if not path.is_file():
            skip(SKIP_MISSING)
            continue
        label = label_index(name) if name else None
        if label is None:
            skip(f"{SKIP_OUTSIDE_CLASSES}: {name}" if name else SKIP_EMPTY_LABEL)
            continue
        files.append(str(path))
        labels.append(label)
    for reason, n in skipped.items():
        log.info("%s: %d legend rows skipped: %s", legend, n, reason)
    if not files:
        raise DataError(f"{legend}: no row names a photo under {root / PHOTOS} with one of the seven classes")
    return FileIndex(root, files, np.asarray(labels, dtype=np.int64), ["all"] * len(files), skipped,
                     needs_detection=True)


def read_lfw(root: str | os.PathLike, *, split: str | None = None) -> dict[str, FaceDataset]:
    """LFW with expression labels as ``{"all": FaceDataset}``, its images a lazy :class:`LazyImages`.

    ``split`` may be ``"all"`` (the default), or one of :data:`HALVES`, ``"choose"`` or
    ``"report"`` (the photos of the persons :func:`lfw_half` puts there; returned as
    ``{split: FaceDataset}``); ValueError otherwise. See :func:`index_lfw`.
    """
    if split is not None and split not in ("all", *HALVES):
        raise ValueError(f"unknown split {split!r}; available: all, {', '.join(HALVES)}")
    index = index_lfw(root)
    sel = index.select(None)
    name = "all"
    if split in HALVES:
        sel = np.asarray([i for i in sel if lfw_half(Path(index.files[i]).parent.name) == split], np.int64)
        name = split
    return {name: FaceDataset(
        images=LazyImages([index.files[i] for i in sel]), labels=index.labels[sel],
        sources=[index.files[i] for i in sel], split=name, needs_detection=True,
        skipped=dict(index.skipped))}
