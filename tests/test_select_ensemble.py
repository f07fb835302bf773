"""The speed cost that scripts/select_ensemble.py charges each candidate member of the default."""
import importlib.util
from pathlib import Path

import pytest

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
    assert select.passes("fernet-fusion-int8.onnx") == 3.0  # edge-fused (the paper's idea)
    assert select.passes("fernet-kd4-int8.onnx") == 1.0


def test_table_json_has_one_row_per_line_and_reads_back(select, tmp_path):
    """The ablation table is valid JSON equal to what was written, each subset row on one line."""
    import json
    obj = {"chosen": {"members": ["a.onnx"], "publictest": 0.5}, "rule": "best",
           "subsets": [{"members": ["a.onnx"], "views": "face", "passes": 1.0},
                       {"members": ["a.onnx", "b.onnx"], "views": "face+zoom", "passes": 6.0}]}
    path = tmp_path / "table.json"
    select.write_table_json(path, obj)
    assert json.loads(path.read_text()) == obj
    lines = path.read_text().splitlines()
    assert sum('"views": ' in line for line in lines) == 2  # one line each
    assert lines[-1] == "}"
