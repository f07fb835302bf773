"""Export a trained model to ONNX, and quantize an exported one to int8.

The exported graph takes the model's normalized input, float32 (N, 1, S, S) as made by
:meth:`PreprocessSpec.to_tensor`, and returns class probabilities (N, 7): the softmax is
inside the graph. The batch size N is dynamic. The preprocessing spec, the class order and the
model's name travel in the file's ``metadata_props``, so
:class:`~edgefer.runtime.OnnxClassifier` (or any ONNX consumer) can prepare inputs exactly as the
model was trained. Running an exported model is :mod:`edgefer.runtime`'s; recognition never
imports this module. The running side's names are re-exported here for old imports.
"""
from __future__ import annotations

import io
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from edgefer.io import atomic_write_bytes
from edgefer.labels import CLASSES
from edgefer.preprocess.spec import PreprocessSpec
from edgefer.runtime import (  # noqa: F401  (re-exported: the running side, under its old path)
    INPUT_NAME, INT8_MODES, OUTPUT_NAME, OnnxClassifier, _require, as_u8u8, int8_kernels_saturate,
    int8_mode, onnx_info, read_onnx_metadata,
)

log = logging.getLogger(__name__)

ONNX_OPSET = 17
"""ONNX opset of exported graphs (ONNX Runtime >= 1.11 runs it)."""

class _WithSoftmax(nn.Module):
    """The classifier followed by a softmax over the classes, as one exportable module."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).softmax(1)


def export_onnx(model: str | os.PathLike | None, out: str | os.PathLike, *,
                overwrite: bool = False, opset: int = ONNX_OPSET) -> Path:
    """Export a checkpoint's model to an ONNX file with its preprocessing as metadata.

    Parameters
    ----------
    model : None (the shipped model), a shipped model's name, or a checkpoint path.
    out : the ``.onnx`` file to write (atomically).
    overwrite : replace ``out`` if it exists.
    opset : ONNX opset version.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    FileExistsError
        When ``out`` exists and ``overwrite`` is false.
    FileNotFoundError, ValueError, CheckpointError
        For a missing checkpoint or unknown model name (see :func:`resolve_model`).
    ImportError
        Without the ``onnx`` package.

    Notes
    -----
    Feature fusion is exported through its plain-torch form (the model is prepared with
    :func:`~edgefer.models.set_eager_fusion`), since the fast CPU kernel is opaque to tracing;
    the two compute the same values.
    """
    from edgefer.checkpoint import load_checkpoint, model_from_checkpoint
    from edgefer.models import set_eager_fusion
    from edgefer.recognize import resolve_model

    onnx = _require("onnx")
    out = Path(out)
    if out.is_dir():
        raise IsADirectoryError(f"{out}: is a folder; give the .onnx file to write")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists; pass overwrite=True (--overwrite) to replace it")
    path = resolve_model(model)
    ckpt = load_checkpoint(path)
    spec = PreprocessSpec.from_dict(ckpt["preprocess"])
    net = _WithSoftmax(set_eager_fusion(model_from_checkpoint(ckpt))).eval()
    example = torch.zeros(2, 1, spec.input_size, spec.input_size)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter (no onnxscript needed) warns that it is the legacy one, and
        # tracing warns about Python-side shape checks; both are expected here.
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), buf, dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    proto = onnx.load_model_from_string(buf.getvalue())
    meta = {"preprocess": json.dumps(spec.to_dict()), "classes": json.dumps(list(CLASSES)),
            "model_name": ckpt["model_name"], "model_kwargs": json.dumps(ckpt["model_kwargs"]),
            "source_checkpoint": path.name, "producer": "edgefer",
            "trained_on": json.dumps(ckpt.get("trained_on", {}), default=str),
            "scores": json.dumps(ckpt.get("scores", {}), default=str)}
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    log.info("exported %s to %s (%d bytes)", path, out, len(data))
    return atomic_write_bytes(out, lambda f: f.write(data))


def quantize_onnx(src: str | os.PathLike, out: str | os.PathLike, calibration: np.ndarray, *,
                  overwrite: bool = False, batch: int = 64) -> Path:
    """Write an int8 copy of an exported model (static quantization, calibrated on real faces).

    Weights are quantized per output channel to int8 and activations to uint8 with ranges
    observed on ``calibration`` (uint8 model pixels (N, S, S): a few hundred training faces are
    enough); the graph keeps float input and output, so :class:`OnnxClassifier` runs it as it
    runs the float one. Metadata (preprocessing, classes, name) is carried over.

    Raises
    ------
    FileExistsError
        When ``out`` exists and ``overwrite`` is false.
    ValueError
        When ``src`` is not an edgefer ONNX file or ``calibration`` is empty or of the wrong size.
    """
    import tempfile

    onnx = _require("onnx")
    _require("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, out = Path(src), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists; pass overwrite=True (--overwrite) to replace it")
    spec = OnnxClassifier(src).spec
    calibration = np.asarray(calibration)
    if calibration.ndim != 3 or len(calibration) == 0 or calibration.shape[1:] != (spec.input_size,) * 2:
        raise ValueError(f"`calibration` must be non-empty uint8 pixels (N, {spec.input_size}, "
                         f"{spec.input_size}); got shape {calibration.shape}")
    x = spec.to_array(calibration)

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter([{INPUT_NAME: x[i:i + batch]} for i in range(0, len(x), batch)])

        def get_next(self):
            return next(self._batches, None)

    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pre, q = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(src), str(pre))
        quantize_static(str(pre), str(q), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                        nodes_to_exclude=_float_nodes(onnx.load(str(pre))))
        proto = onnx.load(str(q))
    meta.update(quantization="int8 static (QDQ, per-channel weights), "
                             f"calibrated on {len(x)} faces", source_onnx=src.name)
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    log.info("quantized %s to %s (%d bytes)", src, out, len(data))
    return atomic_write_bytes(out, lambda f: f.write(data))


def _float_nodes(proto) -> list[str]:
    """Nodes kept in float by :func:`quantize_onnx`.

    * The softmax: quantized, the probabilities would come in steps of 1/255.
    * Kirsch edge fusion: every node in the scope of a convolution whose weights are the 8
      compass masks (as :func:`~edgefer.models.layers.kirsch_conv` exports it). Float
      edges are exact, and faster here than int8 ones (810 against 540 crops/s measured for
      the edge-fused ``fernet``).
    """
    from onnx import numpy_helper

    from edgefer.preprocess.kernels import KIRSCH_KERNELS
    inits = {i.name: i for i in proto.graph.initializer}
    scopes = set()
    for n in proto.graph.node:
        w = inits.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if w is not None and list(w.dims) == [8, 1, 3, 3] and np.array_equal(
                numpy_helper.to_array(w)[:, 0], KIRSCH_KERNELS):
            scopes.add(n.name.rsplit("/", 1)[0] + "/")
    return [n.name for n in proto.graph.node
            if n.op_type == "Softmax" or any(n.name.startswith(sc) for sc in scopes)]
