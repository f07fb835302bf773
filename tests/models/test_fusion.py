"""Tests for edgefer.models._fusion: EdgeFusion and the per-model choice of how feature fusion runs."""
import importlib

import pytest
import torch

from edgefer.models import create_model, set_eager_fusion
from edgefer.models._fusion import EdgeFusion

kirsch_module = importlib.import_module("edgefer.models.layers.kirsch")


def _fusions(model):
    return [m for m in model.modules() if isinstance(m, EdgeFusion)]


def test_set_eager_fusion_sets_every_fusion_module_of_that_model_only():
    """set_eager_fusion returns the model with all its EdgeFusion modules eager; another model
    built in the same process keeps the kernel; eager=False sets them back."""
    a, b = create_model("edgecnn48"), create_model("edgecnn48")
    assert len(_fusions(a)) >= 2 and not any(f.eager for f in _fusions(a))
    assert set_eager_fusion(a) is a
    assert all(f.eager for f in _fusions(a))
    assert not any(f.eager for f in _fusions(b))
    assert "eager=True" in repr(a) and "eager" not in repr(b)
    set_eager_fusion(a, False)
    assert not any(f.eager for f in _fusions(a))


def test_eager_fusion_runs_kirsch_conv_and_never_the_kernel(monkeypatch):
    """An eager EdgeFusion computes x + weight * kirsch_conv(x) without calling kirsch_fuse; a
    default one calls kirsch_fuse."""
    calls = []
    monkeypatch.setattr(kirsch_module, "kirsch_fuse", lambda x, w: calls.append(w) or x)
    x = torch.rand(2, 3, 7, 6)
    eager = EdgeFusion("feature", 0.5, eager=True)
    torch.testing.assert_close(eager(x), x + 0.5 * kirsch_module.kirsch_conv(x))
    assert calls == []
    EdgeFusion("feature", 0.5)(x)
    assert calls == [0.5]


def test_eager_and_kernel_fusion_give_the_same_logits():
    """A feature-fused FERNet gives the same logits (to float rounding) with either form, and the
    eager flag is not part of its weights."""
    torch.manual_seed(0)
    kernel = create_model("fernet_small", fusion="feature").eval()
    eager = set_eager_fusion(create_model("fernet_small", fusion="feature")).eval()
    assert eager.state_dict().keys() == kernel.state_dict().keys()
    eager.load_state_dict(kernel.state_dict())
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(eager(x), kernel(x), rtol=1e-4, atol=1e-4)


def test_set_eager_fusion_rejects_what_is_not_a_module():
    """A checkpoint dict instead of a model is refused with a TypeError naming the type."""
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module; got dict"):
        set_eager_fusion({"state_dict": {}})
