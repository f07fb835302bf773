"""scripts/gpu_kit.py: the pack that carries FER-2013 to a lent GPU machine, the jobs trained
there (run here on the CPU), and the checkpoint parts that come back."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from edgefer.data.load import load_dataset
from edgefer.data.pixels import dataset_pixels
from edgefer.preprocess.spec import PreprocessSpec
from edgefer.train.checkpoint import load_checkpoint

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def kit():
    spec = importlib.util.spec_from_file_location("gpu_kit", ROOT / "scripts" / "gpu_kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def packed(kit, tiny_fer, tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "fer.npz"
    record = kit.pack(tiny_fer, str(tiny_checkpoint), out)
    return out, record


@pytest.fixture(scope="module")
def trained(kit, packed, tmp_path_factory, one_thread):
    """One small job trained on the CPU through the same path as on the GPU machine."""
    base = tmp_path_factory.mktemp("gpu")
    job = "tiny-1 epochs=3 seed=5 lr=0.05 batch=16 widths=(8,16,32,64)"
    summary = kit.train_all(packed[0], [job], base / "out", device="cpu", budget_s=0, work=base / "work")
    return base, summary


def test_webp_round_trip_is_lossless(kit):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (20, 48, 48), dtype=np.uint8)
    pixels[3] = 0
    pixels[4] = 255
    data, offsets = kit.encode_webp(pixels)
    assert offsets[-1] == len(data) and len(offsets) == 21
    assert np.array_equal(kit.decode_webp(data, offsets, 48), pixels)


def test_pack_holds_the_raw_faces_labels_and_teacher_targets(kit, packed, tiny_fer, tiny_checkpoint):
    path, record = packed
    rec, arrays = kit.load_pack(path)
    assert rec["train_n"] == 64 and rec["publictest_n"] == 24
    assert rec["teacher"].startswith(f"{tiny_checkpoint.name} sha256:")
    train = load_dataset(tiny_fer, split="train")
    raw, _ = dataset_pixels(train, PreprocessSpec(input_size=48, equalize=False))
    assert np.array_equal(kit.decode_webp(arrays["train_webp"], arrays["train_offsets"], 48), raw)
    assert np.array_equal(arrays["train_labels"], np.asarray(train.labels))
    soft = arrays["train_soft"]
    assert soft.shape == (64, 7) and np.allclose(soft.sum(1), 1, atol=1e-4)


def test_jobs_train_and_come_back_as_the_same_checkpoint(kit, trained, packed, tmp_path):
    base, summary = trained
    job = summary["jobs"][0]
    assert job["returncode"] == 0, job.get("log_tail")
    assert job["config"]["epochs"] == 3 and job["config"]["seed"] == 5 and job["config"]["lr"] == 0.05
    assert job["config"]["soft_labels"] == 0.7 and job["config"]["teacher"] == packed[1]["teacher"]
    assert job["config"]["model_kwargs"] == {"fusion": "none", "widths": [8, 16, 32, 64]}
    assert len(job["history"]) == 3
    assert all(p["bytes"] <= kit.PART_BYTES for p in job["parts"])
    assert json.loads((base / "out" / "summary.json").read_text())["jobs"][0]["sha256"] == job["sha256"]
    rows = kit.unpack(base / "out", tmp_path)
    assert rows[0]["name"] == "tiny-1" and rows[0]["epochs"] == 3
    back = load_checkpoint(tmp_path / "tiny-1" / "best.pt")
    there = load_checkpoint(base / "work" / "tiny-1" / "best.pt")
    assert back["preprocess"] == there["preprocess"] and back["preprocess"]["equalize"] is True
    assert all(np.array_equal(back["state_dict"][k].numpy(), v.numpy()) for k, v in there["state_dict"].items())
    assert back["trained_on"]["n"] == 64 and back["trained_on"]["val_split"] == "publictest"
    assert len(json.loads((tmp_path / "tiny-1" / "history.json").read_text())) == 3


def test_parts_are_split_and_checked(kit, trained, tmp_path):
    base, summary = trained
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 40)
    parts = kit.split_file(big, tmp_path, "big", part_bytes=4096)
    assert [p["bytes"] for p in parts] == [4096, 4096, 2048]
    assert b"".join((tmp_path / p["file"]).read_bytes() for p in parts) == big.read_bytes()
    # a damaged part is refused, and nothing is written
    out = tmp_path / "copy"
    for f in (base / "out").iterdir():
        (out / f.name).parent.mkdir(exist_ok=True)
        (out / f.name).write_bytes(f.read_bytes())
    part = out / summary["jobs"][0]["parts"][0]["file"]
    data = bytearray(part.read_bytes())
    data[100] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(kit.KitError, match="SHA-256"):
        kit.unpack(out, tmp_path / "runs")
    assert not (tmp_path / "runs" / "tiny-1").exists()


def test_unpack_never_overwrites_a_run(kit, trained, tmp_path):
    base, _ = trained
    (tmp_path / "tiny-1").mkdir()
    (tmp_path / "tiny-1" / "best.pt").write_bytes(b"mine")
    with pytest.raises(kit.KitError, match="exists"):
        kit.unpack(base / "out", tmp_path)
    assert (tmp_path / "tiny-1" / "best.pt").read_bytes() == b"mine"


@pytest.mark.parametrize("job, message", [
    ("epochs=3", "must start with a name"),
    ("a/b epochs=3", "letters, digits"),
    ("x epochs", "not key=value"),
    ("x epochs=many", "not a int"),
])
def test_bad_jobs_are_named(kit, job, message):
    with pytest.raises(kit.KitError, match=message):
        kit.parse_job(job)


def test_bad_model_arguments_stop_before_any_process(kit, packed, tmp_path):
    with pytest.raises(kit.KitError, match="job options"):
        kit.train_all(packed[0], ["x colour=blue"], tmp_path / "out", device="cpu", budget_s=0, work=tmp_path / "w")
    with pytest.raises(kit.KitError, match="share a name"):
        kit.train_all(packed[0], ["x", "x seed=2"], tmp_path / "out", device="cpu", budget_s=0, work=tmp_path / "w")
    wide = "widths=(64,128,256,512)"
    with pytest.raises(kit.KitError, match="brings back 8 files"):  # 4 x 2 parts + summary.json
        kit.train_all(packed[0], [f"w{i} {wide}" for i in range(4)], tmp_path / "out", device="cpu",
                      budget_s=0, work=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_a_missing_or_foreign_pack_is_named(kit, tmp_path):
    with pytest.raises(kit.KitError, match="no pack here"):
        kit.load_pack(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", record=np.array("{}"), x=np.zeros(3))
    with pytest.raises(kit.KitError, match="missing"):
        kit.load_pack(tmp_path / "other.npz")


def test_slim_and_restore_move_files_and_never_overwrite(kit, tmp_path, monkeypatch):
    monkeypatch.setattr(kit, "ROOT", tmp_path)
    monkeypatch.setattr(kit, "ASIDE", tmp_path / ".gpu-aside")
    monkeypatch.setattr(kit, "SLIM", ("candidates", "results/table.json", "absent"))
    (tmp_path / "candidates").mkdir()
    (tmp_path / "candidates" / "a.onnx").write_bytes(b"a")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table.json").write_text("{}")
    assert kit.slim() == ["candidates", "results/table.json"]
    assert not (tmp_path / "candidates").exists()
    assert (tmp_path / ".gpu-aside" / "candidates" / "a.onnx").read_bytes() == b"a"
    (tmp_path / "results" / "table.json").write_text("new")  # made while set aside
    with pytest.raises(kit.KitError, match="exists"):
        kit.restore()
    (tmp_path / "results" / "table.json").unlink()
    kit.restore()
    assert (tmp_path / "candidates" / "a.onnx").read_bytes() == b"a"
    assert (tmp_path / "results" / "table.json").read_text() == "{}"
    assert not (tmp_path / ".gpu-aside").exists()


def test_a_budget_shrinks_the_epochs_after_a_probe(kit, packed, tmp_path, one_thread):
    """With --budget-s, a short probe run times a step and the job's epochs are cut to fit."""
    res = kit.train_one(packed[0], "tiny-b epochs=100000 batch=16 widths=(8,16,32,64)", tmp_path,
                        device="cpu", budget_s=8, probe_steps=8)
    probe = res["probe"]
    assert probe["epochs_asked"] == 100000 and 1 <= probe["epochs_run"] < 100000
    assert res["config"]["epochs"] == probe["epochs_run"] == len(res["history"])
    assert not (tmp_path / "tiny-b-probe").exists()


def test_jobs_run_side_by_side_with_a_budget(kit, packed, tmp_path):
    """Two jobs probe and train at once in one work folder without meeting each other's files."""
    jobs = [f"side-{i} seed={i} epochs=50 batch=16 widths=(8,16,32,64)" for i in (1, 2)]
    summary = kit.train_all(packed[0], jobs, tmp_path / "out", device="cpu", budget_s=20, work=tmp_path / "w")
    for job in summary["jobs"]:
        assert job["returncode"] == 0, job.get("log_tail")
        assert 1 <= job["probe"]["epochs_run"] <= 50 and len(job["history"]) == job["probe"]["epochs_run"]
        assert job["config"]["seed"] in (1, 2) and job["parts"]
