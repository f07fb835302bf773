import pytest
import torch

from edgefer.models import create_model, list_models, register_model


@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_shape_and_finite(name):
    """Every registered model maps a small batch to (B, 7) finite logits."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    size = getattr(model, "input_size", 48)
    x = torch.randn(2, 1, size, size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 7)
    assert torch.isfinite(y).all()


def test_create_model_unknown_lists_available():
    """An unknown name raises ValueError listing the registered names."""
    with pytest.raises(ValueError, match="unknown model 'nope'; available: .*edgecnn"):
        create_model("nope")


def test_register_model_refuses_duplicates():
    """Registering a second builder under an existing name is refused."""
    def edgecnn():  # noqa: F811 - same name on purpose
        return None
    with pytest.raises(ValueError, match="already registered"):
        register_model(edgecnn)


def test_list_models_pattern():
    """list_models filters with a shell pattern."""
    assert list_models("edgecnn*") == ["edgecnn", "edgecnn48"]
