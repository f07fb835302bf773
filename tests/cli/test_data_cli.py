"""Tests for ``edgefer data summary`` through typer's test runner."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.cli.main import app

runner = CliRunner()


@pytest.fixture
def faces(tmp_path, monkeypatch):
    """A tiny folder of class subfolders: 2 happy, 1 sad, 1 contempt (skipped)."""
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "cache"))
    for rel in ("happy/a.png", "happy/b.png", "sad/c.png", "contempt/d.png"):
        (tmp_path / "faces" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "faces" / rel), np.zeros((48, 48), np.uint8))
    return tmp_path / "faces"


def test_data_summary_prints_table(faces):
    """The table lists the classes, the split total and the skipped reason."""
    result = runner.invoke(app, ["data", "summary", str(faces)])
    assert result.exit_code == 0, result.output
    assert "happy" in result.output and "total" in result.output
    assert "class folder outside the seven: contempt" in result.output


def test_data_summary_json(faces):
    """--json prints the summary object."""
    result = runner.invoke(app, ["data", "summary", str(faces), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["splits"]["all"]["total"] == 3 and data["splits"]["all"]["per_class"]["happy"] == 2
    assert data["skipped"] == {"class folder outside the seven: contempt": 1}


def test_data_summary_missing_path_fails_cleanly(tmp_path):
    """A missing path exits with code 2 and a message naming it, without a traceback."""
    result = runner.invoke(app, ["data", "summary", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "error:" in result.output and "nope: no such file or folder" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, FileNotFoundError)


def test_data_summary_bad_csv_exits_1_naming_row(tmp_path):
    """A bad CSV row exits with code 1 and names the row."""
    path = tmp_path / "f.csv"
    path.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    result = runner.invoke(app, ["data", "summary", str(path)])
    assert result.exit_code == 1
    assert "row 0 (line 2): 3 pixel values, expected 2304" in result.output


def test_data_summary_unknown_split_lists_available(faces):
    """An unknown --split exits with code 2 listing the available splits."""
    result = runner.invoke(app, ["data", "summary", str(faces), "--split", "train"])
    assert result.exit_code == 2
    assert "unknown split 'train'; available: all" in result.output
