"""Counts per split and class of a data set, and what was left out, without training anything."""
from __future__ import annotations

import os

from edgefer.data.fer_csv import read_fer_csv
from edgefer.data.folders import check_split, index_class_folders, index_fer_folders
from edgefer.data.lfw import index_lfw
from edgefer.data.load import resolve

NOTE_FILES = ("counted from file names (and legend.csv for LFW); no image was opened, so a corrupt "
              "image shows up only when the set is loaded (train, evaluate)")
NOTE_CSV = "every row of the CSV was parsed and its pixels decoded"

_INDEXERS = {"fer-folders": index_fer_folders, "folders": index_class_folders, "lfw": index_lfw}


def summarize(path: str | os.PathLike, split: str | None = None, format: str | None = None) -> dict:
    """Items per split and class of the data set at ``path``, and the items left out per reason.

    Folders and LFW are counted from file names and ``legend.csv`` alone (no image is
    decoded, so a corrupt image shows up only when the set is loaded); a FER-2013 CSV is
    parsed (and cached), so a bad row raises DataError here already.

    Returns
    -------
    ``{"splits": {name: {"total": n, "per_class": {class: n}}}, "skipped": {reason: n},
    "images_opened": bool, "note": str}``,
    splits in their usual order (``train``, ``publictest``, ``privatetest``; ``all`` for a set
    without splits), classes in :data:`edgefer.labels.CLASSES` order, all counts ints.
    ``skipped`` counts the whole source, whichever ``split`` is asked for. ``images_opened``
    says whether every image was decoded (a FER-2013 CSV's rows are) or only counted from file
    names (folders, LFW), and ``note`` says the same in words.

    Raises
    ------
    FileNotFoundError, DataError, ValueError
        As :func:`edgefer.data.load.load_splits` (missing path, no data, unknown split or format).
    """
    p, fmt = resolve(path, format)
    if fmt == "fer-csv":
        datasets = read_fer_csv(p, split=split)
        per_split = {name: ds.per_class() for name, ds in datasets.items()}
        skipped = next(iter(datasets.values())).skipped
    else:
        index = _INDEXERS[fmt](p)
        names = index.split_names()
        if split is not None:
            check_split(split, names)
            names = [split]
        per_split = {name: index.per_class(index.select(name)) for name in names}
        skipped = index.skipped
    return {
        "splits": {name: {"total": int(sum(pc.values())), "per_class": {c: int(n) for c, n in pc.items()}}
                   for name, pc in per_split.items()},
        "skipped": {reason: int(n) for reason, n in skipped.items()},
        "images_opened": fmt == "fer-csv",
        "note": NOTE_CSV if fmt == "fer-csv" else NOTE_FILES,
    }
