"""Tests for edgefer.data.lfw: LFW photos joined with legend.csv expression labels."""
from __future__ import annotations

import numpy as np
import pytest

from edgefer.data import folders
from edgefer.data.lfw import LazyImages, index_lfw, photo_path, read_lfw
from edgefer.errors import DataError, ImageReadError


def test_photo_path_strips_number():
    """The person's folder is the file name without ``_NNNN.jpg``; other names are not LFW."""
    assert photo_path("r", "Carl_De_Mar_0001.jpg").as_posix() == "r/lfw-deepfunneled/Carl_De_Mar/Carl_De_Mar_0001.jpg"
    assert photo_path("r", "facial-expressions_123k.jpg") is None


def test_index_lfw_joins_and_maps_labels(lfw_root):
    """Rows join their photos; HAPPINESS, anger, neutral and Sadness map onto the seven classes."""
    index = index_lfw(lfw_root)
    names = [f.rsplit("/", 1)[1] for f in index.files]
    assert names == ["Ann_Lee_0001.jpg", "Ann_Lee_0002.jpg", "Bob_0001.jpg", "Dee_0001.jpg"]
    assert index.labels.tolist() == [3, 0, 6, 4]
    assert index.needs_detection is True


def test_index_lfw_counts_each_skip_reason(lfw_root):
    """Non-LFW rows, missing photos, duplicates and contempt are each counted under their reason."""
    assert index_lfw(lfw_root).skipped == {
        "photo labelled twice (first label kept)": 1,
        "class outside the seven: contempt": 1,
        "legend row is not an LFW photo": 1,
        "LFW photo missing from lfw-deepfunneled/": 1,
    }


def test_index_lfw_conflicting_duplicate_counted_apart(lfw_root, make):
    """A second row giving the same photo another label is counted under its own reason; the first label stays."""
    with open(lfw_root / "legend.csv", "a") as f:
        f.write("u3,Dee_0001.jpg,happiness\n")
    index = index_lfw(lfw_root)
    assert index.skipped["photo labelled twice with another label (first label kept)"] == 1
    assert index.labels[-1] == 4


def test_read_lfw_images_are_lazy(lfw_root, monkeypatch):
    """Reading LFW decodes no photo; an item is decoded (gray uint8) only when accessed."""
    calls = []
    real = folders.read_image
    monkeypatch.setattr(folders, "read_image", lambda p, **kw: calls.append(p) or real(p, **kw))
    ds = read_lfw(lfw_root)["all"]
    assert isinstance(ds.images, LazyImages) and len(ds) == 4 and calls == []
    image = ds.images[1]
    assert image.shape == (64, 64) and image.dtype == np.uint8 and len(calls) == 1
    assert ds.needs_detection and ds.split == "all"
    assert ds.sources[1].endswith("Ann_Lee/Ann_Lee_0002.jpg")


def test_lazy_images_slice_and_corrupt_file(tmp_path, make):
    """A slice is another LazyImages; a corrupt file raises ImageReadError naming it on access."""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"junk")
    images = LazyImages([make.image(tmp_path / "a.jpg"), bad])
    assert isinstance(images[1:], LazyImages) and len(images[1:]) == 1
    with pytest.raises(ImageReadError, match="bad.jpg"):
        images[1]


def test_index_lfw_missing_legend_raises(lfw_root):
    """Without legend.csv, FileNotFoundError names the missing file."""
    (lfw_root / "legend.csv").unlink()
    with pytest.raises(FileNotFoundError, match="legend.csv"):
        index_lfw(lfw_root)


def test_index_lfw_bad_legend_header_raises(lfw_root):
    """A legend without image/emotion columns raises DataError naming it and the columns found."""
    (lfw_root / "legend.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"legend.csv: expected columns user.id,image,emotion; got a, b"):
        index_lfw(lfw_root)


def test_lfw_half_is_a_fixed_rule_by_person():
    """The halves come from the SHA-256 of the person's name: fixed, and one person in one half."""
    import hashlib

    from edgefer.data.lfw import HALVES, lfw_half
    for person in ("Ann_Lee", "Bob", "Dee", "George_W_Bush", "Zoë_Ünicode"):
        first = hashlib.sha256(person.encode("utf-8")).digest()[0]
        assert lfw_half(person) == ("choose" if first % 2 == 0 else "report")
        assert lfw_half(person) in HALVES


def test_read_lfw_halves_split_by_person(lfw_root):
    """``choose`` and ``report`` partition ``all`` by person; an unknown split names the available ones."""
    from pathlib import Path

    from edgefer.data.lfw import lfw_half
    whole = read_lfw(lfw_root)["all"]
    parts = {h: read_lfw(lfw_root, split=h)[h] for h in ("choose", "report")}
    assert sorted(parts["choose"].sources + parts["report"].sources) == sorted(whole.sources)
    for h, ds in parts.items():
        assert ds.split == h and ds.needs_detection
        assert all(lfw_half(Path(s).parent.name) == h for s in ds.sources)
        assert len(ds.labels) == len(ds.sources)
    with pytest.raises(ValueError, match="available: all, choose, report"):
        read_lfw(lfw_root, split="train")


def test_detection_cache_is_shared_by_relative_and_absolute_paths(lfw_root, monkeypatch, tmp_path):
    """Detected pixels are cached by the photos' real paths: reading LFW through a relative path
    after an absolute one finds the cached result instead of detecting every face again."""
    import os

    from edgefer.data import pixels as px
    from edgefer.preprocess.spec import PreprocessSpec
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "cache"))
    spec = PreprocessSpec(input_size=48, equalize=True)
    absolute = read_lfw(lfw_root)["all"]
    monkeypatch.chdir(lfw_root.parent)
    relative = read_lfw(os.path.relpath(lfw_root))["all"]
    assert absolute.sources != relative.sources
    assert px.detection_cache_key(absolute.sources, spec) == px.detection_cache_key(relative.sources, spec)
    first, counts = px.dataset_pixels(absolute, spec, detect=True)

    class Refuse:
        params = None

        def detect(self, image):
            raise AssertionError("detected again instead of using the cache")
    monkeypatch.setattr("edgefer.preprocess.detect.HaarFaceDetector", lambda *a, **k: Refuse())
    again, counts2 = px.dataset_pixels(relative, spec, detect=True)
    np.testing.assert_array_equal(first, again)
    assert counts == counts2
