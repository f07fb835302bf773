"""One entry point for every data set: find the format, read it, attach FER+ soft labels.

Formats (detected from the path, or named with ``format=``):

========================  ==================================================================
``fer-csv``               a ``.csv`` file with a ``pixels`` column (FER-2013's original
                          release), or a folder holding exactly one such file
``fer-folders``           a folder with ``train/`` and/or ``test/`` class folders whose files
                          carry ``Training_``/``PublicTest_``/``PrivateTest_`` prefixes
``lfw``                   a folder with ``legend.csv`` and ``lfw-deepfunneled/``
``folders``               any other folder of class subfolders (optionally inside split folders)
========================  ==================================================================

FER+ soft labels (Barsoum et al., 2016) are attached as ``FaceDataset.soft_labels`` when
present: ``ferplus.csv`` beside FER-2013 folders (keyed by relative file path), or
``fer2013new.csv`` beside a FER-2013 CSV (keyed by row). See :func:`ferplus_soft_labels`.
"""
from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np

import edgefer
from edgefer.data.dataset import FaceDataset
from edgefer.data.fer_csv import USAGE_SPLITS, read_fer_csv
from edgefer.data.folders import (
    FER_FOLDERS, FER_PREFIXES, LazyImages, check_split, read_class_folders, read_fer_folders,
)
from edgefer.data.lfw import LEGEND, PHOTOS, read_lfw
from edgefer.errors import DataError
from edgefer.io import is_image_file, missing_reason
from edgefer.labels import CLASSES, label_index

log = logging.getLogger(__name__)

FORMATS = ("fer-csv", "fer-folders", "folders", "lfw")
DATASETS_ENV = "EDGEFER_DATASETS"

FERPLUS_FOLDERS_FILE = "ferplus.csv"
"""FER+ votes beside FER-2013 folders: ``file,ferplus_image,neutral,...,contempt,unknown,NF``."""
FERPLUS_CSV_FILE = "fer2013new.csv"
"""FER+ votes as published, one row per row of ``fer2013.csv``: ``Usage,Image name,neutral,...,NF``."""
FERPLUS_VOTES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                 "contempt", "unknown", "nf")
"""FER+ vote columns (lower case). contempt, unknown and NF have no edgefer class and are dropped."""


def dataset_root() -> Path:
    """Folder holding the real data sets: ``$EDGEFER_DATASETS``, else ``<repo>/../shared/datasets``."""
    env = os.environ.get(DATASETS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(edgefer.__file__).resolve().parents[2] / "shared" / "datasets"


# --------------------------------------------------------------------------- format detection


def _csv_header(path: Path) -> list[str]:
    # The first line alone: a bad byte further down is the reader's to name, with its line.
    try:
        with open(path, "rb") as f:
            first = f.readline(1 << 16).decode("utf-8-sig")
        return [h.strip().lower() for h in next(csv.reader([first]), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _fer_csvs(folder: Path) -> list[Path]:
    return sorted(c for c in folder.glob("*.csv") if "pixels" in _csv_header(c))


def _has_fer_prefixes(folder: Path, look: int = 20) -> bool:
    """True when some of the first files in ``train/<class>/`` or ``test/<class>/`` carry a FER prefix."""
    for top in FER_FOLDERS:
        if not (folder / top).is_dir():
            continue
        for cls in (folder / top).iterdir():
            if not cls.is_dir():
                continue
            with os.scandir(cls) as it:
                for k, entry in enumerate(it):
                    if k >= look:
                        break
                    if entry.name.startswith(tuple(FER_PREFIXES)) and is_image_file(entry.name):
                        return True
    return False


def detect_format(path: str | os.PathLike) -> str:
    """The format of the data set at ``path``, one of :data:`FORMATS`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataError
        ``path`` is an empty folder, or neither a FER-2013 CSV nor a folder of a known layout.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: {missing_reason(p, 'file or folder')}")
    if p.is_file():
        if p.suffix.lower() == ".csv" and "pixels" in _csv_header(p):
            return "fer-csv"
        raise DataError(f"{path}: not a data set; expected a FER-2013 CSV with columns "
                        "emotion,pixels,Usage, or a folder")
    if (p / LEGEND).is_file() and (p / PHOTOS).is_dir():
        return "lfw"
    if _has_fer_prefixes(p):
        return "fer-folders"
    if any(d.is_dir() and not d.name.startswith(".") for d in p.iterdir()):
        return "folders"
    if len(_fer_csvs(p)) == 1:
        return "fer-csv"
    if not any(p.iterdir()):
        raise DataError(f"{path}: empty folder, no images")
    raise DataError(f"{path}: no images found; expected class subfolders (happy/, sad/, ...), "
                    f"FER-2013's train/ and test/ folders, LFW's {LEGEND} with {PHOTOS}/, or a FER-2013 CSV")


def resolve(path: str | os.PathLike, format: str | None = None) -> tuple[Path, str]:
    """``(path, format)`` checked: the format detected or validated, a folder holding one FER CSV replaced by it."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: {missing_reason(p, 'file or folder')}")
    if format is None:
        format = detect_format(p)
    elif format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; available: {', '.join(FORMATS)}")
    if format == "fer-csv" and p.is_dir():
        found = _fer_csvs(p)
        if len(found) != 1:
            raise DataError(f"{path}: expected one FER-2013 CSV (with a `pixels` column) in the folder, "
                            f"found {len(found)}")
        p = found[0]
    elif format != "fer-csv" and not p.is_dir():
        raise DataError(f"{path}: format {format!r} needs a folder, got a file")
    return p, format


# --------------------------------------------------------------------------- FER+ soft labels


def read_ferplus_votes(path: str | os.PathLike, key_column: str | None = "file") -> tuple[list[str], np.ndarray]:
    """FER+ vote counts per image, in edgefer's class order.

    Parameters
    ----------
    path : ``ferplus.csv`` or ``fer2013new.csv``.
    key_column : column naming each image (``file``); ``None`` keys rows by their number
        (``"0"``, ``"1"``, ...), as ``fer2013new.csv`` follows the rows of ``fer2013.csv``.

    Returns
    -------
    keys : one per row.
    votes : float32 (M, 7), columns in :data:`edgefer.labels.CLASSES` order; contempt, unknown
        and not-a-face votes dropped; NaN where the row has no votes (empty cells).
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip().lower() for h in next(reader, [])]
            missing = [c for c in (*FERPLUS_VOTES[:7], *([key_column] if key_column else [])) if c not in header]
            if missing:
                raise DataError(f"{path}: not a FER+ file; missing columns {', '.join(missing)}")
            cols = [header.index(name) for name in FERPLUS_VOTES[:7]]
            order = [label_index(name) for name in FERPLUS_VOTES[:7]]
            i_key = None if key_column is None else header.index(key_column)
            keys, cells = [], []
            for row in reader:
                if not row:  # blank lines are not rows, as in fer_csv
                    continue
                n = len(keys)
                try:
                    cells.append([row[i].strip() or "nan" for i in cols])
                    keys.append(str(n) if i_key is None else row[i_key].strip())
                except IndexError:
                    raise DataError(f"{path}: row {n} (line {reader.line_num}): {len(row)} columns, "
                                    f"expected {len(header)}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV ({exc})") from None
    try:
        found = np.array(cells, dtype=np.float32).reshape(-1, len(cols))
    except ValueError as exc:
        raise DataError(f"{path}: vote counts must be numbers ({exc})") from None
    votes = np.empty_like(found)
    votes[:, order] = found
    votes[np.isnan(found).any(axis=1)] = np.nan  # a row with an empty cell has no FER+ entry
    return keys, votes


def ferplus_soft_labels(votes: np.ndarray) -> np.ndarray:
    """Vote counts (N, 7) -> float32 distributions (N, 7) summing to 1 per row.

    Rows without a vote among the seven classes (all votes for contempt, unknown or not-a-face,
    or no FER+ entry at all) become NaN rows: there is no target, and the caller decides whether
    to fall back to the hard label or drop the item (``np.isnan(soft[:, 0])`` finds them).
    """
    votes = np.asarray(votes, dtype=np.float64)
    total = votes.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        soft = np.where(total > 0, votes / total, np.nan)
    return soft.astype(np.float32)


def _attach_soft_labels(datasets: dict[str, FaceDataset], table: dict[str, np.ndarray], key_of, source: Path) -> None:
    empty = np.full(len(CLASSES), np.nan, dtype=np.float32)
    for name, ds in datasets.items():
        votes = np.stack([table.get(key_of(s), empty) for s in ds.sources]) if len(ds) else np.zeros((0, 7))
        ds.soft_labels = ferplus_soft_labels(votes)
        n_nan = int(np.isnan(ds.soft_labels[:, 0]).sum())
        log.info("%s: FER+ soft labels from %s; %d items without votes among the seven (NaN rows)",
                 name, source, n_nan)


def _attach_ferplus_folders(root: Path, datasets: dict[str, FaceDataset]) -> None:
    path = root / FERPLUS_FOLDERS_FILE
    if not path.is_file():
        return
    keys, votes = read_ferplus_votes(path)
    table = dict(zip(keys, votes))
    prefix = os.path.join(str(root), "")  # sources are root joined with the relative path
    _attach_soft_labels(datasets, table, lambda s: s[len(prefix):].replace(os.sep, "/"), path)


def _attach_ferplus_csv(csv_path: Path, datasets: dict[str, FaceDataset]) -> None:
    path = csv_path.parent / FERPLUS_CSV_FILE
    if not path.is_file() or path.resolve() == csv_path.resolve():
        return
    keys, votes = read_ferplus_votes(path, key_column=None)
    with open(path, newline="", encoding="utf-8-sig") as f:
        usage = [r.get("Usage", "") or "" for r in csv.DictReader(f)]
    rows = {name: [int(s.rsplit(":", 1)[1]) for s in ds.sources] for name, ds in datasets.items()}
    last = max((max(r) for r in rows.values() if r), default=-1)
    # FER+ follows fer2013.csv row by row; a shorter file or other Usage values means another CSV.
    wrong = sum(USAGE_SPLITS.get(usage[i].strip().lower(), name) != name
                for name, r in rows.items() if name in USAGE_SPLITS.values() for i in r if i < len(usage))
    if len(keys) <= last or wrong:
        log.warning("%s does not follow the rows of %s (%d rows for row numbers up to %d, %d Usage "
                    "mismatches); not attaching FER+ soft labels", path, csv_path, len(keys), last, wrong)
        return
    table = dict(zip(keys, votes))
    _attach_soft_labels(datasets, table, lambda s: s.rsplit(":", 1)[1], path)


# --------------------------------------------------------------------------- loading


def load_splits(path: str | os.PathLike, format: str | None = None, *, split: str | None = None,
                on_error: str = "raise", progress: bool | None = None, cache: bool = True,
                needs_detection: bool | None = None) -> dict[str, FaceDataset]:
    """Every split of the data set at ``path``, as ``{split name: FaceDataset}``.

    Parameters
    ----------
    path : a FER-2013 CSV, or a folder (FER-2013 image release, LFW, class subfolders).
    format : one of :data:`FORMATS`, overriding detection.
    split : read only this split (ValueError listing the available ones when absent).
    on_error : ``"raise"`` at the first unreadable image or bad CSV row, or ``"skip"`` it
        (counted in ``skipped`` and logged). LFW photos are read lazily, on access.
    progress : show a progress bar while decoding; ``None``: only on a terminal.
    cache : keep decoded images in the cache folder (``$EDGEFER_CACHE``, default
        ``~/.cache/edgefer``; ``EDGEFER_CACHE=off`` disables it).
    needs_detection : for class folders, whether images are photos needing face detection
        (``None``: decided from the image sizes, see :func:`edgefer.data.folders.read_class_folders`).

    Split names: ``train``, ``publictest``, ``privatetest`` for FER-2013; the split folder
    names for class folders inside split folders; ``all`` otherwise.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataError
        Empty folder, no images, an unknown layout, or bad content (naming the file or row).
    ValueError
        Unknown ``format`` or ``split``.
    """
    p, fmt = resolve(path, format)
    if fmt == "fer-csv":
        out = read_fer_csv(p, split=split, on_error=on_error, progress=progress, cache=cache)
        _attach_ferplus_csv(p, out)
    elif fmt == "fer-folders":
        out = read_fer_folders(p, split=split, on_error=on_error, progress=progress, cache=cache)
        _attach_ferplus_folders(p, out)
    elif fmt == "lfw":
        out = read_lfw(p, split=split)
    else:
        out = read_class_folders(p, split=split, on_error=on_error, progress=progress, cache=cache,
                                 needs_detection=needs_detection)
    if needs_detection is not None:
        for ds in out.values():
            ds.needs_detection = needs_detection
    return out


def load_dataset(path: str | os.PathLike, *, split: str | None = None, format: str | None = None,
                 on_error: str = "raise", progress: bool | None = None, cache: bool = True,
                 needs_detection: bool | None = None) -> FaceDataset:
    """One FaceDataset from the data set at ``path``: the split named, or all items.

    With ``split=None`` a data set with several splits is returned whole, its splits
    concatenated in order (``split="all"``); the item's split stays visible in its source.
    Use :func:`load_splits` to keep them apart (train on ``train``, report ``privatetest``).
    Parameters, formats and errors as in :func:`load_splits`.
    """
    splits = load_splits(path, format, split=split, on_error=on_error, progress=progress, cache=cache,
                         needs_detection=needs_detection)
    if split is not None:
        check_split(split, list(splits))
        return splits[split]
    if len(splits) == 1:
        return next(iter(splits.values()))
    return concat(list(splits.values()), split="all")


def concat(datasets: list[FaceDataset], split: str = "all") -> FaceDataset:
    """The items of ``datasets`` in order, as one FaceDataset named ``split``.

    Images stay one (N, H, W) array when all parts are arrays of one image size, and lazy when
    all parts are :class:`LazyImages`; otherwise a list. Soft labels are kept only when every part has them; ``skipped`` counts are taken from
    the first part (every part of one read carries the same whole-source counts).
    """
    if all(isinstance(d.images, np.ndarray) for d in datasets) and \
            len({d.images.shape[1:] for d in datasets}) == 1:
        images = np.concatenate([d.images for d in datasets])
    elif all(isinstance(d.images, LazyImages) for d in datasets):
        images = LazyImages([p for d in datasets for p in d.images.paths])
    else:
        images = [im for d in datasets for im in d.images]
    soft = None
    if all(d.soft_labels is not None for d in datasets):
        soft = np.concatenate([d.soft_labels for d in datasets])
    return FaceDataset(
        images=images, labels=np.concatenate([d.labels for d in datasets]),
        sources=[s for d in datasets for s in d.sources], split=split,
        needs_detection=any(d.needs_detection for d in datasets),
        skipped=dict(datasets[0].skipped) if datasets else {}, soft_labels=soft)


# --------------------------------------------------------------------------- choosing a split

HOLDOUT_EVERY = 10
"""A data set with a single split trains on 9 items in 10 and validates on the tenth
(:func:`holdout`)."""


def select_split(splits: dict[str, FaceDataset], split: str | None, default: str | None = None,
                 *, path: str | os.PathLike = "") -> tuple[str, FaceDataset]:
    """``(name, dataset)`` of the split to use from ``splits`` (as :func:`load_splits` returns them).

    ``split`` names one (ValueError listing the available ones when absent). With
    ``split=None``: ``default`` when the data set has it, the whole set when it has a single
    split (a folder of class subfolders, a CSV without a usage column), else a ValueError
    asking for ``--split``.
    """
    names = list(splits)
    if split is not None:
        check_split(split, names)
        return split, splits[split]
    if default is not None and default in splits:
        return default, splits[default]
    if len(splits) == 1:
        return names[0], splits[names[0]]
    raise ValueError(f"{path}: has the splits {', '.join(names)}; choose one with --split")


def holdout_key(source: str) -> str:
    """What :func:`holdout` hashes of an item's source: its last two path parts (class folder and
    file name, or file name and CSV row), so that moving the data set keeps the choice."""
    return "/".join(Path(source.replace("\\", "/")).parts[-2:])


def holdout(ds: FaceDataset, every: int = HOLDOUT_EVERY) -> tuple[FaceDataset, FaceDataset]:
    """``(train, validation)``: a single-split data set divided by a fixed rule.

    An item goes to validation when the SHA-1 of :func:`holdout_key` of its source, read as a
    number, is a multiple of ``every`` (about one item in ``every``). The rule does not depend on
    the seed or on the order of the files, and adding images leaves the others where they were.
    """
    import hashlib

    val = np.array([int(hashlib.sha1(holdout_key(s).encode()).hexdigest()[:12], 16) % every == 0
                    for s in ds.sources], dtype=bool)
    train, validation = ds.subset(~val), ds.subset(val)
    validation.split = f"{ds.split} (held out: 1 in {every})"
    train.split = f"{ds.split} (less the held-out part)"
    return train, validation
