"""FER-2013 as one CSV file (``emotion,pixels,Usage``), the challenge's original release.

Each row holds a label 0..6 (:data:`edgefer.labels.CLASSES` order), 2304 space-separated gray
values (a 48x48 face crop, row-major) and the ``Usage`` that names its split:
``Training`` -> ``train``, ``PublicTest`` -> ``publictest``, ``PrivateTest`` -> ``privatetest``
(any other value becomes its lower-case self). Without a ``Usage`` column every row is in
split ``all``.

Tolerated: a UTF-8 byte-order mark, CRLF line ends, blank lines, extra columns, columns in any
order, header names in any case (``label`` for ``emotion``). A bad row raises DataError naming
the file, the row and what is wrong, or with ``on_error="skip"`` is counted in ``skipped``.

Rows are numbered from 0 for the first data row (the header is not a row), as FER+'s
``fer%07d.png`` names do; each item's source is ``"path:row"``. Error messages also give the
line number in the file.
"""
from __future__ import annotations

import csv
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from edgefer.data import _cache
from edgefer.data.dataset import FaceDataset
from edgefer.data.folders import check_on_error, check_split, sort_splits
from edgefer.errors import DataError
from edgefer.io import missing_reason
from edgefer.labels import NUM_CLASSES

log = logging.getLogger(__name__)

SIDE = 48
NUM_PIXELS = SIDE * SIDE
USAGE_SPLITS = {"training": "train", "publictest": "publictest", "privatetest": "privatetest"}
"""FER-2013 ``Usage`` value (lower case) -> edgefer split name."""

LABEL_COLUMNS = ("emotion", "label")

# Skip reasons (keys of FaceDataset.skipped).
SKIP_PIXEL_COUNT = "bad row: wrong pixel count"
SKIP_PIXEL_VALUE = "bad row: non-numeric pixel"
SKIP_PIXEL_RANGE = "bad row: pixel outside 0..255"
SKIP_LABEL = "bad row: label not 0..6"
SKIP_COLUMNS = "bad row: missing columns"
SKIP_USAGE = "bad row: empty Usage"


def read_fer_csv(path: str | os.PathLike, *, split: str | None = None, on_error: str = "raise",
                 progress: bool | None = None, cache: bool = True) -> dict[str, FaceDataset]:
    """Read a FER-2013 CSV into one FaceDataset per split (48x48 uint8 face crops).

    Parameters
    ----------
    path : the CSV file.
    split : return only this split (ValueError listing the available ones if absent).
    on_error : ``"raise"`` DataError at the first bad row, or ``"skip"`` bad rows (counted
        per reason in ``skipped`` and logged).
    progress : show a tqdm bar; ``None`` shows one only when stderr is a terminal.
    cache : keep the parsed arrays in the on-disk cache, keyed by the file's size and mtime.

    Returns
    -------
    dict split name -> FaceDataset with images uint8 (N, 48, 48), ``needs_detection=False``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataError
        No ``pixels`` or ``emotion`` column, no rows, or a bad row (file, row, line and problem).
    """
    check_on_error(on_error)
    path_ = Path(path)
    if not path_.exists():
        raise FileNotFoundError(f"{path}: {missing_reason(path_)}")
    if not path_.is_file():
        raise DataError(f"{path}: not a file, expected a FER-2013 CSV")
    key = _cache.signature([path_], "fer-csv") if cache else None
    parsed = _cache.load("fercsv", key) if key else None
    if parsed is None:
        parsed = _parse(path_, progress)
        if key:
            _cache.save("fercsv", key, parsed)
    skipped: dict[str, int] = {}
    for reason, msg in zip(parsed["error_reasons"], parsed["error_messages"]):
        if on_error == "raise":
            raise DataError(str(msg))
        log.warning("%s; skipped", msg)
        skipped[str(reason)] = skipped.get(str(reason), 0) + 1
    usage = parsed["splits"]
    if len(usage) == 0:
        raise DataError(f"{path}: no valid rows")
    names = sort_splits(set(usage.tolist()))
    if split is not None:
        check_split(split, names)
        names = [split]
    out = {}
    for name in names:
        sel = np.flatnonzero(usage == name)
        out[name] = FaceDataset(
            images=parsed["images"][sel], labels=parsed["labels"][sel],
            sources=[f"{path}:{r}" for r in parsed["rows"][sel].tolist()],
            split=name, needs_detection=False, skipped=dict(skipped))
    return out


def _lines(f, bar, path: Path):
    for n, line in enumerate(f, 1):
        bar.update(len(line))
        if not line.isascii():
            _check_utf8(line, path, n)
        yield line


def _check_utf8(line: str, path: Path, n: int) -> None:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:  # an undecodable byte, kept as a lone surrogate by surrogateescape
        byte = ord(line[exc.start]) - 0xDC00
        raise DataError(f"{path}: line {n}: not UTF-8 text (byte 0x{byte:02x} at column {exc.start + 1}); "
                        "save the CSV as UTF-8") from None


def _parse(path: Path, progress: bool | None) -> dict[str, np.ndarray]:
    """All valid rows as arrays, and every bad row's reason and message (applied by the caller)."""
    from tqdm.auto import tqdm
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    images, labels, rows, splits, reasons, messages = [], [], [], [], [], []
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f, \
            tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"reading {path.name}",
                 disable=disable, leave=False) as bar:
        reader = csv.reader(_lines(f, bar, path))
        records = _records(reader, path)
        try:
            header = [h.strip().lower() for h in next(records)]
        except StopIteration:
            raise DataError(f"{path}: empty file, expected a header emotion,pixels,Usage") from None
        if "pixels" not in header:
            raise DataError(f"{path}: no `pixels` column; expected FER-2013's emotion,pixels,Usage, "
                            f"got columns {', '.join(header)}")
        i_label = next((header.index(c) for c in LABEL_COLUMNS if c in header), None)
        if i_label is None:
            raise DataError(f"{path}: no `emotion` column; expected FER-2013's emotion,pixels,Usage, "
                            f"got columns {', '.join(header)}")
        i_pixels = header.index("pixels")
        i_usage = header.index("usage") if "usage" in header else None
        need = max(i_label, i_pixels, -1 if i_usage is None else i_usage) + 1
        row = -1
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # np.fromstring on junk: warn or raise
            for fields in records:
                if not fields or all(not x.strip() for x in fields):
                    continue
                row += 1
                where = f"{path}: row {row} (line {reader.line_num})"
                if len(fields) < need:
                    reasons.append(SKIP_COLUMNS)
                    messages.append(f"{where}: {len(fields)} columns, expected at least {need}")
                    continue
                problem = _check_label(fields[i_label])
                if problem is None:
                    pixels, problem = _parse_pixels(fields[i_pixels])
                if problem is None and i_usage is not None and not fields[i_usage].strip():
                    problem = (SKIP_USAGE, "empty Usage, expected Training, PublicTest or PrivateTest")
                if problem is not None:
                    reasons.append(problem[0])
                    messages.append(f"{where}: {problem[1]}")
                    continue
                usage = "all" if i_usage is None else fields[i_usage].strip().lower()
                images.append(pixels.reshape(SIDE, SIDE))
                labels.append(int(fields[i_label]))
                rows.append(row)
                splits.append(USAGE_SPLITS.get(usage, usage))
    if row < 0:
        raise DataError(f"{path}: no rows after the header")
    return {
        "images": np.stack(images) if images else np.zeros((0, SIDE, SIDE), np.uint8),
        "labels": np.asarray(labels, dtype=np.int64), "rows": np.asarray(rows, dtype=np.int64),
        "splits": np.asarray(splits, dtype=str),
        "error_reasons": np.asarray(reasons, dtype=str), "error_messages": np.asarray(messages, dtype=str)}


def _records(reader, path: Path):
    """The CSV reader's records; a CSV syntax error (a field over the size limit) raises DataError naming the line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None


def _check_label(text: str) -> tuple[str, str] | None:
    s = text.strip()
    if not (s.isascii() and s.isdigit()) or int(s) >= NUM_CLASSES:
        return SKIP_LABEL, f"label {s!r} is not an integer 0..{NUM_CLASSES - 1}"
    return None


def _parse_pixels(text: str) -> tuple[np.ndarray | None, tuple[str, str] | None]:
    """(pixels uint8 (2304,), None) or (None, (reason, message))."""
    try:  # fast path: C parsing of the whole row
        values = np.fromstring(text, dtype=np.int64, sep=" ")
        if values.size == NUM_PIXELS and values.min() >= 0 and values.max() <= 255:
            return values.astype(np.uint8), None
    except (ValueError, DeprecationWarning):
        pass
    tokens = text.split()  # slow path, only to say exactly what is wrong
    for k, tok in enumerate(tokens):
        if not (tok.isascii() and tok.isdigit()):
            return None, (SKIP_PIXEL_VALUE, f"pixel {k} is {tok[:20]!r}, not an integer 0..255")
    if len(tokens) != NUM_PIXELS:
        return None, (SKIP_PIXEL_COUNT, f"{len(tokens)} pixel values, expected {NUM_PIXELS} (48x48)")
    for k, tok in enumerate(tokens):
        if int(tok) > 255:
            return None, (SKIP_PIXEL_RANGE, f"pixel {k} is {tok}, outside 0..255")
    return None, (SKIP_PIXEL_VALUE, "pixels could not be parsed")
