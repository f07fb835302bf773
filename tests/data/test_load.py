"""Tests for edgefer.data.load: format detection, loading, FER+ soft labels, dataset_root."""
from __future__ import annotations

import numpy as np
import pytest

from edgefer.data import load
from edgefer.data.lfw import LazyImages
from edgefer.data.load import (
    dataset_root, detect_format, ferplus_soft_labels, load_dataset, load_splits, read_ferplus_votes,
)
from edgefer.errors import DataError


@pytest.mark.parametrize("fixture, expected", [
    ("fer_csv", "fer-csv"), ("fer_folders", "fer-folders"), ("lfw_root", "lfw"), ("class_folders", "folders")])
def test_detect_format_each_layout(request, fixture, expected):
    """Each layout is recognised from the path alone."""
    assert detect_format(request.getfixturevalue(fixture)) == expected


def test_detect_format_folder_with_one_fer_csv(fer_csv):
    """A folder holding one FER-2013 CSV is that CSV."""
    assert detect_format(fer_csv.parent) == "fer-csv"
    assert load_dataset(fer_csv.parent, split="train").sources[0] == f"{fer_csv}:0"


def test_load_dataset_missing_path_raises(tmp_path):
    """A missing path raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nowhere: no such file or folder"):
        load_dataset(tmp_path / "nowhere")


def test_load_dataset_empty_folder_raises(tmp_path):
    """An empty folder raises DataError naming it."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: empty folder, no images"):
        load_dataset(tmp_path / "empty")


def test_load_dataset_folder_without_images_raises(tmp_path):
    """A folder with files but no data set raises DataError naming it and the layouts expected."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d/readme.txt").write_text("hi")
    with pytest.raises(DataError, match="d: no images found; expected class subfolders"):
        load_dataset(tmp_path / "d")


def test_load_dataset_non_csv_file_raises(tmp_path):
    """A file that is not a FER-2013 CSV raises DataError naming it."""
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="x.txt: not a data set"):
        load_dataset(tmp_path / "x.txt")


def test_load_dataset_unknown_split_lists_available(fer_folders):
    """An unknown split raises ValueError listing the available ones."""
    with pytest.raises(ValueError, match="unknown split 'test'; available: train, publictest, privatetest"):
        load_dataset(fer_folders, split="test")


def test_load_dataset_unknown_format_lists_formats(fer_folders):
    """An unknown format name raises ValueError listing the formats."""
    with pytest.raises(ValueError, match="unknown format 'kaggle'; available: fer-csv, fer-folders, folders, lfw"):
        load_dataset(fer_folders, format="kaggle")


def test_load_dataset_format_overrides_detection(fer_folders):
    """format='folders' reads FER-2013's release as plain split/class folders (train, test)."""
    out = load_splits(fer_folders, format="folders")
    assert list(out) == ["train", "test"] and len(out["test"]) == 3


def test_load_splits_fer_folders(fer_folders):
    """FER-2013 folders give train, publictest and privatetest with their sizes."""
    out = load_splits(fer_folders)
    assert {k: len(v) for k, v in out.items()} == {"train": 3, "publictest": 1, "privatetest": 2}


def test_load_dataset_all_splits_concatenated(fer_folders):
    """Without a split, all items come back in split order as one dataset named 'all'."""
    ds = load_dataset(fer_folders)
    assert ds.split == "all" and ds.images.shape == (6, 48, 48)
    assert ds.images[:, 0, 0].tolist() == [10, 20, 30, 40, 50, 60]
    assert ds.soft_labels.shape == (6, 7)


def test_load_splits_ferplus_soft_labels_in_class_order(fer_folders):
    """ferplus.csv votes become distributions in edgefer's class order; contempt/unknown/NF are dropped."""
    train = load_splits(fer_folders)["train"]
    np.testing.assert_allclose(train.soft_labels[0], [1, 0, 0, 0, 0, 0, 0])       # 10 anger votes
    np.testing.assert_allclose(train.soft_labels[1], [0.5, 0, 0, 0, 0, 0, 0.5])   # 5 neutral, 5 anger
    assert np.isnan(train.soft_labels[2]).all()                                    # only contempt/unknown/NF
    assert train.soft_labels.dtype == np.float32


def test_load_splits_ferplus_empty_row_is_nan(fer_folders):
    """An image with an empty FER+ row (the JPEG test images) gets a NaN row."""
    private = load_splits(fer_folders)["privatetest"]
    np.testing.assert_allclose(private.soft_labels[0], [0, 0, 0, 0.8, 0, 0.2, 0])
    assert np.isnan(private.soft_labels[1]).all()


def test_load_fer_csv_attaches_fer2013new_by_row(fer_csv, make):
    """fer2013new.csv beside a FER-2013 CSV gives each row its FER+ votes."""
    make.csv(fer_csv.parent / "fer2013new.csv", [
        ["Training", "fer0000000.png", 0, 0, 0, 0, 4, 0, 0, 0, 0, 0],
        ["Training", "fer0000001.png", 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
        ["PublicTest", "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
        ["PrivateTest", "fer0000003.png", 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]],
        header=["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                "fear", "contempt", "unknown", "NF"])
    out = load_splits(fer_csv)
    np.testing.assert_allclose(out["train"].soft_labels, [[1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0]])
    assert np.isnan(out["publictest"].soft_labels).all()
    np.testing.assert_allclose(out["privatetest"].soft_labels, [[0, 0, 0, 0, 0, 1, 0]])


def test_load_fer_csv_ignores_fer2013new_of_other_rows(fer_csv, make):
    """A fer2013new.csv whose Usage does not follow the CSV's rows is not attached."""
    make.csv(fer_csv.parent / "fer2013new.csv", [["PrivateTest", "x", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]] * 4,
             header=["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                     "fear", "contempt", "unknown", "NF"])
    assert load_splits(fer_csv)["train"].soft_labels is None


def test_ferplus_soft_labels_normalizes_rows():
    """Votes are divided by their sum; a row without votes becomes NaN."""
    soft = ferplus_soft_labels(np.array([[2, 0, 0, 2, 0, 0, 0], [0] * 7], dtype=np.float32))
    np.testing.assert_allclose(soft[0], [0.5, 0, 0, 0.5, 0, 0, 0])
    assert np.isnan(soft[1]).all()


def test_read_ferplus_votes_reorders_columns(fer_folders):
    """FER+ columns (neutral, happiness, ..., anger, ...) are reordered to angry..neutral."""
    keys, votes = read_ferplus_votes(fer_folders / "ferplus.csv")
    assert keys[1] == "train/angry/Training_2.png"
    np.testing.assert_array_equal(votes[1], [5, 0, 0, 0, 0, 0, 5])


def test_load_dataset_lfw_is_lazy(lfw_root):
    """LFW loads as photos needing detection, with lazily decoded images."""
    ds = load_dataset(lfw_root)
    assert isinstance(ds.images, LazyImages) and ds.needs_detection and len(ds) == 4


def test_load_dataset_class_folders_skip_corrupt(class_folders):
    """on_error='skip' reaches the folder reader: a corrupt image is counted, not raised."""
    (class_folders / "ANGER/bad.png").write_bytes(b"junk")
    assert load_dataset(class_folders, on_error="skip").skipped["unreadable image"] == 1


def test_load_dataset_photo_splits_concatenate_lazily(tmp_path, make):
    """Photo folders in split folders concatenate into one LazyImages, decoding nothing."""
    make.image(tmp_path / "d/train/happy/a.jpg", size=(300, 200))
    make.image(tmp_path / "d/test/sad/b.jpg", size=(300, 200))
    ds = load_dataset(tmp_path / "d")
    assert isinstance(ds.images, LazyImages) and ds.labels.tolist() == [3, 4] and ds.needs_detection


def test_dataset_root_env_overrides(monkeypatch, tmp_path):
    """EDGEFER_DATASETS overrides the default <repo>/../shared/datasets."""
    monkeypatch.setenv("EDGEFER_DATASETS", str(tmp_path))
    assert dataset_root() == tmp_path
    monkeypatch.delenv("EDGEFER_DATASETS")
    assert dataset_root().parts[-2:] == ("shared", "datasets")


def test_cache_off_writes_nothing(fer_folders, isolated_cache, monkeypatch):
    """EDGEFER_CACHE=off disables the cache."""
    monkeypatch.setenv("EDGEFER_CACHE", "off")
    load_splits(fer_folders)
    assert not isolated_cache.exists()


def test_load_real_fer2013_privatetest(real_datasets):
    """The real PrivateTest split loads as 3,589 48x48 crops with FER+ soft labels (NaN for the 16 JPEGs)."""
    ds = load_dataset(real_datasets / "fer2013", split="privatetest", progress=False)
    assert ds.images.shape == (3589, 48, 48) and ds.images.dtype == np.uint8
    assert ds.soft_labels.shape == (3589, 7)
    no_votes = np.isnan(ds.soft_labels[:, 0])
    assert no_votes.sum() >= sum(s.endswith(".jpg") for s in ds.sources)
    np.testing.assert_allclose(ds.soft_labels[~no_votes].sum(axis=1), 1, rtol=1e-5)
    assert load.detect_format(real_datasets / "lfw") == "lfw"
