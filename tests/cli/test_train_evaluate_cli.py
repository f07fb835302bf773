import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory):
    """A FER-2013-layout folder: happy = bright top half, sad = bright bottom half (flip-safe)."""
    root = tmp_path_factory.mktemp("fer")
    rng = np.random.default_rng(0)
    for folder, prefix, n in (("train", "Training", 64), ("test", "PublicTest", 24), ("test", "PrivateTest", 24)):
        for i in range(n):
            cls = ("happy", "sad")[i % 2]
            img = rng.integers(0, 60, (48, 48)).astype(np.uint8)
            if cls == "happy":
                img[:24] += 150
            else:
                img[24:] += 150
            d = root / folder / cls
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{prefix}_{i:05d}.png"), img)
    return root


def test_train_then_evaluate(tiny_fer, tmp_path):
    """Training on a separable toy set, then evaluating its best.pt, gives high accuracy and all metric keys."""
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--data", str(tiny_fer), "--model", "fernet_small", "--arg", "fusion=none",
                            "--epochs", "3", "--batch-size", "16", "--lr", "0.05", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert (out / "best.pt").exists() and (out / "iterations.csv").exists()
    r = runner.invoke(app, ["evaluate", "--data", str(tiny_fer), "--model", str(out / "best.pt"),
                            "--split", "privatetest", "--json", "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"accuracy", "macro_f1", "n", "per_class", "confusion"} <= rep.keys()
    assert rep["n"] == 24 and rep["accuracy"] >= 0.8
    assert (tmp_path / "ev" / "confusion.png").stat().st_size > 1000


def test_train_refuses_existing_out(tiny_fer, tmp_path):
    """A non-empty --out is not overwritten without --overwrite or --resume."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = runner.invoke(app, ["train", "--data", str(tiny_fer), "--out", str(out), "--epochs", "1"])
    assert r.exit_code != 0 and "already holds files" in r.output
    assert (out / "keep.txt").read_text() == "mine"


def test_train_missing_data_is_clear(tmp_path):
    """A missing data path gives one error line naming it, no traceback."""
    r = runner.invoke(app, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "nope" in r.output and "Traceback" not in r.output


def test_train_bad_loss_is_clear(tiny_fer, tmp_path):
    """An unknown --loss names the accepted values."""
    r = runner.invoke(app, ["train", "--data", str(tiny_fer), "--loss", "hinge", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "'ce' or 'mse'" in r.output


def test_cv_runs_folds(tiny_fer, tmp_path):
    """cv pools all splits (112 images), trains 3 folds and reports mean and std accuracy."""
    out = tmp_path / "cv"
    r = runner.invoke(app, ["cv", "--data", str(tiny_fer), "--model", "fernet_small", "--arg", "fusion=none",
                            "--epochs", "2", "--batch-size", "16", "--lr", "0.05", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["n"] == 112 and len(res["per_fold"]) == 3
    assert sum(f["n_test"] for f in res["per_fold"]) == 112
    assert res["accuracy_mean"] > 0.7
