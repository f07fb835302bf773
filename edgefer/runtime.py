"""Run an exported model with ONNX Runtime; read an ``.onnx`` file's edgefer metadata.

Running is kept apart from exporting (:mod:`edgefer.export`: torch -> ONNX, int8 quantization):
recognition imports this module, never that one. Here live the ONNX Runtime session
(:class:`OnnxClassifier`), the choice of int8 kernels for this CPU (:func:`int8_mode`), and
reading the preprocessing spec, class order and name that ``edgefer export`` wrote into the
file's ``metadata_props``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from edgefer.labels import CLASSES
from edgefer.preprocess.spec import PreprocessSpec

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


def _require(module: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"ONNX support needs the `{module}` package: pip install onnx onnxruntime") from None


_DISABLED_OPTIMIZERS = ["NchwcTransformer"]
"""ONNX Runtime graph rewrites left off. The NCHWc layout rewrite turns the float Kirsch
convolution of an edge-fused model into blocked-layout convs whose output reorders cost more than
the convs: without it the edge-fused ``fernet`` int8 model runs 1.6 times as fast (326 against 510
crops/s, one thread), and the plain one as fast as with it (1,495 against 1,448)."""


_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
INT8_MODES = ("fused", "u8u8", "reference")


def int8_kernels_saturate(cpuinfo: str | None = None, machine: str | None = None) -> bool:
    """Whether ONNX Runtime's fused uint8 x int8 convolutions can give wrong results on this CPU.

    On x86-64 without VNNI, ONNX Runtime multiplies uint8 activations by int8 weights with
    VPMADDUBSW, which adds pairs of products into int16 and saturates: the QLinearConv it fuses
    from our QDQ graphs then drifts far from the quantized model (seen on a 2-core AVX2-only
    EPYC: `fernet-kd2-int8`, now `fernet32-fer2013-int8`: 55.78 % instead of 67.43 % on PublicTest). With VNNI
    (``avx512_vnni``, ``avx_vnni``, AMX) or on ARM the sums are int32 and exact. x86 CPUs whose
    flags cannot be read are taken to saturate.
    """
    from edgefer.cpu import cpu_flags, is_x86
    if not is_x86(machine):
        return False
    flags = cpu_flags(cpuinfo)
    return flags is None or not flags & set(_VNNI_FLAGS)


def int8_mode(cpuinfo: str | None = None, machine: str | None = None) -> str:
    """How :class:`OnnxClassifier` runs an int8 model here: ``EDGEFER_INT8_KERNELS`` if set to
    one of ``fused``, ``u8u8``, ``reference``; else ``u8u8`` where the fused kernels saturate and
    ``fused`` elsewhere.

    * ``fused``: the file as it is; ONNX Runtime fuses its QDQ nodes into int8 convolutions.
    * ``u8u8``: the weights are shifted by 128 to uint8 with zero point 128 (the same values),
      so that ONNX Runtime picks its uint8 x uint8 kernels, which widen to int16 before
      multiplying and do not saturate: exact, about two thirds of the fused speed.
    * ``reference``: graph rewrites off past the basic level, so the convolutions run in float on
      dequantized values: the quantized model's own arithmetic, about a third of the fused speed.
    """
    forced = os.environ.get("EDGEFER_INT8_KERNELS", "").strip().lower()
    if forced in INT8_MODES:
        return forced
    return "u8u8" if int8_kernels_saturate(cpuinfo, machine) else "fused"


def _load_proto(path: Path):
    import onnx
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception:  # let InferenceSession report the damaged file
        return None


def _is_quantized(proto) -> bool:
    """Whether an ONNX model holds QuantizeLinear nodes (an int8 QDQ model)."""
    return proto is not None and any(n.op_type == "QuantizeLinear" for n in proto.graph.node)


def as_u8u8(proto) -> bytes | None:
    """The serialized model with every int8 weight that a DequantizeLinear reads stored as uint8
    (value + 128, zero point + 128: the same dequantized values), or None when the model does not
    allow it (int8 activations, or a weight or zero point that something else also reads)."""
    from onnx import TensorProto, numpy_helper

    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    if any(n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in inits
           and inits[n.input[2]].data_type != TensorProto.UINT8 for n in graph.node):
        return None  # int8 activations: uint8 weights would not pair with them
    targets = {}
    for n in graph.node:
        if (n.op_type == "DequantizeLinear" and n.input[0] in inits and len(n.input) > 2
                and inits[n.input[0]].data_type == TensorProto.INT8):
            targets[n.input[0]] = n.input[2]
    if not targets:
        return None
    readers: dict[str, int] = {}
    for n in graph.node:
        for name in n.input:
            readers[name] = readers.get(name, 0) + 1
    if any(readers[w] != 1 or readers[z] != 1 for w, z in targets.items()):
        return None
    for name in (*targets, *targets.values()):
        shifted = (numpy_helper.to_array(inits[name]).astype(np.int16) + 128).astype(np.uint8)
        inits[name].CopyFrom(numpy_helper.from_array(shifted, name))
    return proto.SerializeToString()


def _checked_metadata(path: Path, meta: dict) -> tuple[PreprocessSpec, str]:
    """The preprocessing spec and model name in an exported file's metadata, checked."""
    if "preprocess" not in meta:
        raise ValueError(f"{path}: no edgefer preprocessing metadata; export it with `edgefer export`")
    classes = json.loads(meta.get("classes", "[]"))
    if classes != list(CLASSES):
        raise ValueError(f"{path}: class order {classes} differs from {list(CLASSES)}")
    return PreprocessSpec.from_dict(json.loads(meta["preprocess"])), meta.get("model_name", path.stem)


def read_onnx_metadata(path: str | os.PathLike) -> dict:
    """An ``.onnx`` file's ``metadata_props`` as a dict, read without starting a session.

    Raises
    ------
    ValueError
        Not a readable ONNX file.
    """
    onnx = _require("onnx")
    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ValueError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    return {p.key: p.value for p in model.metadata_props}


def onnx_info(path: str | os.PathLike, meta: dict | None = None) -> dict:
    """What :attr:`OnnxClassifier.info` says about ``path``; its metadata is read if not given."""
    path = Path(path)
    meta = read_onnx_metadata(path) if meta is None else meta
    spec, name = _checked_metadata(path, meta)
    return {"name": name, "path": str(path), "kind": "onnx", "preprocess": spec.to_dict(),
            "quantization": meta.get("quantization", "none (float32)"),
            "source": meta.get("source_checkpoint", ""),
            "trained_on": json.loads(meta.get("trained_on", "{}")),
            "scores": json.loads(meta.get("scores", "{}")), "classes": list(CLASSES)}


class OnnxClassifier:
    """Run an exported model with ONNX Runtime; same ``probabilities`` as :class:`Recognizer`.

    Parameters
    ----------
    path : an ``.onnx`` file written by :func:`edgefer.export.export_onnx`.
    batch_size : faces per run.
    threads : intra-op threads (default: ONNX Runtime's choice).

    Attributes
    ----------
    spec : the :class:`PreprocessSpec` read from the file's metadata.
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 256, threads: int | None = None):
        ort = _require("onnxruntime")
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        # Where the fused int8 kernels saturate, run the int8 model in a way that does not (int8_mode).
        # Only those ways need the graph in Python (to rewrite its weights, or to know that it is
        # int8 before choosing the optimizations); elsewhere ONNX Runtime alone reads the file, and
        # the `onnx` package (0.7 s to import) is not loaded.
        mode, source = int8_mode(), str(self.path)
        self.int8_mode = None
        if mode != "fused":
            proto = _load_proto(self.path)
            self.int8_mode = mode if _is_quantized(proto) else None
        if self.int8_mode == "u8u8":
            source = as_u8u8(proto) or source
            if isinstance(source, str):
                self.int8_mode = "reference"
        if self.int8_mode == "reference":
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=_DISABLED_OPTIMIZERS)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ValueError(f"{self.path}: not a readable ONNX model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.spec, self.name = _checked_metadata(self.path, self.metadata)
        if mode == "fused" and self.metadata.get("quantization", "").startswith("int8"):
            self.int8_mode = "fused"  # quantize_onnx's metadata says int8; ONNX Runtime fuses it
        self.batch_size = batch_size

    @property
    def info(self) -> dict:
        """Model name, file, preprocessing and how it was made (for --json and /api/models)."""
        return onnx_info(self.path, self.metadata)

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """float (N, 7) class probabilities for uint8 model pixels (N, S, S)."""
        out = []
        for i in range(0, len(pixels), self.batch_size):
            x = self.spec.to_array(pixels[i:i + self.batch_size])
            out.append(self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0].astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)
