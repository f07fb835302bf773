"""Image folders: FER-2013's ``train/`` + ``test/`` release, and any folder of class subfolders.

Two layouts are read:

* **FER-2013 folders** (the popular image release): ``train/<class>/Training_*.png`` and
  ``test/<class>/{PublicTest,PrivateTest}_*.png``. The split comes from the file-name prefix
  (the original CSV's ``Usage``), not from the folder, so ``test/`` yields two splits.
  Items are 48x48 face crops (``needs_detection=False``).
* **Class folders**: ``<root>/<class>/...`` (split ``all``), or ``<root>/<split>/<class>/...``
  (e.g. ``train/``, ``val/``, ``test/``). Class folder names are matched ignoring case and with
  the usual synonyms (``anger``, ``Happiness``, ...; see :func:`edgefer.labels.label_index`).
  Images inside a class folder may be nested in further subfolders.

Nothing is left out silently: a class folder outside the seven, a non-image file, a file
without a FER-2013 prefix or an unreadable image (with ``on_error="skip"``) is counted in
``FaceDataset.skipped`` under a reason and logged with :mod:`logging`.

Images are read as gray uint8 with OpenCV (fast) and, for JPEGs (EXIF orientation) or
anything OpenCV cannot decode, :func:`edgefer.io.read_image`. Decoded images are cached per
folder as ``.npz`` (see :mod:`edgefer.data._cache`), so a second read takes well under a second.
"""
from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from edgefer.data import _cache
from edgefer.data.dataset import FaceDataset
from edgefer.errors import DataError, ImageReadError
from edgefer.io import IMAGE_EXTENSIONS, IMAGE_FORMATS, MAX_PIXELS, pil_warnings_logged, read_image
from edgefer.labels import CLASSES, label_index

log = logging.getLogger(__name__)

FER_PREFIXES: dict[str, str] = {
    "Training_": "train", "PublicTest_": "publictest", "PrivateTest_": "privatetest"}
"""FER-2013 file-name prefix (the CSV's ``Usage``) -> edgefer split name."""

FER_FOLDERS = ("train", "test")
"""Top-level folders of the FER-2013 image release."""

SPLIT_ORDER = ("train", "training", "val", "valid", "validation", "publictest", "test", "privatetest", "all")
"""Splits are listed in this order; other names follow alphabetically."""

MAX_CROP_SIDE = 128
"""Auto ``needs_detection``: same-size square images up to this side are taken as face crops."""

ON_ERROR = ("raise", "skip")

# Skip reasons (keys of FaceDataset.skipped); a class or folder name is appended where useful.
SKIP_NOT_IMAGE = "not an image file"
SKIP_UNREADABLE = "unreadable image"
SKIP_OUTSIDE_CLASSES = "class folder outside the seven"
SKIP_NO_PREFIX = "file name without a FER-2013 prefix (Training_/PublicTest_/PrivateTest_)"
SKIP_NOT_IN_CLASS = "image outside any class folder"


@dataclass
class FileIndex:
    """Files of a data set with their labels and splits, found without decoding any image.

    Attributes
    ----------
    root : the data set's folder.
    files : image file paths (str, ``root`` joined with the relative path), one per item.
    labels : int64 (N,), indices into :data:`edgefer.labels.CLASSES`.
    splits : split name of each item.
    skipped : reason -> count of files left out.
    needs_detection : whether items are whole photos (None: decide after reading).
    """

    root: Path
    files: list[str]
    labels: np.ndarray
    splits: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    needs_detection: bool | None = None

    def split_names(self) -> list[str]:
        """Names of the splits present, in :data:`SPLIT_ORDER`."""
        return sort_splits(set(self.splits))

    def select(self, split: str | None) -> np.ndarray:
        """Indices of the items in ``split`` (all items for ``None``); ValueError if unknown."""
        if split is None:
            return np.arange(len(self.files))
        check_split(split, self.split_names())
        return np.flatnonzero(np.asarray(self.splits, dtype=object) == split)

    def per_class(self, index: np.ndarray) -> dict[str, int]:
        """Count per class name, in class order, of the items at ``index``."""
        counts = Counter(self.labels[index].tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(CLASSES)}


def sort_splits(names) -> list[str]:
    """Split names in :data:`SPLIT_ORDER`, unknown ones last in alphabetical order."""
    return sorted(names, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def check_split(split: str, available: Sequence[str]) -> None:
    """Raise ValueError naming the available splits when ``split`` is not one of them."""
    if split not in available:
        raise ValueError(f"unknown split {split!r}; available: {', '.join(available)}")


def check_on_error(on_error: str) -> None:
    """Raise ValueError unless ``on_error`` is ``"raise"`` or ``"skip"``."""
    if on_error not in ON_ERROR:
        raise ValueError(f"`on_error` must be 'raise' or 'skip'; got {on_error!r}")


# --------------------------------------------------------------------------- indexing


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files_under(folder: Path) -> list[str]:
    """All files below ``folder``, recursively, in sorted order (hidden folders excluded)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    return out


def _is_image(name: str) -> bool:
    # edgefer.io.is_image_file without building a Path: indexing 35k files stays fast.
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _count(skipped: dict[str, int], reason: str, n: int = 1) -> None:
    if n:
        skipped[reason] = skipped.get(reason, 0) + n


def _class_folder_files(folder: Path, skipped: dict[str, int]) -> tuple[list[str], int] | None:
    """Image files of one class folder and its label; ``None`` (counted) for a class outside the seven."""
    files = _files_under(folder)
    images = [f for f in files if _is_image(f)]
    _count(skipped, SKIP_NOT_IMAGE, len(files) - len(images))
    label = label_index(folder.name)
    if label is None:
        reason = f"{SKIP_OUTSIDE_CLASSES}: {folder.name}"
        _count(skipped, reason, len(images))
        log.warning("%s: not one of the seven classes (%s); skipping its %d images",
                    folder, ", ".join(CLASSES), len(images))
        return None
    return images, label


def index_fer_folders(root: str | os.PathLike) -> FileIndex:
    """Index FER-2013's image release (``train/<class>/``, ``test/<class>/``) without decoding.

    The split of each file comes from its name's prefix (:data:`FER_PREFIXES`); files without
    one are skipped and counted. Raises DataError naming ``root`` when no image is found.
    """
    root = Path(root)
    files, labels, splits, skipped = [], [], [], {}
    for top in FER_FOLDERS:
        if not (root / top).is_dir():
            continue
        for folder in _subdirs(root / top):
            found = _class_folder_files(folder, skipped)
            if found is None:
                continue
            for f in found[0]:
                name = os.path.basename(f)
                split = next((s for p, s in FER_PREFIXES.items() if name.startswith(p)), None)
                if split is None:
                    _count(skipped, SKIP_NO_PREFIX)
                    log.warning("%s: %s; skipped", f, SKIP_NO_PREFIX)
                    continue
                files.append(f)
                labels.append(found[1])
                splits.append(split)
        _count(skipped, SKIP_NOT_IN_CLASS, sum(_is_image(p.name) for p in (root / top).iterdir() if p.is_file()))
    if not files:
        raise DataError(f"{root}: no FER-2013 images found under train/<class>/ or test/<class>/")
    return FileIndex(root, files, np.asarray(labels, dtype=np.int64), splits, skipped, needs_detection=False)


def index_class_folders(root: str | os.PathLike) -> FileIndex:
    """Index ``<root>/<class>/`` (split ``all``) or ``<root>/<split>/<class>/`` without decoding.

    The layout is chosen by the top-level subfolders: when any is a class name, they are
    classes; otherwise each one holding class subfolders is a split. Raises DataError naming
    ``root`` when it has no class subfolders or no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    tops = _subdirs(root)
    skipped: dict[str, int] = {}
    root_images = sum(_is_image(p.name) for p in root.iterdir() if p.is_file())
    if any(label_index(d.name) is not None for d in tops):
        layout = [("all", tops)]
    else:
        layout = []
        for d in tops:
            inner = _subdirs(d)
            if any(label_index(c.name) is not None for c in inner):
                layout.append((d.name.lower(), inner))
            else:
                n = sum(_is_image(f) for f in _files_under(d))
                _count(skipped, f"folder without class subfolders: {d.name}", n)
                log.warning("%s: no class subfolders (%s); skipping its %d images", d, ", ".join(CLASSES), n)
        if not layout:
            found = ", ".join(d.name for d in tops[:10]) or "none"
            raise DataError(
                f"{root}: no class subfolders; expected <class>/ or <split>/<class>/ folders named "
                f"like {', '.join(CLASSES)}; found subfolders: {found}")
    _count(skipped, SKIP_NOT_IN_CLASS, root_images)
    files, labels, splits = [], [], []
    for split, folders in layout:
        for folder in folders:
            found = _class_folder_files(folder, skipped)
            if found is not None:
                files += found[0]
                labels += [found[1]] * len(found[0])
                splits += [split] * len(found[0])
    if not files:
        raise DataError(f"{root}: no images found in the class folders")
    return FileIndex(root, files, np.asarray(labels, dtype=np.int64), splits, skipped)


# --------------------------------------------------------------------------- decoding


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """One image as gray uint8 (H, W): OpenCV for speed, :func:`edgefer.io.read_image` for JPEG or failures.

    OpenCV decodes only files whose header PIL has read and found within
    :data:`edgefer.io.MAX_PIXELS` (OpenCV's own limit is 20 times higher), and only 8-bit ones
    (16-bit images are scaled as :func:`edgefer.io.read_image` does). Everything else goes to
    :func:`edgefer.io.read_image`, which names the problem.

    Raises ImageReadError naming the file when it cannot be read.
    """
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() not in (".jpg", ".jpeg"):
        size = image_size(path)
        if size is not None and size[0] * size[1] <= MAX_PIXELS:
            try:
                image = cv2.imread(path, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
            except cv2.error:  # a header OpenCV refuses: read_image says what is wrong
                image = None
            if image is not None and image.size and image.dtype == np.uint8:
                return image
    return read_image(path, gray=True)


def _read_one(path: str) -> tuple[np.ndarray | None, str]:
    try:
        return read_gray(path), ""
    except ImageReadError as exc:
        return None, str(exc)


def _progress(total: int, progress: bool | None, desc: str):
    from tqdm.auto import tqdm
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    return tqdm(total=total, desc=desc, unit="img", disable=disable or total == 0, leave=False)


def read_gray_images(paths: Sequence[str | os.PathLike], *, on_error: str = "raise", progress: bool | None = None,
                     cache: bool = True) -> tuple[list[np.ndarray | None], dict[str, str]]:
    """Decode ``paths`` as gray uint8 images, using and filling the per-folder cache.

    Parameters
    ----------
    paths : image files.
    on_error : ``"raise"`` an ImageReadError naming the first unreadable file, or ``"skip"``
        it: its slot is ``None`` and its message is returned (and logged).
    progress : show a tqdm bar; ``None`` shows one only when stderr is a terminal.
    cache : read and write decoded images under :func:`edgefer.data._cache.cache_dir`.

    Returns
    -------
    images : one uint8 (H, W) array per path, ``None`` for a skipped file.
    errors : path (str) -> message for every unreadable file.
    """
    check_on_error(on_error)
    paths = [os.fspath(p) for p in paths]
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        groups.setdefault(os.path.dirname(p), []).append(i)
    images: list[np.ndarray | None] = [None] * len(paths)
    messages = [""] * len(paths)
    todo: list[tuple[str, str | None, list[int]]] = []
    for folder, idx in groups.items():
        key = _cache.signature([paths[i] for i in idx], "gray-images") if cache else None
        hit = _cache.load("images", key) if key else None
        if hit is not None and len(hit["shapes"]) == len(idx):
            offsets = np.concatenate([[0], np.cumsum(hit["shapes"].prod(axis=1))])
            for j, i in enumerate(idx):
                if hit["errors"][j]:
                    messages[i] = str(hit["errors"][j])
                else:
                    h, w = hit["shapes"][j]
                    images[i] = hit["flat"][offsets[j]:offsets[j + 1]].reshape(h, w)
        else:
            todo.append((folder, key, idx))
    if todo:
        _decode(paths, [i for _, _, idx in todo for i in idx], images, messages, on_error, progress)
        for _, key, idx in todo:
            if key:
                _save_group(key, [images[i] for i in idx], [messages[i] for i in idx])
    errors = {paths[i]: m for i, m in enumerate(messages) if m}
    if errors and on_error == "raise":
        raise ImageReadError(next(iter(errors.values())))
    for m in errors.values():
        log.warning("%s; skipped", m)
    return images, errors


def _decode(paths, order, images, messages, on_error, progress) -> None:
    # Threads: OpenCV and PIL release the GIL while decoding. Chunks keep the futures few.
    chunks = [order[k:k + 256] for k in range(0, len(order), 256)]
    workers = min(8, os.cpu_count() or 1)
    with _progress(len(order), progress, "reading images") as bar, ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(lambda c: [_read_one(paths[i]) for i in c], c) for c in chunks]
        try:
            for chunk, future in zip(chunks, futures):
                for i, (image, msg) in zip(chunk, future.result()):
                    images[i], messages[i] = image, msg
                    if msg and on_error == "raise":
                        raise ImageReadError(msg)
                bar.update(len(chunk))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _save_group(key: str, images: list[np.ndarray | None], messages: list[str]) -> None:
    ok = [im for im in images if im is not None]
    flat = np.concatenate([im.ravel() for im in ok]) if ok else np.zeros(0, np.uint8)
    shapes = np.array([im.shape if im is not None else (0, 0) for im in images], dtype=np.int64).reshape(-1, 2)
    _cache.save("images", key, {"flat": flat, "shapes": shapes, "errors": np.array(messages, dtype=str)})


def stack_if_same_shape(images: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """One uint8 (N, H, W) array when all images share a shape, else the list unchanged."""
    if images and all(im.shape == images[0].shape for im in images):
        return np.stack(images)
    return images


def looks_like_crops(images: Sequence[np.ndarray], max_side: int = MAX_CROP_SIDE) -> bool:
    """True when all images are squares of one size, at most ``max_side`` pixels (face crops)."""
    if len(images) == 0:
        return False
    h, w = images[0].shape[:2]
    return h == w <= max_side and all(im.shape[:2] == (h, w) for im in images)


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(H, W)`` from the file's header without decoding the pixels, or ``None`` if unreadable."""
    try:  # PIL's warnings are logged when the file is decoded, not here
        with pil_warnings_logged(None), Image.open(path, formats=IMAGE_FORMATS) as im:
            return im.size[1], im.size[0]
    except Exception:  # any header PIL cannot parse: the reader will name the problem
        return None


class LazyImages(Sequence):
    """A sequence of image files decoded on access, as gray uint8 (H, W).

    ``images[i]`` reads the file with :func:`edgefer.io.read_image` (ImageReadError naming
    it when unreadable); a slice gives another LazyImages. Nothing is kept in memory, so a
    set of large photos costs only its file names until items are used.
    """

    def __init__(self, paths: Sequence[str | os.PathLike]):
        self.paths = [os.fspath(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return LazyImages(self.paths[i])
        return read_image(self.paths[i], gray=True)

    def __repr__(self) -> str:
        return f"LazyImages({len(self.paths)} files)"


def _guess_photos(files: Sequence[str], sample: int = 32) -> bool:
    """True when a spread sample of headers shows images that are not one small square size."""
    picks = [files[k] for k in np.linspace(0, len(files) - 1, min(sample, len(files))).astype(int)]
    sizes = {image_size(f) for f in picks} - {None}
    return any(h != w or h > MAX_CROP_SIDE for h, w in sizes) or len(sizes) > 1


def _check_headers(files: Sequence[str], on_error: str) -> dict[int, str]:
    """Position -> message of every file whose header is unreadable or over MAX_PIXELS (raise at the first one)."""
    errors = {}
    for k, f in enumerate(files):
        size = image_size(f)
        if size is None or size[0] * size[1] > MAX_PIXELS:
            try:
                read_image(f, gray=True)
            except ImageReadError as exc:
                if on_error == "raise":
                    raise
                errors[k] = str(exc)
                log.warning("%s; skipped", exc)
    return errors


def read_indexed(index: FileIndex, *, split: str | None = None, on_error: str = "raise",
                 progress: bool | None = None, cache: bool = True,
                 needs_detection: bool | None = None) -> dict[str, FaceDataset]:
    """Read the items of ``index`` (one split, or all) into one FaceDataset per split.

    ``needs_detection``: ``None`` keeps the index's value; where that is unknown too, it is
    decided from the images: all squares of one size up to :data:`MAX_CROP_SIDE` pixels are
    face crops, anything else is photos needing detection. Face crops are decoded now (and
    cached); photos stay on disk as :class:`LazyImages` (their headers checked, so an
    unreadable file is still raised or skipped here), as a folder of large photos decoded at
    once could need more memory than the machine has. To decide without decoding a large
    photo set, a sample of 32 headers is looked at first; when it shows only small squares,
    everything is decoded and the rule is applied to all images.

    Each dataset's ``skipped`` holds the counts of the whole source (index and read), not
    only its split.
    """
    check_on_error(on_error)
    sel = index.select(split)
    files = [index.files[i] for i in sel]
    if needs_detection is None:
        needs_detection = index.needs_detection
    lazy = _guess_photos(files) if needs_detection is None else needs_detection
    if lazy:
        errors = _check_headers(files, on_error)
        images = [None if k in errors else True for k in range(len(files))]
    else:
        images, errors = read_gray_images(files, on_error=on_error, progress=progress, cache=cache)
    skipped = dict(index.skipped)
    _count(skipped, SKIP_UNREADABLE, len(errors))
    keep = [k for k, im in enumerate(images) if im is not None]
    if not keep:
        raise DataError(f"{index.root}: no readable images")
    if needs_detection is None:
        needs_detection = lazy or not looks_like_crops([images[k] for k in keep])
    splits = np.asarray(index.splits, dtype=object)[sel]
    out = {}
    for name in sort_splits({splits[k] for k in keep}):
        ks = [k for k in keep if splits[k] == name]
        out[name] = FaceDataset(
            images=LazyImages([files[k] for k in ks]) if lazy else stack_if_same_shape([images[k] for k in ks]),
            labels=index.labels[sel[ks]],
            sources=[files[k] for k in ks],
            split=name, needs_detection=needs_detection, skipped=dict(skipped))
    return out


def read_fer_folders(root: str | os.PathLike, *, split: str | None = None, on_error: str = "raise",
                     progress: bool | None = None, cache: bool = True) -> dict[str, FaceDataset]:
    """FER-2013's image release as ``{"train", "publictest", "privatetest"}`` FaceDatasets (face crops).

    ``split`` reads only that split. See :func:`index_fer_folders` and :func:`read_gray_images`.
    """
    return read_indexed(index_fer_folders(root), split=split, on_error=on_error, progress=progress,
                        cache=cache, needs_detection=False)


def read_class_folders(root: str | os.PathLike, *, split: str | None = None, on_error: str = "raise",
                       needs_detection: bool | None = None, progress: bool | None = None,
                       cache: bool = True) -> dict[str, FaceDataset]:
    """A folder of class subfolders as FaceDatasets, one per split (``all`` without split folders).

    Parameters
    ----------
    needs_detection : whether faces must be found in the images first. ``None`` (auto) decides
        from the images: all squares of one size up to :data:`MAX_CROP_SIDE` pixels are face
        crops (False, decoded now into one (N, H, W) array); anything else (mixed sizes, large
        or non-square photos) needs detection (True, images read lazily as :class:`LazyImages`).
        See :func:`read_indexed`.
    on_error, progress, cache : as in :func:`read_gray_images`.
    """
    return read_indexed(index_class_folders(root), split=split, on_error=on_error, progress=progress,
                        cache=cache, needs_detection=needs_detection)
