"""Tests for FERNet's plain and residual (``block``) stages."""
import pytest
import torch

from edgefer.models import create_model
from edgefer.models.fernet import _BasicBlock


def _blocks(model):
    return [m for m in model.modules() if isinstance(m, _BasicBlock)]


def test_plain_is_the_default_and_keeps_its_parameter_names():
    """``block="plain"`` is the default, and its parameters keep the names that every shipped
    checkpoint was saved under (stages.<stage>.<conv>.<0 conv, 1 bn>)."""
    default, plain = create_model("fernet", fusion="none"), create_model("fernet", fusion="none", block="plain")
    assert list(default.state_dict()) == list(plain.state_dict())
    assert not _blocks(default)
    assert "stages.1.1.0.weight" in default.state_dict()  # stage 2, second convolution
    assert sum(isinstance(m, torch.nn.Conv2d) for m in default.modules()) == 7


@pytest.mark.parametrize("depths, blocks, convs", [((1, 2, 2, 2), 3, 7 + 3), ((1, 3, 4, 1), 3, 9 + 1)])
def test_residual_pairs_convolutions_into_blocks(depths, blocks, convs):
    """Each stage's convolutions go in basic blocks of two (an odd one out stays plain, first);
    a 1x1 projection shortcut appears only where the channels change inside a block."""
    model = create_model("fernet", fusion="none", depths=depths, block="residual")
    assert len(_blocks(model)) == blocks
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == convs
    projections = [b for b in _blocks(model) if not isinstance(b.shortcut, torch.nn.Identity)]
    assert all(b.shortcut[0].kernel_size == (1, 1) for b in projections)
    assert model(torch.randn(2, 1, 48, 48)).shape == (2, 7)


def test_residual_block_starts_as_its_shortcut():
    """The block's last batch norm starts at zero, so a new block computes relu(shortcut(x)),
    and training moves it away from that."""
    torch.manual_seed(0)
    block = _BasicBlock(8, 16).eval()
    x = torch.randn(3, 8, 6, 6)
    torch.testing.assert_close(block(x), torch.relu(block.shortcut(x)))
    with torch.no_grad():
        block.body[-1].weight.fill_(1.0)
    assert not torch.allclose(block(x), torch.relu(block.shortcut(x)))


def test_residual_gradients_reach_the_first_stage():
    """A residual FERNet trains end to end: the loss's gradient reaches the first convolution."""
    torch.manual_seed(0)
    model = create_model("fernet", fusion="none", block="residual")
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 1, 48, 48)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    first = model.stages[0][0][0].weight.grad
    assert first is not None and first.abs().sum() > 0


def test_unknown_block_is_refused():
    with pytest.raises(ValueError, match="unknown block 'dense'; expected one of plain, residual"):
        create_model("fernet", block="dense")
