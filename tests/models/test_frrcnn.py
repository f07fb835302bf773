import pytest
import torch

from edgefer.models import create_model
from edgefer.models.frrcnn import feature_redundancy, ti_pool, ti_transforms


# Tiny tensors: one torch thread is faster than two on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures("one_thread")

def _ce(logits, target):
    return -(target * logits.log_softmax(1)).sum(1).mean()


def test_feature_redundancy_zero_for_disjoint_supports():
    """Maps with disjoint supports are mutually orthogonal: redundancy 0."""
    maps = torch.zeros(2, 4, 4, 4)
    for c in range(4):
        maps[:, c, c, :] = torch.rand(2, 4) + 0.5
    assert feature_redundancy(maps).item() == pytest.approx(0.0, abs=1e-7)


def test_feature_redundancy_hand_value_and_duplicates():
    """Two maps at 45 degrees give cos^2 = 1/2; duplicating maps raises it; all equal gives 1."""
    a = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])  # (1, 2, 2)
    assert feature_redundancy(a).item() == pytest.approx(0.5)
    base = torch.rand(3, 4, 5, 5, generator=torch.Generator().manual_seed(0))
    dup = torch.cat([base, base[:, :2]], 1)
    assert feature_redundancy(dup) > feature_redundancy(base)
    same = base[:, :1].expand(-1, 4, -1, -1) * torch.tensor([1.0, 2, 3, 4]).view(1, 4, 1, 1)
    assert feature_redundancy(same).item() == pytest.approx(1.0)


def test_feature_redundancy_rejects_one_channel():
    """A single map has no pairs, which is refused naming `maps`."""
    with pytest.raises(ValueError, match="`maps` must be"):
        feature_redundancy(torch.zeros(2, 1, 4, 4))


def test_ti_pool_is_elementwise_max():
    """TI-pooling equals the element-wise max over the transformed copies, list or tensor."""
    f = torch.randn(4, 3, 10)
    expected = torch.maximum(torch.maximum(f[0], f[1]), torch.maximum(f[2], f[3]))
    torch.testing.assert_close(ti_pool(f), expected)
    torch.testing.assert_close(ti_pool(list(f)), expected)


def test_ti_transforms_identity_flip_and_rotation():
    """Copies are identity, flip and +-10 degree rotations; a constant image stays constant."""
    x = torch.randn(2, 1, 8, 8)
    t = ti_transforms(x)
    assert t.shape == (4, 2, 1, 8, 8)
    torch.testing.assert_close(t[0], x)
    torch.testing.assert_close(t[1], x.flip(-1))
    c = ti_transforms(torch.full((1, 1, 8, 8), 3.0))
    torch.testing.assert_close(c, torch.full_like(c, 3.0))


def test_model_embedding_is_max_over_transformed_copies():
    """The model's pooled features equal the max of its per-copy features."""
    torch.manual_seed(0)
    model = create_model("frrcnn").eval()
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        per_copy = [model._features(t) for t in ti_transforms(x)]
        torch.testing.assert_close(model.embed(x), torch.stack(per_copy).amax(0))


def test_forward_shape_and_training_loss():
    """forward gives (B, 7); training_loss is finite, exceeds cls_loss by lambda * R, backprops."""
    torch.manual_seed(0)
    model = create_model("frrcnn", dropout=0.0).train()
    x, target = torch.randn(3, 1, 48, 48), torch.eye(7)[torch.tensor([1, 2, 5])]
    loss, logits = model.training_loss(x, target, _ce)
    assert logits.shape == (3, 7) and torch.isfinite(loss)
    assert loss.item() > _ce(logits, target).item()
    loss.backward()
    assert model.convs[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        assert model.eval()(x).shape == (3, 7)
