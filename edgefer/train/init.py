"""Start a training run from another model's weights (``edgefer train --init``).

Two kinds of file: an edgefer checkpoint (``.pt``: its state dict is loaded as is), or an ONNX
model that ``edgefer export`` wrote (float or int8 QDQ). Export folds each batch norm into the
convolution before it, so an ONNX file holds ``W' = W·γ/σ`` and ``b' = β − μ·γ/σ`` per
convolution. They are put back without changing the network's function:

* the convolution takes ``W'`` (dequantized for int8);
* its batch norm is set so that in eval mode it adds ``b'`` and nothing else, and its running
  statistics are then re-estimated on training images (``recalibrate``), with ``γ`` and ``β``
  chosen so that eval mode still computes ``W'x + b'`` exactly and train mode (batch statistics)
  nearly so.

A fine-tune then starts where the exported model was, instead of from a normalization that
would rescale every channel.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn


def init_id(path: Path) -> str:
    """What a run records of its starting weights: the file name and a hash of its bytes."""
    return f"{path.name} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"


def _layers(model: nn.Module) -> list[tuple[nn.Module, nn.BatchNorm2d | None]]:
    """Each Conv2d and Linear in forward order, with the BatchNorm2d right after a Conv2d."""
    mods = list(model.modules())
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            out.append((m, nxt if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d) else None))
    return out


def _onnx_layers(path: Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(op, weight, bias) of each Conv and Gemm node, in graph order, dequantized to float."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:  # onnx raises DecodeError and others for a damaged file
        raise ValueError(f"{path}: not a readable ONNX model ({exc})") from None
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # Constant nodes and dequantized initializers
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "DequantizeLinear" and node.input[0] in values:
            q = values[node.input[0]].astype(np.float64)
            scale = values[node.input[1]].astype(np.float64)
            zero = values[node.input[2]].astype(np.float64) if len(node.input) > 2 else 0.0
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            if np.ndim(scale) == 1 and q.ndim > 1:
                shape = [1] * q.ndim
                shape[axis] = -1
                scale = scale.reshape(shape)
                zero = np.reshape(zero, shape) if np.ndim(zero) == 1 else zero
            values[node.output[0]] = ((q - zero) * scale).astype(np.float32)
    layers = []
    for node in graph.node:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        if node.input[1] not in values:
            raise ValueError(f"{path}: the weights of {node.op_type} node {node.name!r} are computed, "
                             f"not stored; --init reads models written by `edgefer export`")
        w = values[node.input[1]]
        if node.op_type == "Gemm" and not any(a.name == "transB" and a.i for a in node.attribute):
            w = w.T
        b = values.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        layers.append((node.op_type, w, b))
    return layers


def load_init(model: nn.Module, path: Path) -> bool:
    """Copy ``path``'s weights into ``model``; True when batch norms need ``recalibrate``.

    Raises ValueError, naming the file, when it does not fit the model.
    """
    if path.suffix.lower() == ".pt":
        from edgefer.checkpoint import load_checkpoint
        state = load_checkpoint(path)
        try:
            model.load_state_dict(state["state_dict"])
        except (KeyError, RuntimeError) as exc:
            raise ValueError(f"{path}: its weights do not fit this model ({str(exc).splitlines()[0]})") from None
        return False
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"{path}: --init takes an edgefer checkpoint (.pt) or ONNX model (.onnx)")
    ours, theirs = _layers(model), _onnx_layers(path)
    if len(ours) != len(theirs) or any(tuple(m.weight.shape) != w.shape for (m, _), (_, w, _b) in zip(ours, theirs)):
        want = [tuple(m.weight.shape) for m, _ in ours]
        got = [w.shape for _, w, _b in theirs]
        raise ValueError(f"{path}: its layers do not fit this model (model {len(want)} layers "
                         f"{want[:2]}…, file {len(got)} layers {got[:2]}…); use the same --model and --arg")
    with torch.no_grad():
        for (m, bn), (_, w, b) in zip(ours, theirs):
            m.weight.copy_(torch.tensor(w))
            bias = torch.zeros(m.weight.shape[0]) if b is None else torch.tensor(b, dtype=torch.float32)
            if bn is None:
                if m.bias is None:
                    if b is not None and np.any(b):
                        raise ValueError(f"{path}: a layer has a bias that this model has no place for")
                else:
                    m.bias.copy_(bias)
                continue
            if m.bias is not None:
                m.bias.zero_()
            # Eval mode: (y - 0) / sqrt(var + eps) * 1 + b' with var = 1 - eps: y + b' exactly.
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)
    return True


@torch.no_grad()
def recalibrate(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> None:
    """Re-estimate every batch norm's statistics on inputs ``x`` without changing eval outputs.

    For each batch norm that ``load_init`` set to "add b'", measure the mean μ and variance v of
    its input over ``x`` (in eval mode, where the network is exactly the exported one), then set
    running statistics (μ, v), γ = sqrt(v + eps) and β = b' + μ: eval mode still computes
    y + b', and train mode, normalizing by batch statistics close to (μ, v), nearly so.
    """
    bns = [bn for _, bn in _layers(model) if bn is not None]
    sums = {bn: [0.0, 0.0, 0] for bn in bns}

    def hook(bn, inputs, _out):
        y = inputs[0].float()
        s = sums[bn]
        s[0] = s[0] + y.sum((0, 2, 3)).double()
        s[1] = s[1] + (y.double() ** 2).sum((0, 2, 3))
        s[2] += y.shape[0] * y.shape[2] * y.shape[3]

    handles = [bn.register_forward_hook(hook) for bn in bns]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    for bn in bns:
        total, sq, count = sums[bn]
        if count == 0:
            continue
        mean = total / count
        var = (sq / count - mean ** 2).clamp_min(0)
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.bias.add_(mean.float())
        bn.weight.copy_(torch.sqrt(var + bn.eps).float())


def init_preprocess(path: Path) -> dict:
    """The preprocessing that ``path``'s model was trained with (a PreprocessSpec dict)."""
    from edgefer.io import missing_reason
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {missing_reason(path, 'model file')}")
    if path.suffix.lower() not in (".pt", ".onnx"):
        raise ValueError(f"{path}: --init takes an edgefer checkpoint (.pt) or ONNX model (.onnx)")
    if path.suffix.lower() == ".pt":
        from edgefer.checkpoint import load_checkpoint
        return load_checkpoint(path)["preprocess"]
    from edgefer.runtime import onnx_info
    return onnx_info(path)["preprocess"]
