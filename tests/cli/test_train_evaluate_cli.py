import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.cli.main import app

runner = CliRunner()


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


@pytest.mark.parametrize("command", ["train", "cv"])
@pytest.mark.parametrize("args, match", [(["--model", "nonet"], "unknown model 'nonet'"),
                                         (["--model", "fernet", "--arg", "depth=3"], "--arch fernet --arg: .*depth")])
def test_bad_model_or_model_argument_is_clear(tiny_fer, tmp_path, command, args, match):
    """An unknown model, or an --arg the model does not take, exits 1 with one error line, before any work."""
    r = runner.invoke(app, [command, "--data", str(tiny_fer), *args, "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and re.search(match, errors[0]), r.output
    assert not (tmp_path / "o").exists()


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


def test_cv_takes_the_training_recipe(tiny_fer, tmp_path):
    """cv takes train's recipe options (the shipped recipe can be cross-validated) and records them."""
    out = tmp_path / "cv"
    r = runner.invoke(app, ["cv", "--data", str(tiny_fer), "--model", "fernet_small", "--arg", "fusion=none",
                            "--folds", "2", "--epochs", "1", "--max-steps", "2", "--batch-size", "16",
                            "--no-equalize", "--optimizer", "adamw", "--weight-decay", "0.001",
                            "--schedule", "constant", "--warmup", "0.5", "--label-smoothing", "0.1",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "cv.json").read_text())["provenance"]["config"]
    assert (cfg["equalize"], cfg["optimizer"], cfg["weight_decay"], cfg["schedule"], cfg["warmup_epochs"],
            cfg["label_smoothing"]) == (False, "adamw", 0.001, "constant", 0.5, 0.1)


def test_train_and_cv_share_the_recipe_options():
    """Every training-recipe option of train is also an option of cv, with the same default."""
    import click
    import typer.main

    def options(name):
        cmd = typer.main.get_command(app).commands[name]
        return {o: p.default for p in cmd.params if isinstance(p, click.Option) for o in p.opts}

    train, cv = options("train"), options("cv")
    own = {"--split", "--val-split", "--soft-labels", "--teacher", "--ferplus", "--val-labels", "--checkpoint-every", "--recipe"}  # train's alone
    shared = set(train) - own
    assert shared <= set(cv), sorted(shared - set(cv))
    assert {o: train[o] for o in shared if o != "--out"} == {o: cv[o] for o in shared if o != "--out"}


def test_train_with_teacher_distils_its_probabilities(tiny_fer, tmp_path):
    """--teacher: a first run's best.pt classifies the training images; a second run is trained
    towards those probabilities, records the teacher (file and hash) and keeps the targets for resume."""
    first = tmp_path / "teacher"
    args = ["train", "--data", str(tiny_fer), "--model", "fernet_small", "--arg", "fusion=none",
            "--batch-size", "16", "--lr", "0.05", "--val-split", "none"]
    r = runner.invoke(app, args + ["--epochs", "2", "--out", str(first)])
    assert r.exit_code == 0, r.output
    student = tmp_path / "student"
    r = runner.invoke(app, args + ["--epochs", "1", "--out", str(student), "--teacher", str(first / "last.pt")])
    assert r.exit_code == 0, r.output
    cfg = json.loads((student / "config.json").read_text())
    assert cfg["teacher"].startswith("last.pt sha256:") and cfg["soft_labels"] == 0.5
    targets = np.load(student / "teacher_targets.npy")
    assert targets.shape == (64, 7)
    np.testing.assert_allclose(targets.sum(1), 1, atol=1e-4)
    # the teacher learned the toy task: its targets put most mass on the true class
    from edgefer.data.load import load_dataset
    true = load_dataset(tiny_fer, split="train").labels
    assert (targets.argmax(1) == true).mean() >= 0.9
    r = runner.invoke(app, args + ["--epochs", "2", "--out", str(student), "--teacher", str(first / "last.pt"),
                                   "--resume"])
    assert r.exit_code == 0, r.output
    # --overwrite is a new run: it does not reuse the targets left in the folder
    np.save(student / "teacher_targets.npy", np.zeros((64, 7), np.float32))
    r = runner.invoke(app, args + ["--epochs", "1", "--out", str(student), "--teacher", str(first / "last.pt"),
                                   "--overwrite"])
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(np.load(student / "teacher_targets.npy"), targets, atol=1e-6)


def test_the_recorded_id_of_a_manifest_teacher_covers_its_members_weights(tmp_path):
    """An ensemble manifest only names its members: the id a run records of it (and compares on
    resume) changes when a member's bytes change, though the manifest's own text does not."""
    from edgefer.train.distill import teacher_id as _teacher_id
    member = tmp_path / "a.onnx"
    member.write_bytes(b"first weights")
    manifest = tmp_path / "ens.json"
    manifest.write_text(json.dumps({"format": "edgefer-ensemble", "version": 1, "members": ["a.onnx"]}))
    before = _teacher_id(manifest)
    assert re.fullmatch(r"ens\.json sha256:[0-9a-f]{16}", before)
    assert _teacher_id(manifest) == before
    member.write_bytes(b"other weights")
    assert _teacher_id(manifest) != before


def test_train_with_a_manifest_teacher_whose_member_is_missing_is_clear(tiny_fer, tmp_path):
    """A --teacher manifest naming a member that is not there is refused before any training,
    naming the manifest and the member."""
    manifest = tmp_path / "ens.json"
    manifest.write_text(json.dumps({"format": "edgefer-ensemble", "version": 1, "members": ["gone.onnx"]}))
    r = runner.invoke(app, ["train", "--data", str(tiny_fer), "--out", str(tmp_path / "o"),
                            "--teacher", str(manifest)])
    assert r.exit_code != 0 and "--teacher" in r.output and "gone.onnx" in r.output
    assert not (tmp_path / "o" / "last.pt").exists()


def test_train_with_missing_teacher_is_clear(tiny_fer, tmp_path):
    """A --teacher that does not exist is named, and nothing is trained."""
    r = runner.invoke(app, ["train", "--data", str(tiny_fer), "--out", str(tmp_path / "o"),
                            "--teacher", str(tmp_path / "nope.pt")])
    assert r.exit_code != 0 and "--teacher" in r.output and "nope.pt" in r.output
    assert not (tmp_path / "o" / "last.pt").exists()


def test_train_overwrite_never_mixes_runs(tiny_fer, tmp_path, monkeypatch):
    """--overwrite removes the old run before the new one writes: killed at its first step, --out
    holds none of the old run's files (and no folder is left beside it)."""
    import edgefer.train.loop as loop

    out = tmp_path / "run"
    out.mkdir()
    for name in ("best.pt", "last.pt", "history.json", "iterations.csv", "config.json"):
        (out / name).write_text("old run")
    seen = {}

    def killed(cfg, *args, out_dir=None, **kwargs):
        seen["files"] = sorted(p.name for p in Path(out_dir).iterdir()) if Path(out_dir).exists() else None
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C before the first checkpoint

    monkeypatch.setattr(loop, "fit", killed)
    runner.invoke(app, ["train", "--data", str(tiny_fer), "--out", str(out), "--epochs", "1", "--overwrite"])
    assert seen["files"] in (None, [])
    assert not out.exists() or not any(out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) in (["run"], [])


def test_train_overwrite_keeps_old_run_when_options_fail(tiny_fer, tmp_path):
    """--overwrite with a bad option leaves the old run whole: nothing is removed before the checks pass."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_text("old run")
    r = runner.invoke(app, ["train", "--data", str(tiny_fer), "--out", str(out), "--loss", "nope", "--overwrite"])
    assert r.exit_code != 0
    assert (out / "best.pt").read_text() == "old run"


def _with_ferplus(tiny_fer, tmp_path):
    """A copy of ``tiny_fer`` whose ferplus.csv gives every image 6 surprise and 4 neutral votes,
    except the first training image (no vote among the seven: all 'unknown')."""
    import shutil
    root = tmp_path / "fer"
    shutil.copytree(tiny_fer, root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    lines = ["file,ferplus_image,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    first_train = next(f for f in files if f.startswith("train/"))
    for i, f in enumerate(files):
        votes = "0,0,0,0,0,0,0,0,10,0" if f == first_train else "4,0,6,0,0,0,0,0,0,0"
        lines.append(f"{f},fer{i:07d}.png,{votes}")
    (root / "ferplus.csv").write_text("\n".join(lines) + "\n")
    return root, first_train


def test_train_mixes_ferplus_votes_with_the_teacher(tiny_fer, tmp_path):
    """--ferplus F: soft targets are F x FER+ votes + (1 - F) x the teacher's probabilities, the
    teacher's alone for an image without a FER+ vote; --val-labels ferplus chooses the epoch on
    FER+'s majority (surprise here, so the toy model scores 0 on it) and both are recorded."""
    data, _ = _with_ferplus(tiny_fer, tmp_path)
    base = ["train", "--data", str(data), "--model", "fernet_small", "--arg", "fusion=none",
            "--batch-size", "16", "--lr", "0.05", "--epochs", "1"]
    teacher = tmp_path / "teacher"
    assert runner.invoke(app, base + ["--out", str(teacher)]).exit_code == 0
    pure, mixed = tmp_path / "pure", tmp_path / "mixed"
    r = runner.invoke(app, base + ["--out", str(pure), "--teacher", str(teacher / "last.pt")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, base + ["--out", str(mixed), "--teacher", str(teacher / "last.pt"),
                                   "--ferplus", "0.5", "--val-labels", "ferplus", "--json"])
    assert r.exit_code == 0, r.output
    t = np.load(pure / "teacher_targets.npy")
    from edgefer.data.load import load_dataset
    ds = load_dataset(data, split="train")
    votes = ds.soft_labels
    has = ~np.isnan(votes[:, 0])
    assert (~has).sum() == 1 and votes[has][0].tolist() == pytest.approx([0, 0, 0, 0, 0, 0.6, 0.4])
    from edgefer.cli.train import _mix_ferplus
    m = _mix_ferplus(t, ds, 0.5, data)
    np.testing.assert_allclose(m[has], 0.5 * votes[has] + 0.5 * t[has], atol=1e-6)
    np.testing.assert_allclose(m[~has], t[~has], atol=1e-6)
    cfg = json.loads((mixed / "config.json").read_text())
    hist = json.loads((mixed / "history.json").read_text())
    assert hist[-1]["val_accuracy"] == 0.0  # FER+ says surprise; the toy model says happy or sad
    assert cfg["ferplus"] == 0.5 and cfg["val_labels"] == "ferplus"


def test_train_ferplus_without_teacher_is_clear(tiny_fer, tmp_path):
    """--ferplus without --teacher is refused with a message that says what to use instead."""
    data, _ = _with_ferplus(tiny_fer, tmp_path)
    r = runner.invoke(app, ["train", "--data", str(data), "--model", "fernet_small", "--epochs", "1",
                            "--ferplus", "0.5", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "--ferplus" in r.output and "--teacher" in r.output
