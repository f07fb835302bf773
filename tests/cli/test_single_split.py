"""A data set with a single split (a folder of class subfolders) is used whole by evaluate, train
and cv without --split; train holds out a validation part by a fixed rule and says so."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.checkpoint import load_checkpoint
from edgefer.cli.main import app
from edgefer.data.load import holdout, load_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def my_folders(tmp_path_factory):
    """happy/ and sad/ with 60 face crops each, file names without FER-2013's split prefixes."""
    import cv2
    root = tmp_path_factory.mktemp("my_folders")
    rng = np.random.default_rng(1)
    for cls in ("happy", "sad"):
        (root / cls).mkdir()
        for i in range(60):
            img = rng.integers(0, 60, (48, 48)).astype(np.uint8)
            if cls == "happy":
                img[:24] += 150
            else:
                img[24:] += 150
            cv2.imwrite(str(root / cls / f"img{i:03d}.png"), img)
    return root


def test_holdout_is_a_fixed_rule_of_the_file_names(my_folders):
    """The held-out part depends on the class folder and file name only: the same for the set read
    in another order, about a tenth, and disjoint from the training part."""
    ds = load_dataset(my_folders)
    train, val = holdout(ds)
    order = np.arange(len(ds))[::-1]
    train2, val2 = holdout(ds.subset(order))
    key = lambda d: sorted(s.split("my_folders")[-1] for s in d.sources)  # noqa: E731
    assert key(val) == key(val2) and key(train) == key(train2)
    assert 0 < len(val) < len(ds) / 4 and len(train) + len(val) == len(ds)
    assert not set(train.sources) & set(val.sources)


def test_train_evaluate_and_cv_use_a_single_split_set_whole(my_folders, tmp_path):
    """train (no --split) trains on the set less a held-out tenth that it validates on, and says
    so; evaluate (no --split) scores all 120 images, macro-F1 over the two classes present; cv
    pools the whole set."""
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--data", str(my_folders), "--arch", "fernet_small", "--arg", "fusion=none",
                            "--epochs", "2", "--batch-size", "16", "--lr", "0.05", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert "a single split" in r.output and "held out by a fixed rule" in r.output
    ckpt = load_checkpoint(out / "best.pt")
    _, val = holdout(load_dataset(my_folders))
    assert ckpt["trained_on"]["n"] == 120 - len(val) and "held out" in ckpt["trained_on"]["val_split"]
    assert json.loads(r.stdout.strip().splitlines()[-1])["best_val_accuracy"] >= 0

    r = runner.invoke(app, ["evaluate", "--data", str(my_folders), "--model", str(out / "best.pt"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert rep["n"] == 120 and rep["split"] == "all"
    assert rep["macro_f1_classes"] == ["happy", "sad"]
    r = runner.invoke(app, ["evaluate", "--data", str(my_folders), "--model", str(out / "best.pt")])
    assert r.exit_code == 0 and "over the 2 classes present: happy, sad" in r.output

    r = runner.invoke(app, ["cv", "--data", str(my_folders), "--folds", "2", "--arch", "fernet_small",
                            "--arg", "fusion=none", "--epochs", "1", "--max-steps", "2", "--batch-size", "16",
                            "--out", str(tmp_path / "cv"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["n"] == 120


def test_a_named_split_that_is_not_there_still_lists_the_available_ones(my_folders, tmp_path):
    """--split privatetest on a single-split set is refused, naming the split it has."""
    r = runner.invoke(app, ["evaluate", "--data", str(my_folders), "--split", "privatetest", "--model", "fast"])
    assert r.exit_code == 1 and "unknown split 'privatetest'; available: all" in r.output
