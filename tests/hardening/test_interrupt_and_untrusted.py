import os
import pickle
import signal
import subprocess
import sys
import time
import warnings

import cv2
import numpy as np
import pytest
import torch

from edgefer.errors import CheckpointError
from edgefer.train.checkpoint import load_checkpoint, save_checkpoint


def _tiny_fer(root, n=48):
    rng = np.random.default_rng(0)
    for i in range(n):
        cls = ("happy", "sad")[i % 2]
        img = rng.integers(0, 255, (32, 32)).astype(np.uint8)
        d = root / "train" / cls
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"Training_{i:05d}.png"), img)


def _train(root, out, *extra):
    return [sys.executable, "-m", "edgefer", "train", "--data", str(root), "--model", "fernet_small",
            "--arg", "fusion='none'", "--input-size", "32", "--batch-size", "8", "--epochs", "3",
            "--lr", "0.05", "--augment", "standard", "--val-split", "none", "--checkpoint-every", "1",
            "--out", str(out), *extra]


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    """A run killed with SIGKILL mid-epoch and resumed ends with the uninterrupted run's exact weights."""
    _tiny_fer(tmp_path / "data")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EDGEFER_CACHE": str(tmp_path / "cache")}
    full = subprocess.run(_train(tmp_path / "data", tmp_path / "full"), env=env, capture_output=True,
                          text=True, timeout=300)
    assert full.returncode == 0, full.stderr[-2000:]
    cut = tmp_path / "cut"
    proc = subprocess.Popen(_train(tmp_path / "data", cut), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    log = cut / "iterations.csv"
    # Kill once a few iterations are logged (mid-epoch: 6 steps per epoch).
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 1 + 4:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # No partial file is ever left under a final name: last.pt loads.
    assert not list(cut.glob("last.pt.*")) or all(p.name.startswith(".") for p in cut.glob("*.tmp"))
    state = load_checkpoint(cut / "last.pt")["train_state"]
    assert (state["epoch"], state["step_in_epoch"]) != (3, 0)
    res = subprocess.run(_train(tmp_path / "data", cut, "--resume"), env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    a = load_checkpoint(tmp_path / "full" / "last.pt")["state_dict"]
    b = load_checkpoint(cut / "last.pt")["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    # each iteration logged once, as in the uninterrupted run (rows past the checkpoint dropped)
    assert (cut / "iterations.csv").read_bytes() == (tmp_path / "full" / "iterations.csv").read_bytes()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_payload_checkpoint_is_refused(tmp_path):
    """A checkpoint carrying a pickled callable is refused with a clear error, not executed."""
    path = tmp_path / "evil.pt"
    torch.save({"format": "edgefer-checkpoint", "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match="refused: the file holds pickled objects"):
        load_checkpoint(path)


def test_plain_pickle_and_garbage_are_refused(tmp_path):
    """A raw pickle, random bytes and an empty file each give a CheckpointError naming the file."""
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"a": 1}))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(300))
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for p in (raw, junk, empty):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(CheckpointError, match=p.name):
                load_checkpoint(p)
        # the error says it all: torch's warning about the raw pickle's protocol is not printed too
        assert [str(w.message) for w in caught] == []


def test_foreign_dict_is_not_an_edgefer_checkpoint(tmp_path):
    """A safe torch file that is not ours says so."""
    p = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, p)
    with pytest.raises(CheckpointError, match="not an edgefer checkpoint"):
        load_checkpoint(p)


def test_missing_checkpoint_names_path(tmp_path):
    """A missing checkpoint raises FileNotFoundError with the path."""
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


def test_device_or_folder_is_not_a_checkpoint(tmp_path):
    """A path that exists but is no regular file is refused as such, not as missing; a broken link
    says so."""
    with pytest.raises(CheckpointError, match="/dev/null: not a regular file"):
        load_checkpoint("/dev/null")
    with pytest.raises(CheckpointError, match="is a directory, expected a checkpoint file"):
        load_checkpoint(tmp_path)
    (tmp_path / "link.pt").symlink_to(tmp_path / "gone.pt")
    with pytest.raises(FileNotFoundError, match="link.pt: broken symbolic link"):
        load_checkpoint(tmp_path / "link.pt")


def test_save_checkpoint_is_atomic(tmp_path, monkeypatch):
    """If writing fails midway, the previous checkpoint stays intact and no temp file remains."""
    p = tmp_path / "m.pt"
    save_checkpoint(p, model_name="fernet_small", model_kwargs={}, state_dict={"w": torch.ones(2)},
                    preprocess={"input_size": 48})
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(p, model_name="fernet_small", model_kwargs={}, state_dict={"w": torch.zeros(2)},
                        preprocess={"input_size": 48})
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["m.pt"]
