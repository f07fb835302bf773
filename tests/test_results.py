"""Result files: ``write_json`` with a table's rows one per line."""
import json

import numpy as np

from edgefer.results import write_json


def test_write_json_rows_one_per_line_and_reads_back(tmp_path):
    """The table is valid JSON equal to what was written (NumPy values too), each row on one line."""
    obj = {"chosen": {"members": ["a.onnx"], "publictest": np.float64(0.5)}, "rule": "best",
           "subsets": [{"members": ["a.onnx"], "views": "face", "passes": 1.0},
                       {"members": ["a.onnx", "b.onnx"], "views": "face+zoom", "passes": np.float32(6.0)}]}
    path = tmp_path / "table.json"
    write_json(path, obj, rows="subsets")
    assert json.loads(path.read_text()) == obj
    lines = path.read_text().splitlines()
    assert sum('"views": ' in line for line in lines) == 2  # one line each
    assert lines[-1] == "}"
    write_json(path, {"subsets": obj["subsets"]}, rows="subsets")  # nothing but the table
    assert json.loads(path.read_text()) == {"subsets": obj["subsets"]}


def test_machine_label_tells_the_cpu_kinds_apart():
    """Tables name the SIMD class beside the CPU name: the AVX2-only EPYC trains the paper's nets
    about six times slower than the Zen 4 one, and both call themselves "AMD EPYC"."""
    from edgefer.results import machine_label
    zen4 = {"cpu": "AMD EPYC", "simd": ["avx", "avx2", "avx512_bf16", "avx512f"]}
    zen3 = {"cpu": "AMD EPYC", "simd": ["avx", "avx2"]}
    xeon = {"cpu": "Intel(R) Xeon(R) Processor", "simd": ["amx_bf16", "amx_tile", "avx512_bf16", "avx512f"]}
    assert machine_label(zen4) == "AMD EPYC, AVX-512 BF16"
    assert machine_label(zen3) == "AMD EPYC, AVX2"
    assert machine_label(xeon) == "Intel(R) Xeon(R) Processor, AMX"
    assert machine_label({"cpu": "arm64"}) == "arm64"  # no x86 SIMD recorded: the name alone
