import json

import numpy as np
import pytest
import torch

from edgefer.train.checkpoint import load_checkpoint, model_from_checkpoint
from edgefer.train.config import TrainConfig
from edgefer.train.loop import fit


def _toy(n=96, size=32, seed=0):
    """Two separable classes: bright top half (happy) vs bright bottom half (sad); flips keep labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    for i in range(n):
        if y[i]:
            x[i, : size // 2] += 150
        else:
            x[i, size // 2:] += 150
    labels = np.where(y == 1, 3, 4)  # happy, sad
    return x, labels


def _cfg(**kw):
    base = dict(model="fernet_small", model_kwargs={"fusion": "none"}, batch_size=16, epochs=3,
                lr=0.05, augment="flip", seed=1, checkpoint_every=2)
    base.update(kw)
    return TrainConfig(**base)


def test_fit_learns_toy_task(tmp_path):
    """A few epochs on a separable toy task reach high validation accuracy and write the run files."""
    x, y = _toy()
    res = fit(_cfg(epochs=4), x, y, val_pixels=x[:32], val_labels=y[:32], out_dir=tmp_path)
    assert res["best_val_accuracy"] >= 0.9
    assert {"best.pt", "last.pt", "iterations.csv", "history.json", "config.json"} <= {p.name for p in tmp_path.iterdir()}
    rows = (tmp_path / "iterations.csv").read_text().splitlines()
    assert rows[0] == "epoch,iteration,loss,accuracy,lr" and len(rows) == 1 + 4 * (96 // 16)
    assert len(json.loads((tmp_path / "history.json").read_text())) == 4


def test_best_checkpoint_carries_preprocessing(tmp_path):
    """best.pt holds model name, arguments, preprocessing and scores, and rebuilds the same model."""
    x, y = _toy()
    fit(_cfg(epochs=1), x, y, val_pixels=x[:16], val_labels=y[:16], out_dir=tmp_path)
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert ckpt["model_name"] == "fernet_small"
    assert ckpt["preprocess"]["input_size"] == 32 and ckpt["preprocess"]["equalize"] is True
    assert 0 < ckpt["preprocess"]["std"] < 1
    assert "val_accuracy" in ckpt["scores"]
    model = model_from_checkpoint(ckpt)
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 7)


@pytest.mark.parametrize("stop_after", [3, 6])
def test_resume_reproduces_uninterrupted_run(tmp_path, stop_after):
    """Stopping after N steps and resuming ends with exactly the uninterrupted run's weights."""
    x, y = _toy()
    full = fit(_cfg(), x, y, out_dir=tmp_path / "full")
    cut = tmp_path / "cut"
    fit(_cfg(max_steps=stop_after), x, y, out_dir=cut)
    # The interrupted run's last checkpoint is what a killed process leaves behind.
    fit(_cfg(), x, y, out_dir=cut, resume=True)
    a = load_checkpoint(tmp_path / "full" / "last.pt")["state_dict"]
    b = load_checkpoint(cut / "last.pt")["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert full["iterations"] == 18


def test_resume_after_a_kill_logs_each_iteration_once(tmp_path):
    """A killed run logged iterations past its last checkpoint (and maybe half a line); the resume
    trains those again, so iterations.csv ends as the uninterrupted run's, each iteration once."""
    x, y = _toy()
    fit(_cfg(checkpoint_every=4), x, y, out_dir=tmp_path / "full")
    cut = tmp_path / "cut"
    fit(_cfg(checkpoint_every=4, max_steps=4), x, y, out_dir=cut)
    log = cut / "iterations.csv"
    # what the killed process had written after its checkpoint at iteration 4
    with open(log, "ab") as f:  # as csv.writer writes them, "\r\n" after each row
        f.write(b"0,5,0.11111,0.5000,0.05\r\n0,6,0.22222,0.5000,0.05\r\n0,7,0.3")
    fit(_cfg(checkpoint_every=4), x, y, out_dir=cut, resume=True)
    full = (tmp_path / "full" / "iterations.csv").read_text()
    assert log.read_bytes() == (tmp_path / "full" / "iterations.csv").read_bytes()  # line ends too
    assert [int(r.split(",")[1]) for r in full.splitlines()[1:]] == list(range(1, 19))


def test_resume_keeps_counting_training_time(tmp_path, monkeypatch):
    """history.json's "seconds" is the training time since the run began, across a resume, not
    since the resume (a clock that moves 10 s per reading makes each step visible)."""
    import itertools

    from edgefer.train import loop
    ticks = itertools.count(1000.0, 10.0)
    monkeypatch.setattr(loop.time, "time", lambda: next(ticks))
    x, y = _toy()
    fit(_cfg(max_steps=9), x, y, val_pixels=x[:16], val_labels=y[:16], out_dir=tmp_path)
    before = load_checkpoint(tmp_path / "last.pt")["train_state"]["seconds"]
    first = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in first] == [1] and 0 < first[0]["seconds"] < before
    fit(_cfg(), x, y, val_pixels=x[:16], val_labels=y[:16], out_dir=tmp_path, resume=True)
    seconds = [h["seconds"] for h in json.loads((tmp_path / "history.json").read_text())]
    assert len(seconds) == 3 and seconds[0] == first[0]["seconds"]
    assert before < seconds[1] < seconds[2]


def test_resume_refuses_other_config(tmp_path):
    """Resuming with different options (other than epochs) is refused with a clear message."""
    x, y = _toy(n=32)
    fit(_cfg(epochs=1), x, y, out_dir=tmp_path)
    with pytest.raises(ValueError, match="different configuration"):
        fit(_cfg(epochs=2, lr=0.1), x, y, out_dir=tmp_path, resume=True)
