"""Tests for edgefer.data.summary: counts per split and class, and skipped reasons."""
from __future__ import annotations

import cv2
import pytest

from edgefer import io
from edgefer.data.summary import summarize
from edgefer.errors import DataError


def _zeros(**nonzero):
    counts = dict.fromkeys(("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"), 0)
    return {**counts, **nonzero}


def test_summarize_fer_folders_exact_form(fer_folders):
    """The summary is {'splits': {name: {'total', 'per_class'}}, 'skipped': {...}, 'images_opened',
    'note'} with classes in order; folders are counted from file names, which it says."""
    from edgefer.data.summary import NOTE_FILES
    assert summarize(fer_folders) == {
        "splits": {
            "train": {"total": 3, "per_class": _zeros(angry=2, happy=1)},
            "publictest": {"total": 1, "per_class": _zeros(angry=1)},
            "privatetest": {"total": 2, "per_class": _zeros(happy=1, sad=1)},
        },
        "skipped": {},
        "images_opened": False,
        "note": NOTE_FILES,
    }
    assert list(summarize(fer_folders)["splits"]["train"]["per_class"]) == list(_zeros())


def test_summarize_one_split(fer_csv):
    """With split, only that split is counted."""
    expected = {"publictest": {"total": 1, "per_class": _zeros(neutral=1)}}
    assert summarize(fer_csv, split="publictest")["splits"] == expected


def test_summarize_class_folders_reports_skipped(class_folders):
    """Class folders count as split 'all', and skipped reasons appear with their counts."""
    result = summarize(class_folders)
    assert result["splits"]["all"]["total"] == 4
    assert result["skipped"] == {"class folder outside the seven: contempt": 2, "not an image file": 1}


def test_summarize_does_not_decode_images(lfw_root, fer_folders, monkeypatch):
    """Summarizing LFW or image folders decodes no image."""
    def boom(*a, **k):
        raise AssertionError("decoded an image")
    monkeypatch.setattr(io, "read_image", boom)
    monkeypatch.setattr(cv2, "imread", boom)
    assert summarize(lfw_root)["splits"]["all"]["total"] == 4
    assert summarize(fer_folders)["splits"]["train"]["total"] == 3


def test_summarize_bad_csv_row_raises(tmp_path, make):
    """A bad CSV row raises DataError naming the row."""
    path = make.csv(tmp_path / "f.csv", [[0, make.pixels(n=5), "Training"]])
    with pytest.raises(DataError, match=r"row 0 \(line 2\): 5 pixel values"):
        summarize(path)


def test_summarize_real_fer2013(real_datasets):
    """Real FER-2013 folders: 28,560 / 3,589 / 3,589 images and the README's train counts per class."""
    result = summarize(real_datasets / "fer2013")
    assert {k: v["total"] for k, v in result["splits"].items()} == {
        "train": 28560, "publictest": 3589, "privatetest": 3589}
    assert result["splits"]["train"]["per_class"] == {
        "angry": 3970, "disgust": 435, "fear": 4079, "happy": 7186, "sad": 4797, "surprise": 3161,
        "neutral": 4932}
    assert result["skipped"] == {}


def test_summarize_real_lfw(real_datasets):
    """Real LFW: 12,758 distinct photos joined, of which 12,749 in the seven classes and 9 contempt."""
    result = summarize(real_datasets / "lfw")
    total = result["splits"]["all"]["total"]
    contempt = result["skipped"]["class outside the seven: contempt"]
    assert (total, contempt, total + contempt) == (12749, 9, 12758)
    assert result["skipped"]["photo labelled twice (first label kept)"] == 7
    assert result["splits"]["all"]["per_class"] == {
        "angry": 227, "disgust": 12, "fear": 12, "happy": 5306, "sad": 124, "surprise": 355, "neutral": 6713}


def test_summarize_says_whether_images_were_opened(fer_folders, fer_csv):
    """A FER-2013 CSV's rows are all decoded (images_opened true); folders are only counted."""
    assert summarize(fer_csv)["images_opened"] is True
    folders = summarize(fer_folders)
    assert folders["images_opened"] is False and "no image was opened" in folders["note"]
