"""Kirsch compass edges on tensors, and the edge fusion ``x + weight * kirsch(x)``.

``kirsch`` is the reference: plain torch operations, differentiable through
``torch.max``, on any device. ``kirsch_fuse`` is what the edge-fused CNNs call
after every convolution layer. On CPU it runs numba kernels
(:mod:`edgefer.models.layers._kirsch_kernels`: forward and backward, each one parallel
pass over the planes, or the rows of a channels_last tensor) inside a
``torch.autograd.Function``; on other devices, or without numba, it falls back to
``x + weight * kirsch(x)``. ``kirsch_conv`` computes ``kirsch`` as one convolution with
the 8 compass masks and a max, the form ONNX export records.

The NumPy operator of the same definition is :func:`edgefer.preprocess.edges.kirsch`.

Definition (shared with the NumPy implementation): the 8 neighbours of a pixel,
clockwise from the top-left, are

    n0 n1 n2
    n7  .  n3
    n6 n5 n4

with borders replicated. ``ring_i = n_i + n_(i+1) + n_(i+2)`` (indices mod 8) and
``S`` is the sum of the 8 neighbours. Compass response ``i`` is ``8 * ring_i - 3 * S``,
the correlation with the mask holding 5 on ring_i, -3 on the other five neighbours
and 0 in the centre; mask 0 is north, ``[[5, 5, 5], [-3, 0, -3], [-3, -3, -3]]``, and
masks 1..7 rotate it clockwise. ``kirsch = max_i response_i``, which is >= 0 because
the 8 responses sum to 0. The gradient follows the winning direction ``k`` (the
first maximum on ties): ``d kirsch / d n_j = 8 * [j in ring_k] - 3``.

References
----------
R. A. Kirsch, "Computer determination of the constituent structure of biological
images", Computers and Biomedical Research 4(3), 315-328, 1971.
"""
from __future__ import annotations

import logging
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgefer.models.layers import _kirsch_kernels as _kernels
from edgefer.preprocess.kernels import KIRSCH_KERNELS, RING_OFFSETS

__all__ = ["Kirsch", "KirschFusion", "kirsch", "kirsch_conv", "kirsch_fuse"]

logger = logging.getLogger(__name__)

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_warned_no_numba = False


def _check_image_tensor(x: object, name: str = "x") -> None:
    """Raise unless ``x`` is a floating tensor of shape (H, W), (B, H, W) or (B, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}.")
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"`{name}` must be a tensor of shape (H, W), (B, H, W) or (B, C, H, W); "
            f"got shape {tuple(x.shape)}."
        )
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"`{name}` must be a floating tensor (float16, bfloat16, float32 or float64); "
            f"got dtype {x.dtype}."
        )
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"`{name}` must have H, W >= 1; got shape {tuple(x.shape)}.")


def _kirsch_planes(x: torch.Tensor) -> torch.Tensor:
    """Kirsch magnitude of ``x`` shaped (N, 1, H, W), in plain torch ops."""
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    n = [xp[..., 1 + di : 1 + di + h, 1 + dj : 1 + dj + w] for di, dj in RING_OFFSETS]
    pairs = [n[i] + n[(i + 1) % 8] for i in range(8)]
    rings = [pairs[i] + n[(i + 2) % 8] for i in range(8)]
    total = rings[0] + rings[3] + pairs[6]  # n0+n1+n2 + n3+n4+n5 + n6+n7
    # max_i (8 * ring_i - 3 * S) = 8 * max_i ring_i - 3 * S, as the map is monotone;
    # the gradient still flows through torch.max to the (first) winning ring.
    best = torch.stack(rings).max(dim=0).values
    return 8 * best - 3 * total


def kirsch(x: torch.Tensor) -> torch.Tensor:
    """Kirsch compass edge magnitude of every channel of ``x``.

    Parameters
    ----------
    x : torch.Tensor
        Floating tensor (float16, bfloat16, float32 or float64) of shape (H, W),
        (B, H, W) or (B, C, H, W), any value range, any device.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``: ``max_i (8 * ring_i - 3 * S)`` per
        pixel, >= 0, with replicated borders. Differentiable (the gradient follows
        the winning compass direction).

    Raises
    ------
    TypeError
        If ``x`` is not a floating tensor.
    ValueError
        If ``x`` has another number of dimensions, or an empty H or W.

    Notes
    -----
    Equals the maximum of the correlations with the 8 masks of
    :data:`edgefer.preprocess.kernels.KIRSCH_KERNELS`::

        N  =  5  5  5    NE = -3  5  5    ...  (rotated clockwise)
             -3  0 -3         -3  0  5
             -3 -3 -3         -3 -3 -3

    computed through the ring sums ``ring_i = n_i + n_(i+1) + n_(i+2)``.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 3, 4)
    >>> x[..., 2:] = 1.0
    >>> kirsch(x)[0, 0, 0].tolist()
    [0.0, 15.0, 9.0, 0.0]
    """
    _check_image_tensor(x)
    shape = x.shape
    planes = x.reshape(-1, 1, shape[-2], shape[-1])
    return _kirsch_planes(planes).reshape(shape)


def kirsch_conv(x: torch.Tensor) -> torch.Tensor:
    """:func:`kirsch` as one convolution with the 8 compass masks and a max over them.

    The same values as :func:`kirsch` up to float rounding, in ops an exporter turns into one
    ``Conv`` and one ``ReduceMax``: an ONNX runtime runs that 1.6 times as fast as the ring-sum
    graph's many small ops (measured on the edge-fused ``fernet``). Edge fusion uses it when set to
    its eager form (:func:`edgefer.models.set_eager_fusion`), as export does.
    """
    _check_image_tensor(x)
    shape = x.shape
    planes = F.pad(x.reshape(-1, 1, shape[-2], shape[-1]), (1, 1, 1, 1), mode="replicate")
    masks = torch.tensor(KIRSCH_KERNELS, dtype=x.dtype, device=x.device)[:, None]  # a copy: the masks are read-only
    return F.conv2d(planes, masks).amax(dim=1).reshape(shape)


class _KirschFuseCPU(torch.autograd.Function):
    """``x + weight * kirsch(x)`` on CPU through the numba kernels.

    A 4-D channels_last input runs the (B, H, W, C) kernels and gives a
    channels_last output; anything else runs on contiguous (N, H, W) planes.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:
        dtype = x.dtype
        ctx.weight = float(weight)
        ctx.dtype = dtype
        if dtype == torch.bfloat16 and _is_channels_last(x):
            # bf16 channels_last (the convolutions' output under autocast): no float32 copies
            work = x.detach()
            out = torch.empty_like(work, memory_format=torch.channels_last)
            mask = torch.empty(work.shape, dtype=torch.uint8, memory_format=torch.channels_last)
            _kernels.run_kernel(_kernels.fuse_forward_nhwc_bf16_nb, _nhwc_bits(work), float(weight), _nhwc_bits(out),
                       _nhwc(mask), _kernels.rows_per_block(work))
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(mask)
            ctx.nhwc = True
            return out
        work = x.detach()
        if dtype not in (torch.float32, torch.float64):
            work = work.float()  # keeps the memory format
        nhwc = _is_channels_last(work)
        if nhwc:
            out = torch.empty_like(work, memory_format=torch.channels_last)
            mask = torch.empty(work.shape, dtype=torch.uint8, memory_format=torch.channels_last)
            _kernels.run_kernel(_kernels.fuse_forward_nhwc_nb, _nhwc(work), float(weight), _nhwc(out), _nhwc(mask))
        else:
            work = work.contiguous()
            out = torch.empty_like(work, memory_format=torch.contiguous_format)
            mask = torch.empty(work.shape, dtype=torch.uint8)
            _kernels.run_kernel(_kernels.fuse_forward_nb, _planes(work), float(weight), _planes(out), _planes(mask))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(mask)
        ctx.nhwc = nhwc
        return out.to(dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (mask,) = ctx.saved_tensors
        g = grad_out
        if ctx.nhwc and ctx.dtype == torch.bfloat16 and g.dtype == torch.bfloat16:
            g = g.contiguous(memory_format=torch.channels_last)
            grad = torch.empty_like(g, memory_format=torch.channels_last)
            _kernels.run_kernel(_kernels.fuse_backward_nhwc_bf16_nb, _nhwc_bits(g), _nhwc(mask), ctx.weight, _nhwc_bits(grad),
                       _kernels.rows_per_block(g))
            return grad, None
        if g.dtype not in (torch.float32, torch.float64):
            g = g.float()
        if ctx.nhwc:
            g = g.contiguous(memory_format=torch.channels_last)
            grad = torch.empty_like(g, memory_format=torch.channels_last)
            _kernels.run_kernel(_kernels.fuse_backward_nhwc_nb, _nhwc(g), _nhwc(mask), ctx.weight, _nhwc(grad))
        else:
            g = g.contiguous()
            grad = torch.empty_like(g, memory_format=torch.contiguous_format)
            _kernels.run_kernel(_kernels.fuse_backward_nb, _planes(g), _planes(mask), ctx.weight, _planes(grad))
        return grad.to(ctx.dtype), None


def _is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4-D tensor laid out channels_last (and not also plain contiguous)."""
    return (
        x.ndim == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and not x.is_contiguous()
    )


def _planes(t: torch.Tensor) -> np.ndarray:
    """A contiguous tensor as a C-contiguous (N, H, W) array sharing its memory."""
    return t.view(-1, t.shape[-2], t.shape[-1]).numpy()


def _nhwc(t: torch.Tensor) -> np.ndarray:
    """A channels_last (B, C, H, W) tensor as a C-contiguous (B, H, W, C) array, shared."""
    return t.permute(0, 2, 3, 1).numpy()


def _nhwc_bits(t: torch.Tensor) -> np.ndarray:
    """A bfloat16 channels_last (B, C, H, W) tensor as its (B, H, W, C) uint16 bits, shared."""
    return t.permute(0, 2, 3, 1).view(torch.int16).numpy().view(np.uint16)



def kirsch_fuse(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Edge fusion: ``x + weight * kirsch(x)`` per channel, with a fast CPU path.

    Parameters
    ----------
    x : torch.Tensor
        Floating tensor of shape (H, W), (B, H, W) or (B, C, H, W), usually a
        convolution layer's feature maps. float32 and float64 are computed as they
        are; float16 and bfloat16 are computed in float32 and returned in their own
        dtype. A channels_last input is computed in that layout.
    weight : float, default 1.0
        Scale of the edge map added to ``x``. A constant, not learned.

    Returns
    -------
    torch.Tensor
        New tensor, same shape, dtype and device as ``x``; channels_last if ``x``
        is, else contiguous. Differentiable in ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating tensor or ``weight`` not a real number.
    ValueError
        If ``x`` has another number of dimensions, or an empty H or W.

    Notes
    -----
    On CPU with numba, forward and backward are each one parallel pass over the
    B*C planes (over the B*H rows of pixels for channels_last); the forward keeps the winning compass direction of each pixel
    (one byte) for the backward, ``grad_x = grad + weight * K^T grad``, where ``K``
    is the piecewise-linear Kirsch map at that direction. The first call compiles
    the kernels (a few seconds, cached under ``__pycache__`` for later runs).
    Elsewhere (CUDA, without numba, or while tracing or compiling) it is
    ``x + weight * kirsch(x)`` in plain torch ops.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 3, 4)
    >>> x[..., 2:] = 1.0
    >>> kirsch_fuse(x, weight=0.5)[0, 0, 0].tolist()
    [0.0, 7.5, 5.5, 1.0]
    """
    _check_image_tensor(x)
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(f"`weight` must be a real number; got {type(weight).__name__}.")
    if x.device.type != "cpu" or torch.jit.is_tracing() or torch.compiler.is_compiling():
        # tracers and compilers cannot see into the numba kernels; the eager ops
        # compute the same values
        return x + weight * kirsch(x)
    if not _kernels.HAVE_NUMBA:
        _warn_no_numba()
        return x + weight * kirsch(x)
    return _KirschFuseCPU.apply(x, float(weight))


def _warn_no_numba() -> None:
    """Log once that the fast CPU path is unavailable."""
    global _warned_no_numba
    if not _warned_no_numba:
        logger.warning("numba is not installed: kirsch_fuse falls back to plain torch ops (slower)")
        _warned_no_numba = True


class Kirsch(nn.Module):
    """Module form of :func:`kirsch`: (B, C, H, W) -> Kirsch edge magnitude, same shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return kirsch(x)


class KirschFusion(nn.Module):
    """Module form of :func:`kirsch_fuse`: ``x + weight * kirsch(x)``.

    Parameters
    ----------
    weight : float, default 1.0
        Scale of the edge map added to the input.
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return kirsch_fuse(x, weight=self.weight)

    def extra_repr(self) -> str:
        return f"weight={self.weight}"

