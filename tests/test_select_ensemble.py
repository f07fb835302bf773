"""The speed cost that scripts/select_ensemble.py charges each candidate member of the default."""
import importlib.util
from pathlib import Path

import pytest

from edgefer.recognize import WEIGHTS_DIR

SCRIPT = Path(__file__).parents[1] / "scripts" / "select_ensemble.py"


@pytest.fixture(scope="module")
def select():
    spec = importlib.util.spec_from_file_location("select_ensemble", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_relative_flops_scales_with_width_squared(select):
    """Convolutions dominate, so 1.5x the channels costs about 1.5^2 = 2.25x the multiply-adds."""
    assert select.relative_flops("fernet", {"fusion": "none"}) == 1.0
    wide = select.relative_flops("fernet", {"fusion": "none", "widths": [48, 96, 192, 384]})
    assert 2.1 < wide < 2.3
    assert select.relative_flops("fernet_small", {"fusion": "none"}) < 0.3


def test_passes_of_shipped_members(select):
    """A plain int8 FERNet is one pass; an edge-fused one pays 2 more for its Kirsch op."""
    assert select.passes(WEIGHTS_DIR / "fernet-fusion-int8.onnx") == 3.0  # edge-fused (the paper's idea)
    assert select.passes(WEIGHTS_DIR / "fernet-kd4-int8.onnx") == 1.0
