"""Tests for edgefer.data.fer_csv: FER-2013's emotion,pixels,Usage CSV."""
from __future__ import annotations

import numpy as np
import pytest

from edgefer.data.fer_csv import read_fer_csv
from edgefer.errors import DataError


def test_read_fer_csv_splits_by_usage(fer_csv):
    """Usage Training/PublicTest/PrivateTest becomes splits train/publictest/privatetest, in that order."""
    out = read_fer_csv(fer_csv)
    assert list(out) == ["train", "publictest", "privatetest"]
    assert [len(d) for d in out.values()] == [2, 1, 1]
    assert out["train"].labels.tolist() == [0, 3]
    assert out["publictest"].labels.tolist() == [6]
    assert all(not d.needs_detection for d in out.values())


def test_read_fer_csv_images_row_major_uint8(fer_csv):
    """The 2304 values fill a uint8 (N, 48, 48) array row by row."""
    train = read_fer_csv(fer_csv)["train"]
    assert train.images.shape == (2, 48, 48) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images[0].ravel(), np.arange(2304) % 256)
    assert (train.images[1] == 7).all()


def test_read_fer_csv_sources_are_path_and_row(fer_csv):
    """Each source is ``path:row`` with rows counted from 0 after the header."""
    out = read_fer_csv(fer_csv)
    assert out["train"].sources == [f"{fer_csv}:0", f"{fer_csv}:1"]
    assert out["privatetest"].sources == [f"{fer_csv}:3"]


def test_read_fer_csv_tolerates_bom_crlf_extra_columns(tmp_path, make):
    """A BOM, CRLF line ends, reordered columns, an extra column and blank lines read like the plain file."""
    rows = [["x", "Training", make.pixels(1), 2], [], ["y", "PrivateTest", make.pixels(2), 4]]
    path = make.csv(tmp_path / "f.csv", rows, header=["note", "Usage", "pixels", "Emotion"], bom=True, crlf=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfnote,") and b"\r\n" in path.read_bytes()
    out = read_fer_csv(path)
    assert out["train"].labels.tolist() == [2] and (out["train"].images == 1).all()
    assert out["privatetest"].labels.tolist() == [4]
    assert out["privatetest"].sources == [f"{path}:1"]


def test_read_fer_csv_without_usage_is_all(tmp_path, make):
    """Without a Usage column every row is in split ``all``."""
    path = make.csv(tmp_path / "f.csv", [[1, make.pixels(3)], [2, make.pixels(4)]], header=["emotion", "pixels"])
    out = read_fer_csv(path)
    assert list(out) == ["all"] and out["all"].labels.tolist() == [1, 2]


def test_read_fer_csv_short_pixel_row_names_file_and_row(tmp_path, make):
    """A row with 2303 values raises DataError naming the file, the row, the line and the count."""
    path = make.csv(tmp_path / "f.csv", [[0, make.pixels(), "Training"], [1, make.pixels(n=2303), "Training"]])
    with pytest.raises(DataError, match=r"f\.csv: row 1 \(line 3\): 2303 pixel values, expected 2304"):
        read_fer_csv(path)


def test_read_fer_csv_non_numeric_label_names_row(tmp_path, make):
    """A label that is not an integer raises DataError naming the row and the label."""
    path = make.csv(tmp_path / "f.csv", [["happy", make.pixels(), "Training"]])
    with pytest.raises(DataError, match=r"row 0 \(line 2\): label 'happy' is not an integer 0\.\.6"):
        read_fer_csv(path)


def test_read_fer_csv_label_out_of_range_names_row(tmp_path, make):
    """Label 7 raises DataError: labels are 0..6."""
    path = make.csv(tmp_path / "f.csv", [[7, make.pixels(), "Training"]])
    with pytest.raises(DataError, match=r"row 0.*label '7' is not an integer 0\.\.6"):
        read_fer_csv(path)


@pytest.mark.parametrize("bad, message", [("abc", r"pixel 5 is 'abc'"), ("1.5", r"pixel 5 is '1\.5'"),
                                          ("300", r"pixel 5 is 300, outside 0\.\.255")])
def test_read_fer_csv_bad_pixel_names_row_and_pixel(tmp_path, bad, message, make):
    """A non-numeric or out-of-range pixel raises DataError naming the row and the pixel."""
    values = make.pixels(1).split()
    values[5] = bad
    path = make.csv(tmp_path / "f.csv", [[0, " ".join(values), "Training"]])
    with pytest.raises(DataError, match=r"row 0 \(line 2\): " + message):
        read_fer_csv(path)


def test_read_fer_csv_skip_counts_bad_rows(tmp_path, make):
    """With on_error='skip' bad rows are left out and counted per reason."""
    path = make.csv(tmp_path / "f.csv", [[0, make.pixels(), "Training"], [9, make.pixels(), "Training"],
                                          [1, make.pixels(n=10), "Training"], [2, make.pixels(), "Training"]])
    train = read_fer_csv(path, on_error="skip")["train"]
    assert train.labels.tolist() == [0, 2]
    assert train.sources[1].endswith(":3")
    assert train.skipped == {"bad row: label not 0..6": 1, "bad row: wrong pixel count": 1}


def test_read_fer_csv_missing_pixels_column_raises(tmp_path, make):
    """A CSV without a pixels column raises DataError naming the file and the columns found."""
    path = make.csv(tmp_path / "f.csv", [[0, "x"]], header=["emotion", "image"])
    with pytest.raises(DataError, match=r"f\.csv: no `pixels` column.*emotion, image"):
        read_fer_csv(path)


def test_read_fer_csv_missing_file_raises(tmp_path):
    """A missing CSV raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_fer_csv(tmp_path / "nope.csv")


def test_read_fer_csv_unknown_split_lists_available(fer_csv):
    """Asking for a split the file lacks raises ValueError listing the available ones."""
    with pytest.raises(ValueError, match="unknown split 'val'; available: train, publictest, privatetest"):
        read_fer_csv(fer_csv, split="val")


def test_read_fer_csv_second_read_from_cache(fer_csv, isolated_cache, monkeypatch):
    """The second read comes from the cache (no parsing) and equals the first."""
    first = read_fer_csv(fer_csv)
    assert list(isolated_cache.glob("fercsv-*.npz"))
    monkeypatch.setattr("edgefer.data.fer_csv._parse", lambda *a: pytest.fail("parsed again"))
    second = read_fer_csv(fer_csv)
    np.testing.assert_array_equal(second["train"].images, first["train"].images)
    assert second["train"].sources == first["train"].sources
