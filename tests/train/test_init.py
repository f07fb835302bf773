"""Tests for edgefer.train.init (``edgefer train --init``): starting from a checkpoint's or an
exported ONNX model's weights."""
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from edgefer.cli.main import app
from edgefer.export import export_onnx, quantize_onnx
from edgefer.models import create_model
from edgefer.preprocess.spec import PreprocessSpec
from edgefer.train.checkpoint import save_checkpoint
from edgefer.train.init import init_preprocess, load_init, recalibrate

pytestmark = pytest.mark.usefixtures("one_thread")
runner = CliRunner()
SPEC = PreprocessSpec(input_size=48, mean=0.45, std=0.27)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, randomize_batch_norms):
    """A fernet_small whose batch norms hold non-trivial statistics and affine terms, saved as a
    checkpoint, a float ONNX export and an int8 copy."""
    d = tmp_path_factory.mktemp("init")
    torch.manual_seed(0)
    model = randomize_batch_norms(create_model("fernet_small", fusion="none"), mean=0.5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.bias.uniform_(-0.2, 0.2)
    save_checkpoint(d / "m.pt", model_name="fernet_small", model_kwargs={"fusion": "none"},
                    state_dict=model.state_dict(), preprocess=SPEC.to_dict())
    export_onnx(d / "m.pt", d / "m.onnx")
    rng = np.random.default_rng(0)
    faces = np.stack([np.kron(s, np.ones((8, 8), np.uint8))
                      for s in rng.integers(0, 256, (64, 6, 6), dtype=np.uint8)])
    quantize_onnx(d / "m.onnx", d / "m8.onnx", faces)
    return model.eval(), d, SPEC.to_tensor(faces)


@pytest.mark.parametrize("name", ["m.pt", "m.onnx"])
def test_init_reproduces_the_model_in_eval_mode(trained, name):
    """From the checkpoint, or from the ONNX export whose batch norms were folded away, the new
    model computes what the original did, before and after its batch norms are re-estimated."""
    model, d, x = trained
    fresh = create_model("fernet_small", fusion="none")
    needs = load_init(fresh, d / name)
    assert needs is (name == "m.onnx")
    want = model(x).detach()
    fresh.eval()
    torch.testing.assert_close(fresh(x).detach(), want, atol=1e-4, rtol=1e-4)
    if needs:
        recalibrate(fresh, x)
        fresh.eval()
        torch.testing.assert_close(fresh(x).detach(), want, atol=1e-4, rtol=1e-4)
        # batch statistics now match the data: train mode (dropout aside) stays close
        fresh.train()
        fresh.head[2].p = 0.0
        assert (fresh(x).detach() - want).abs().mean() < 0.05 * want.abs().mean() + 1e-3
    assert init_preprocess(d / name) == SPEC.to_dict()


def test_init_from_int8_starts_near_the_float_model(trained):
    """Dequantized int8 weights give nearly the float model's outputs."""
    model, d, x = trained
    fresh = create_model("fernet_small", fusion="none")
    load_init(fresh, d / "m8.onnx")
    recalibrate(fresh, x)
    fresh.eval()
    p_new, p_old = fresh(x).softmax(1), model(x).softmax(1)
    assert (p_new - p_old).abs().max() < 0.05


def test_init_residual_from_its_onnx_export(tmp_path, randomize_batch_norms):
    """A residual FERNet's export (shortcut projections and all) loads back layer for layer: the
    new model computes what the original did once its batch norms are re-estimated."""
    torch.manual_seed(0)
    kwargs = {"fusion": "none", "block": "residual"}
    model = randomize_batch_norms(create_model("fernet_small", **kwargs), mean=0.5)
    save_checkpoint(tmp_path / "r.pt", model_name="fernet_small", model_kwargs=kwargs,
                    state_dict=model.state_dict(), preprocess=SPEC.to_dict())
    export_onnx(tmp_path / "r.pt", tmp_path / "r.onnx")
    x = torch.randn(16, 1, 48, 48)
    fresh = create_model("fernet_small", **kwargs)
    assert load_init(fresh, tmp_path / "r.onnx")
    fresh.eval()
    model.eval()
    torch.testing.assert_close(fresh(x).detach(), model(x).detach(), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match=r"r\.onnx: its layers do not fit"):
        load_init(create_model("fernet_small", fusion="none"), tmp_path / "r.onnx")


def test_init_that_does_not_fit_names_the_file(trained):
    _, d, _ = trained
    other = create_model("fernet", fusion="none")
    for name in ("m.onnx", "m.pt"):
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            load_init(other, d / name)


def test_train_init_starts_from_the_given_model(tiny_fer, tmp_path):
    """`edgefer train --init` a trained model's ONNX export with a learning rate too small to learn:
    the run starts where that model was (high accuracy at epoch 1) and records the file; without
    --init the same run stays near chance."""
    root = tiny_fer
    args = ["train", "--data", str(root), "--model", "fernet_small", "--arg", "fusion=none",
            "--batch-size", "16", "--epochs", "1", "--json"]
    r = runner.invoke(app, args + ["--lr", "0.05", "--epochs", "3", "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    export_onnx(tmp_path / "a" / "best.pt", tmp_path / "a.onnx")
    r = runner.invoke(app, args + ["--lr", "1e-6", "--out", str(tmp_path / "b"), "--init", str(tmp_path / "a.onnx")])
    assert r.exit_code == 0, r.output
    started = json.loads(r.stdout.strip().splitlines()[-1])["best_val_accuracy"]
    r = runner.invoke(app, args + ["--lr", "1e-6", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    scratch = json.loads(r.stdout.strip().splitlines()[-1])["best_val_accuracy"]
    assert started >= 0.9 and scratch <= 0.75, (started, scratch)
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert cfg["init"].startswith("a.onnx sha256:")


def test_train_init_missing_or_not_a_model_is_clear(tiny_fer, tmp_path):
    root = tiny_fer
    (tmp_path / "notes.txt").write_text("hello")
    for bad, says in ((tmp_path / "gone.onnx", "gone.onnx: no such"), (tmp_path / "notes.txt", "notes.txt")):
        r = runner.invoke(app, ["train", "--data", str(root), "--model", "fernet_small", "--out",
                                str(tmp_path / "o"), "--init", str(bad)])
        assert r.exit_code != 0 and "--init" in r.output and says in r.output, r.output
        assert "Traceback" not in r.output
        assert not (tmp_path / "o" / "last.pt").exists()

