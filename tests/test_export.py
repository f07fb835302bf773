"""Tests for edgefer.export: ONNX export with preprocessing metadata, run with ONNX Runtime."""
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from edgefer.cli.main import app
from edgefer.labels import CLASSES
from edgefer.models import create_model
from edgefer.preprocess.spec import PreprocessSpec
from edgefer.recognize import Recognizer
from edgefer.train.checkpoint import save_checkpoint

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="running exports needs onnxruntime (pip install onnxruntime)")

from edgefer.export import OnnxClassifier, export_onnx  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def checkpoint(randomize_batch_norms):
    """``checkpoint(path, fusion, **kwargs)`` writes a fernet_small checkpoint with random weights
    and non-trivial batch norms."""
    def write(path, fusion, **kwargs):
        torch.manual_seed(0)
        model = randomize_batch_norms(create_model("fernet_small", fusion=fusion, **kwargs))
        spec = PreprocessSpec(input_size=48, equalize=True, mean=0.48, std=0.24)
        return save_checkpoint(path, model_name="fernet_small", model_kwargs={"fusion": fusion, **kwargs},
                               state_dict=model.state_dict(), preprocess=spec.to_dict())
    return write


@pytest.mark.parametrize("fusion, block", [("feature", "plain"), ("none", "plain"), ("none", "residual")])
def test_onnx_probabilities_match_torch(checkpoint, tmp_path, fusion, block):
    """ONNX Runtime's probabilities equal torch's within 1e-4, for any batch size, for plain and
    residual FERNets."""
    ckpt = checkpoint(tmp_path / f"{fusion}.pt", fusion, block=block)
    onnx_path = export_onnx(ckpt, tmp_path / f"{fusion}.onnx")
    rec, oc = Recognizer(ckpt), OnnxClassifier(onnx_path)
    pixels = np.random.default_rng(1).integers(0, 256, (9, 48, 48), dtype=np.uint8)
    for batch in (pixels, pixels[:1]):
        expected, got = rec.probabilities(batch), oc.probabilities(batch)
        assert got.shape == (len(batch), 7)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)


def test_onnx_metadata_carries_preprocessing_and_classes(checkpoint, tmp_path):
    """The exported file holds the checkpoint's preprocessing spec and the class order."""
    ckpt = checkpoint(tmp_path / "m.pt", "none")
    proto = onnx.load(str(export_onnx(ckpt, tmp_path / "m.onnx")))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["preprocess"]) == {"input_size": 48, "equalize": True, "mean": 0.48, "std": 0.24}
    assert json.loads(meta["classes"]) == list(CLASSES)
    assert meta["model_name"] == "fernet_small"
    assert OnnxClassifier(tmp_path / "m.onnx").spec == PreprocessSpec(48, True, 0.48, 0.24)


def test_export_refuses_existing_file(checkpoint, tmp_path):
    """An existing output file is kept unless overwrite=True."""
    ckpt = checkpoint(tmp_path / "m.pt", "none")
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="m.onnx: already exists"):
        export_onnx(ckpt, out)
    assert out.read_bytes() == b"keep me"
    export_onnx(ckpt, out, overwrite=True)
    assert out.read_bytes() != b"keep me"


def test_export_cli_writes_then_refuses(checkpoint, tmp_path):
    """`edgefer export` writes the file, refuses to replace it without --overwrite, and rejects other formats."""
    ckpt = checkpoint(tmp_path / "m.pt", "none")
    out = tmp_path / "model.onnx"
    runner = CliRunner()
    args = ["export", "--model", str(ckpt), "--format", "onnx", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert out.is_file() and "model.onnx" in first.stdout
    second = runner.invoke(app, args)
    assert second.exit_code == 1 and "already exists" in second.stderr
    assert runner.invoke(app, args + ["--overwrite"]).exit_code == 0
    bad = runner.invoke(app, ["export", "--model", str(ckpt), "--format", "tflite", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "--format must be onnx" in bad.stderr


def test_onnx_classifier_missing_file(tmp_path):
    """A missing ONNX file raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        OnnxClassifier(tmp_path / "absent.onnx")


def test_export_records_feature_fusion_as_one_conv_and_a_max(checkpoint, tmp_path):
    """A feature-fused model exports its fusion as kirsch_conv does (one Conv with the compass
    masks and one ReduceMax), not as the numba kernel's result frozen into a constant or the ring
    sums' many small ops; the export leaves no switch on: a fresh load still runs the kernel."""
    from collections import Counter

    from edgefer.models._fusion import EdgeFusion

    ops = {}
    for fusion in ("feature", "none"):
        path = export_onnx(checkpoint(tmp_path / f"{fusion}.pt", fusion), tmp_path / f"{fusion}.onnx")
        ops[fusion] = Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["feature"]["Conv"] == ops["none"]["Conv"] + 1
    assert ops["feature"]["ReduceMax"] == 1 and ops["none"]["ReduceMax"] == 0
    rec = Recognizer(tmp_path / "feature.pt")
    assert [m.eager for m in rec.classifier.model.modules() if isinstance(m, EdgeFusion)] == [False]
