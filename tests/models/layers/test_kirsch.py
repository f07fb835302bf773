"""Tests for edgefer.models.layers.kirsch: kirsch, kirsch_conv, kirsch_fuse and their modules."""
import importlib
import logging
import re

import pytest
import torch
import torch.nn.functional as F

from edgefer.models.layers import _kirsch_kernels
from edgefer.models.layers import kirsch_fuse as layers_kirsch_fuse  # the package's re-export
from edgefer.models.layers.kirsch import Kirsch, KirschFusion, kirsch, kirsch_conv, kirsch_fuse

# the module itself: the package attribute `edgefer.models.layers.kirsch` is the function
kirsch_module = importlib.import_module("edgefer.models.layers.kirsch")

# The 8 Kirsch compass masks written out here, independently of the package: north
# first, each the previous one rotated clockwise by one neighbour.
MASKS = [
    [[5, 5, 5], [-3, 0, -3], [-3, -3, -3]],
    [[-3, 5, 5], [-3, 0, 5], [-3, -3, -3]],
    [[-3, -3, 5], [-3, 0, 5], [-3, -3, 5]],
    [[-3, -3, -3], [-3, 0, 5], [-3, 5, 5]],
    [[-3, -3, -3], [-3, 0, -3], [5, 5, 5]],
    [[-3, -3, -3], [5, 0, -3], [5, 5, -3]],
    [[5, -3, -3], [5, 0, -3], [5, -3, -3]],
    [[5, 5, -3], [5, 0, -3], [-3, -3, -3]],
]

# odd sizes, thin planes and single pixels exercise every border path of the kernels
SHAPES = [(2, 3, 9, 7), (1, 2, 16, 16), (2, 1, 5, 4), (1, 1, 3, 3), (1, 2, 1, 6),
          (1, 2, 6, 1), (1, 1, 2, 2), (1, 1, 1, 1), (1, 1, 2, 5), (1, 1, 4, 2)]


def _explicit_kirsch(x):
    """Max of the 8 masks correlated (F.conv2d) with replicate-padded planes of x (B, C, H, W)."""
    b, c, h, w = x.shape
    planes = F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    weight = torch.tensor(MASKS, dtype=x.dtype).unsqueeze(1)  # (8, 1, 3, 3)
    return F.conv2d(planes, weight).amax(dim=1).reshape(b, c, h, w)


def _eager_fuse(x, weight):
    return x + weight * kirsch(x)


def _random(shape, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("shape", [(7, 9), (3, 7, 9), (2, 3, 7, 9)])
def test_kirsch_shape(shape):
    """kirsch keeps the input shape and dtype for (H, W), (B, H, W) and (B, C, H, W)."""
    x = _random(shape)
    y = kirsch(x)
    assert y.shape == x.shape and y.dtype == x.dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_kirsch_equals_eight_masks(shape, dtype):
    """kirsch equals the max of the 8 mask correlations on replicate-padded input."""
    x = _random(shape, dtype) * 10 - 5
    torch.testing.assert_close(kirsch(x), _explicit_kirsch(x), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 9), (3, 7, 9), (2, 3, 7, 9), (1, 1, 1, 1)])
def test_kirsch_conv_equals_kirsch(shape):
    """The convolution form (used for export) gives kirsch's values and shape."""
    x = _random(shape, torch.float64) * 10 - 5
    torch.testing.assert_close(kirsch_conv(x), kirsch(x), rtol=1e-9, atol=1e-9)


def test_kirsch_nonnegative():
    """kirsch is >= 0 everywhere (the 8 responses sum to 0)."""
    assert (kirsch(_random((2, 3, 11, 13)) * 10 - 5) >= 0).all()


@pytest.mark.parametrize("value", [0.0, 1.0, -3.5, 255.0])
def test_kirsch_constant_is_zero(value):
    """A constant image has no edges: kirsch is 0 and kirsch_fuse returns the input."""
    x = torch.full((2, 3, 6, 5), value)
    assert torch.equal(kirsch(x), torch.zeros_like(x))
    assert torch.equal(kirsch_fuse(x, weight=0.5), x)


def test_kirsch_vertical_step():
    """A 0 -> 1 step between columns 1 and 2 gives 15 on the dark side and 9 on the bright side.

    Dark pixel (column 1): S = 3, best ring = the 3 bright right neighbours, 8 * 3 - 3 * 3 = 15.
    Bright pixel (column 2): S = 5, any ring of 3 bright neighbours, 8 * 3 - 3 * 5 = 9.
    Pixels whose neighbourhood is flat give 0, also on the replicated borders.
    """
    x = torch.zeros(1, 1, 4, 5)
    x[..., 2:] = 1.0
    expected = torch.tensor([0.0, 15.0, 9.0, 0.0, 0.0]).expand(4, 5)
    assert torch.equal(kirsch(x)[0, 0], expected)
    assert torch.equal(kirsch_fuse(x, weight=2.0)[0, 0], x[0, 0] + 2.0 * expected)
    # the same step turned into a horizontal one
    assert torch.equal(kirsch(x.transpose(-1, -2).contiguous())[0, 0], expected.T)


@pytest.mark.parametrize("shape", [(5,), (2, 1, 3, 4, 4), ()])
def test_kirsch_wrong_ndim_message(shape):
    """A tensor with other than 2, 3 or 4 dims raises ValueError naming `x` and its shape."""
    x = torch.zeros(shape)
    message = r"`x` must be a tensor of shape .*; got shape " + re.escape(str(tuple(shape)))
    for fn in (kirsch, kirsch_fuse):
        with pytest.raises(ValueError, match=message):
            fn(x)


def test_kirsch_wrong_dtype_and_type_message():
    """Integer tensors and non-tensors raise TypeError naming `x`."""
    with pytest.raises(TypeError, match=r"`x` must be a floating tensor .*got dtype torch.uint8"):
        kirsch(torch.zeros(3, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"`x` must be a torch.Tensor; got list"):
        kirsch_fuse([[0.0]])


def test_kirsch_fuse_weight_type_message():
    """A non-numeric weight raises TypeError naming `weight`."""
    with pytest.raises(TypeError, match=r"`weight` must be a real number; got str"):
        kirsch_fuse(torch.zeros(3, 3), weight="1")


def test_kirsch_empty_plane_message():
    """An empty H or W raises ValueError naming `x` and the shape."""
    with pytest.raises(ValueError, match=r"`x` must have H, W >= 1; got shape \(1, 0, 4\)"):
        kirsch(torch.zeros(1, 0, 4))


@pytest.mark.parametrize("weight", [1.0, 0.3, -2.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_kirsch_fuse_forward_equals_eager(shape, weight):
    """kirsch_fuse equals x + weight * kirsch(x) within 1e-5."""
    x = _random(shape) * 4 - 2
    torch.testing.assert_close(kirsch_fuse(x, weight), _eager_fuse(x, weight), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 9), (3, 7, 9)])
def test_kirsch_fuse_forward_other_ndim(shape):
    """kirsch_fuse accepts (H, W) and (B, H, W) and keeps the shape."""
    x = _random(shape)
    y = kirsch_fuse(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, _eager_fuse(x, 1.0), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weight", [1.0, 0.7])
@pytest.mark.parametrize("shape", SHAPES)
def test_kirsch_fuse_backward_equals_eager_autograd(shape, weight, dtype):
    """kirsch_fuse's gradient equals autograd through the eager version (random input, no ties)."""
    x = (_random(shape, dtype, seed=1) * 4 - 2).requires_grad_()
    g = _random(shape, dtype, seed=2) * 2 - 1
    (got,) = torch.autograd.grad(kirsch_fuse(x, weight), x, g)
    (want,) = torch.autograd.grad(_eager_fuse(x, weight), x, g)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got, want, **tol)


def test_kirsch_fuse_backward_constant_input_follows_first_max():
    """On a constant image all rings tie; the gradient follows ring 0, as torch.max does."""
    x = torch.full((1, 2, 5, 6), 0.5, requires_grad=True)
    g = _random((1, 2, 5, 6), seed=3)
    (got,) = torch.autograd.grad(kirsch_fuse(x, 1.0), x, g)
    (want,) = torch.autograd.grad(_eager_fuse(x, 1.0), x, g)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("shape", [(1, 2, 5, 4), (1, 1, 1, 3), (1, 1, 3, 1), (2, 1, 2, 2)])
def test_kirsch_fuse_gradcheck(shape):
    """torch.autograd.gradcheck passes for kirsch_fuse in float64."""
    x = (_random(shape, torch.float64, seed=4) * 4 - 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: kirsch_fuse(t, 0.7), (x,))


def test_kirsch_gradcheck():
    """torch.autograd.gradcheck passes for the eager kirsch in float64."""
    x = (_random((1, 2, 4, 5), torch.float64, seed=5) * 4 - 2).requires_grad_()
    assert torch.autograd.gradcheck(kirsch, (x,))


def test_kirsch_function_equals_module():
    """Kirsch()(x) equals kirsch(x), and KirschFusion(weight)(x) equals kirsch_fuse(x, weight)."""
    x = _random((2, 3, 8, 9))
    assert torch.equal(Kirsch()(x), kirsch(x))
    assert torch.equal(KirschFusion(0.25)(x), kirsch_fuse(x, weight=0.25))
    assert "weight=0.25" in repr(KirschFusion(0.25))


def test_kirsch_fuse_leaves_input_untouched():
    """kirsch_fuse returns a new tensor and does not modify its input."""
    x = _random((1, 2, 6, 6))
    before = x.clone()
    y = kirsch_fuse(x)
    assert torch.equal(x, before) and y.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1] > 1] + [(2, 17, 3, 3), (1, 33, 4, 5)])
def test_kirsch_fuse_channels_last(shape, dtype):
    """channels_last input gives the eager values and gradients, and a channels_last output."""
    x = _random(shape, dtype, seed=9) * 2 - 1
    g = _random(shape, dtype, seed=10)
    v = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    y = kirsch_fuse(v, 0.5)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, _eager_fuse(x, 0.5), rtol=1e-6, atol=1e-5)
    xe = x.detach().requires_grad_()
    (want,) = torch.autograd.grad(_eager_fuse(xe, 0.5), xe, g)
    for grad_layout in (torch.channels_last, torch.contiguous_format):
        (got,) = torch.autograd.grad(y, v, g.contiguous(memory_format=grad_layout), retain_graph=True)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 1, 5, 4)])
def test_kirsch_fuse_channels_last_degenerate(shape):
    """Tensors that are both contiguous and channels_last (C = 1 or H = W = 1) work too."""
    x = (_random(shape) * 2 - 1).contiguous(memory_format=torch.channels_last).requires_grad_()
    torch.testing.assert_close(kirsch_fuse(x, 0.5), _eager_fuse(x.detach(), 0.5))
    kirsch_fuse(x, 0.5).sum().backward()
    assert x.grad.shape == x.shape


def test_kirsch_fuse_strided_input():
    """A non-contiguous (transposed) input gives the eager values and gradients."""
    x = _random((2, 3, 7, 8)) * 2 - 1
    g = _random((2, 3, 7, 8), seed=6)
    v = x.transpose(-1, -2).contiguous().transpose(-1, -2).requires_grad_()
    y = kirsch_fuse(v, 0.5)
    torch.testing.assert_close(y, _eager_fuse(x, 0.5), rtol=1e-6, atol=1e-5)
    (got,) = torch.autograd.grad(y, v, g)
    xe = x.detach().requires_grad_()
    (want,) = torch.autograd.grad(_eager_fuse(xe, 0.5), xe, g)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_kirsch_fuse_half_precision(dtype, layout):
    """bfloat16 / float16 input is computed in float32; output and gradient keep dtype and layout."""
    x = (_random((2, 3, 6, 7)) * 2 - 1).to(dtype).contiguous(memory_format=layout)
    x.requires_grad_()
    y = kirsch_fuse(x, 0.5)
    assert y.dtype == dtype and y.is_contiguous(memory_format=layout)
    want = _eager_fuse(x.detach().float(), 0.5).to(dtype)
    torch.testing.assert_close(y, want)
    y.sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def test_kirsch_fuse_no_grad_and_empty_batch():
    """Under no_grad the output has no graph; an empty batch gives an empty result."""
    x = _random((1, 2, 5, 5)).requires_grad_()
    with torch.no_grad():
        y = kirsch_fuse(x)
    assert not y.requires_grad
    assert kirsch_fuse(torch.zeros(0, 3, 5, 5)).shape == (0, 3, 5, 5)


def test_kirsch_fuse_without_numba_falls_back(monkeypatch, caplog):
    """Without numba kirsch_fuse uses the eager ops and logs one warning."""
    monkeypatch.setattr(_kirsch_kernels, "HAVE_NUMBA", False)
    monkeypatch.setattr(kirsch_module, "_warned_no_numba", False)
    x = _random((1, 2, 5, 6)).requires_grad_()
    with caplog.at_level(logging.WARNING, logger="edgefer.models.layers.kirsch"):
        y1 = kirsch_fuse(x)
        kirsch_fuse(x)
    assert sum("numba is not installed" in r.getMessage() for r in caplog.records) == 1
    torch.testing.assert_close(y1, _eager_fuse(x, 1.0))
    y1.sum().backward()
    assert x.grad is not None


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_kirsch_fuse_traced_uses_eager_ops():
    """While tracing, kirsch_fuse records plain torch ops, so the trace follows new inputs."""
    traced = torch.jit.trace(KirschFusion(0.5), _random((1, 2, 5, 5)), check_trace=False)
    x = _random((1, 2, 5, 5), seed=7)
    torch.testing.assert_close(traced(x), kirsch_fuse(x, 0.5), rtol=1e-6, atol=1e-5)


def test_kirsch_fuse_other_device_uses_eager_ops():
    """Off the CPU (here the meta device) kirsch_fuse takes the plain-torch path."""
    x = torch.empty(2, 3, 6, 5, device="meta")
    y = kirsch_fuse(x)
    assert y.device.type == "meta" and y.shape == x.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kirsch_fuse_cuda_equals_cpu():
    """On CUDA kirsch_fuse and its gradient equal the CPU results."""
    x = (_random((2, 3, 9, 8)) * 2 - 1).requires_grad_()
    xc = x.detach().cuda().requires_grad_()
    g = _random((2, 3, 9, 8), seed=8)
    y, yc = kirsch_fuse(x, 0.5), kirsch_fuse(xc, 0.5)
    torch.testing.assert_close(yc.cpu(), y, rtol=1e-5, atol=1e-5)
    (gx,) = torch.autograd.grad(y, x, g)
    (gxc,) = torch.autograd.grad(yc, xc, g.cuda())
    torch.testing.assert_close(gxc.cpu(), gx, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("shape", [(4, 5, 7, 9), (3, 16, 12, 12), (2, 3, 1, 5), (2, 3, 2, 2)])
def test_kirsch_fuse_bf16_channels_last_equals_float32_rounded(shape):
    """A bfloat16 channels_last input (the convolutions' output under bf16 autocast) runs the bf16
    kernels: output and gradient stay bf16 and channels_last and equal the float32 computation
    rounded to bf16, bit for bit."""
    torch.manual_seed(0)
    x = torch.randn(*shape).to(torch.bfloat16).contiguous(memory_format=torch.channels_last).requires_grad_()
    xf = x.detach().float().contiguous(memory_format=torch.channels_last).requires_grad_()
    y, yf = kirsch_fuse(x, 0.5), kirsch_fuse(xf, 0.5)
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y, yf.to(torch.bfloat16))
    g = torch.randn(*shape).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    (gx,) = torch.autograd.grad(y, x, g)
    (gf,) = torch.autograd.grad(yf, xf, g.float())
    assert gx.dtype == torch.bfloat16 and torch.equal(gx, gf.to(torch.bfloat16))


def test_kirsch_op_is_not_in_preprocess():
    """The tensor Kirsch op lives only in edgefer.models.layers: edgefer.preprocess.torch_ops is gone."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("edgefer.preprocess.torch_ops")
    assert layers_kirsch_fuse is kirsch_fuse
