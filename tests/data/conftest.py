"""Tiny synthetic data sets in tmp_path, in each layout edgefer reads, and an isolated cache."""
from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from edgefer.data import dataset_root

FER_HEADER = ["emotion", "pixels", "Usage"]
FERPLUS_HEADER = ["file", "ferplus_image", "neutral", "happiness", "surprise", "sadness", "anger",
                  "disgust", "fear", "contempt", "unknown", "NF"]


def write_image(path: Path, value: int = 128, size: tuple[int, int] = (48, 48)) -> Path:
    """A constant gray image (PNG or JPEG by suffix) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(size, value, np.uint8))
    return path


def pixels(value: int | None = None, n: int = 48 * 48) -> str:
    """A FER-2013 pixel string: ``value`` repeated, or 0..255 cycling when None."""
    values = np.arange(n) % 256 if value is None else np.full(n, value)
    return " ".join(map(str, values))


def write_csv(path: Path, rows: list[list], header=FER_HEADER, *, bom=False, crlf=False) -> Path:
    """A CSV file with ``header`` and ``rows``, optionally with a BOM and CRLF line ends."""
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n" if crlf else "\n")
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def make():
    """The builders above, for tests (``--import-mode=importlib`` cannot import conftest)."""
    return SimpleNamespace(image=write_image, csv=write_csv, pixels=pixels)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test caches into its own folder, never into ~/.cache."""
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fer_folders(tmp_path) -> Path:
    """FER-2013 image release: 3 train, 1 publictest, 2 privatetest (one JPEG) images, plus ferplus.csv."""
    root = tmp_path / "fer2013"
    write_image(root / "train/angry/Training_1.png", 10)
    write_image(root / "train/angry/Training_2.png", 20)
    write_image(root / "train/happy/Training_3.png", 30)
    write_image(root / "test/angry/PublicTest_4.png", 40)
    write_image(root / "test/happy/PrivateTest_5.png", 50)
    write_image(root / "test/sad/PrivateTest_6.jpg", 60)
    write_csv(root / "ferplus.csv", [
        ["train/angry/Training_1.png", "fer0000001.png", 0, 0, 0, 0, 10, 0, 0, 0, 0, 0],
        ["train/angry/Training_2.png", "fer0000002.png", 5, 0, 0, 0, 5, 0, 0, 0, 0, 0],
        ["train/happy/Training_3.png", "fer0000003.png", 0, 0, 0, 0, 0, 0, 0, 2, 3, 5],
        ["test/angry/PublicTest_4.png", "fer0000004.png", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ["test/happy/PrivateTest_5.png", "fer0000005.png", 0, 8, 2, 0, 0, 0, 0, 0, 0, 0],
        ["test/sad/PrivateTest_6.jpg", "", "", "", "", "", "", "", "", "", "", ""],
    ], header=FERPLUS_HEADER)
    return root


@pytest.fixture
def class_folders(tmp_path) -> Path:
    """Generic class folders with synonym names, an unknown class, a non-image file."""
    root = tmp_path / "faces"
    write_image(root / "Happiness/a.png", 1)
    write_image(root / "Happiness/b.png", 2)
    write_image(root / "ANGER/c.png", 3)
    write_image(root / "neutral/sub/d.png", 4)
    write_image(root / "contempt/e.png", 5)
    write_image(root / "contempt/f.png", 6)
    (root / "neutral/notes.txt").write_text("not an image")
    return root


@pytest.fixture
def fer_csv(tmp_path) -> Path:
    """A FER-2013 CSV with two Training rows, one PublicTest and one PrivateTest row."""
    return write_csv(tmp_path / "fer2013.csv", [
        [0, pixels(), "Training"], [3, pixels(7), "Training"],
        [6, pixels(8), "PublicTest"], [5, pixels(9), "PrivateTest"]])


@pytest.fixture
def lfw_root(tmp_path) -> Path:
    """LFW layout: 5 photos, a legend with mixed case, synonyms, contempt, a duplicate, a non-LFW row."""
    root = tmp_path / "lfw"
    photos = root / "lfw-deepfunneled"
    for name in ("Ann_Lee_0001", "Ann_Lee_0002", "Bob_0001", "Carl_De_Mar_0001", "Dee_0001"):
        write_image(photos / name.rsplit("_", 1)[0] / f"{name}.jpg", 100, size=(64, 64))
    write_csv(root / "legend.csv", [
        ["u1", "Ann_Lee_0001.jpg", "HAPPINESS"],
        ["u1", "Ann_Lee_0002.jpg", "anger"],
        ["u1", "Bob_0001.jpg", "neutral"],
        ["u2", "Bob_0001.jpg", "neutral"],
        ["u1", "Carl_De_Mar_0001.jpg", "contempt"],
        ["u1", "Dee_0001.jpg", "Sadness"],
        ["u1", "facial-expressions_123k.jpg", "happiness"],
        ["u1", "Missing_Person_0001.jpg", "fear"],
    ], header=["user.id", "image", "emotion"])
    return root


@pytest.fixture
def real_datasets() -> Path:
    """The real data-set folder (``dataset_root()``), or skip when it is absent."""
    root = dataset_root()
    if not (root / "fer2013").is_dir() or not (root / "lfw").is_dir():
        pytest.skip(f"real data sets not found at {root} (set EDGEFER_DATASETS)")
    return root
