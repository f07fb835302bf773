"""Tests for edgefer.data.folders: FER-2013's image release and generic class folders."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from edgefer.data import folders
from edgefer.data.folders import (
    LazyImages, index_class_folders, index_fer_folders, read_class_folders, read_fer_folders, read_gray, read_gray_images,
)
from edgefer.errors import DataError, ImageReadError


def test_index_fer_folders_split_from_prefix(fer_folders):
    """The split comes from the file-name prefix, so test/ holds publictest and privatetest."""
    index = index_fer_folders(fer_folders)
    assert index.split_names() == ["train", "publictest", "privatetest"]
    assert sorted(zip(index.splits, index.labels.tolist())) == [
        ("privatetest", 3), ("privatetest", 4), ("publictest", 0), ("train", 0), ("train", 0), ("train", 3)]
    assert index.skipped == {}


def test_read_fer_folders_gray_uint8_crops(fer_folders):
    """Every split is a uint8 (N, 48, 48) array of face crops with the pixel values written."""
    out = read_fer_folders(fer_folders)
    assert out["train"].images.shape == (3, 48, 48) and out["train"].images.dtype == np.uint8
    assert out["train"].images[:, 0, 0].tolist() == [10, 20, 30]
    assert out["privatetest"].images[:, 0, 0].tolist() == [50, 60]
    assert out["train"].sources[0] == str(fer_folders / "train/angry/Training_1.png")
    assert not any(d.needs_detection for d in out.values())


def test_read_fer_folders_one_split(fer_folders):
    """Asking for one split reads only that split."""
    out = read_fer_folders(fer_folders, split="publictest")
    assert list(out) == ["publictest"] and len(out["publictest"]) == 1


def test_index_fer_folders_counts_file_without_prefix(fer_folders, make, caplog):
    """A file without a Training_/PublicTest_/PrivateTest_ prefix is skipped, counted and logged."""
    make.image(fer_folders / "train/angry/other.png")
    with caplog.at_level(logging.WARNING):
        index = index_fer_folders(fer_folders)
    assert len(index.files) == 6
    assert index.skipped == {folders.SKIP_NO_PREFIX: 1}
    assert "other.png" in caplog.text


def test_read_class_folders_matches_synonyms_ignoring_case(class_folders):
    """Folders Happiness/, ANGER/ and neutral/ (with a nested folder) map onto the seven classes."""
    ds = read_class_folders(class_folders)["all"]
    assert ds.per_class() == {"angry": 1, "disgust": 0, "fear": 0, "happy": 2, "sad": 0, "surprise": 0,
                              "neutral": 1}
    assert ds.split == "all"


def test_read_class_folders_counts_unknown_class_and_non_images(class_folders, caplog):
    """A class folder outside the seven and a non-image file are counted in skipped; the folder is logged."""
    with caplog.at_level(logging.WARNING):
        ds = read_class_folders(class_folders)["all"]
    assert ds.skipped == {"class folder outside the seven: contempt": 2, "not an image file": 1}
    assert "contempt" in caplog.text


def test_read_class_folders_split_folders(tmp_path, make):
    """<root>/<split>/<class>/ gives one dataset per split folder."""
    make.image(tmp_path / "d/train/happy/a.png")
    make.image(tmp_path / "d/train/sad/b.png")
    make.image(tmp_path / "d/val/sad/c.png")
    out = read_class_folders(tmp_path / "d")
    assert list(out) == ["train", "val"]
    assert out["train"].labels.tolist() == [3, 4] and out["val"].labels.tolist() == [4]


@pytest.mark.parametrize("sizes, expected", [
    ([(48, 48), (48, 48)], False),     # same small square: face crops
    ([(200, 200), (200, 200)], True),  # large photos
    ([(48, 48), (60, 60)], True),      # mixed sizes
    ([(48, 64), (48, 64)], True),      # not square
])
def test_read_class_folders_needs_detection_auto(tmp_path, make, sizes, expected):
    """needs_detection is False only when all images are same-size small squares."""
    for k, size in enumerate(sizes):
        make.image(tmp_path / f"d/happy/{k}.png", size=size)
    assert read_class_folders(tmp_path / "d")["all"].needs_detection is expected


def test_read_class_folders_needs_detection_given(tmp_path, make):
    """An explicit needs_detection overrides the automatic choice."""
    make.image(tmp_path / "d/happy/a.png")
    assert read_class_folders(tmp_path / "d", needs_detection=True)["all"].needs_detection is True


def test_read_class_folders_photos_are_lazy(tmp_path, make):
    """Photos (mixed sizes) stay on disk as LazyImages, decoded to (H, W) uint8 on access."""
    make.image(tmp_path / "d/happy/a.png", size=(30, 40))
    make.image(tmp_path / "d/happy/b.jpg", size=(50, 20))
    ds = read_class_folders(tmp_path / "d")["all"]
    assert isinstance(ds.images, LazyImages) and ds.needs_detection
    assert [im.shape for im in ds.images] == [(30, 40), (50, 20)]


def test_read_class_folders_photos_corrupt_skip_counted(tmp_path, make):
    """A lazily read photo set still finds an unreadable file up front: raised, or skipped and counted."""
    make.image(tmp_path / "d/happy/a.png", size=(300, 200))
    (tmp_path / "d/happy/bad.jpg").write_bytes(b"junk")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_class_folders(tmp_path / "d")
    ds = read_class_folders(tmp_path / "d", on_error="skip")["all"]
    assert len(ds) == 1 and ds.skipped == {"unreadable image": 1}


def test_read_class_folders_mixed_crops_stay_a_list(tmp_path, make):
    """Decoded images of different sizes (needs_detection=False) are kept as a list of (H, W) arrays."""
    make.image(tmp_path / "d/happy/a.png", size=(30, 40))
    make.image(tmp_path / "d/happy/b.png", size=(50, 20))
    images = read_class_folders(tmp_path / "d", needs_detection=False)["all"].images
    assert isinstance(images, list) and [im.shape for im in images] == [(30, 40), (50, 20)]


def test_read_class_folders_corrupt_image_raises_naming_file(class_folders):
    """A corrupt image raises ImageReadError naming the file."""
    (class_folders / "ANGER/bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="bad.png"):
        read_class_folders(class_folders)


def test_read_class_folders_corrupt_image_skip_counted(class_folders, caplog):
    """With on_error='skip' a corrupt image is left out, counted and logged."""
    (class_folders / "ANGER/bad.png").write_bytes(b"junk")
    with caplog.at_level(logging.WARNING):
        ds = read_class_folders(class_folders, on_error="skip")["all"]
    assert len(ds) == 4 and ds.skipped["unreadable image"] == 1
    assert "bad.png" in caplog.text


def test_read_class_folders_bad_on_error_raises(class_folders):
    """on_error must be 'raise' or 'skip'."""
    with pytest.raises(ValueError, match="`on_error` must be 'raise' or 'skip'; got 'ignore'"):
        read_class_folders(class_folders, on_error="ignore")


def test_index_class_folders_without_class_folders_raises(tmp_path, make):
    """A folder whose subfolders are not classes raises DataError naming it and what it found."""
    make.image(tmp_path / "d/cats/a.png")
    with pytest.raises(DataError, match=r"d: no class subfolders.*found subfolders: cats"):
        index_class_folders(tmp_path / "d")


def test_index_class_folders_no_images_raises(tmp_path):
    """Class folders without images raise DataError naming the folder."""
    (tmp_path / "d/happy").mkdir(parents=True)
    with pytest.raises(DataError, match=r"d: no images found"):
        index_class_folders(tmp_path / "d")


def test_read_gray_images_second_read_from_cache(class_folders, isolated_cache, monkeypatch):
    """The second read decodes nothing (served by the cache) and returns the same pixels."""
    paths = index_class_folders(class_folders).files
    first, _ = read_gray_images(paths)
    assert list(isolated_cache.glob("images-*.npz"))
    monkeypatch.setattr(folders, "_read_one", lambda p: pytest.fail(f"decoded {p} again"))
    second, _ = read_gray_images(paths)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_read_gray_images_changed_file_invalidates_cache(tmp_path, make):
    """Rewriting a file changes the cache key, so its new pixels are read."""
    path = make.image(tmp_path / "a.png", 10)
    assert read_gray_images([path])[0][0][0, 0] == 10
    make.image(tmp_path / "a.png", 99, size=(48, 49))
    assert read_gray_images([path])[0][0][0, 0] == 99


def test_read_gray_images_cached_error_still_raises(tmp_path, make):
    """An unreadable file raises again when its folder is served from the cache."""
    good = make.image(tmp_path / "a.png")
    bad = tmp_path / "b.png"
    bad.write_bytes(b"junk")
    images, errors = read_gray_images([good, bad], on_error="skip")
    assert images[1] is None and str(bad) in errors
    with pytest.raises(ImageReadError, match="b.png"):
        read_gray_images([good, bad])


def test_read_gray_jpeg_and_png(tmp_path, make):
    """PNG (OpenCV) and JPEG (edgefer.io) both come back as 2-D uint8."""
    for name in ("a.png", "a.jpg"):
        image = read_gray(make.image(tmp_path / name, 77, size=(20, 30)))
        assert image.shape == (20, 30) and image.dtype == np.uint8 and image[0, 0] == 77
