"""benchmarks/compare_speed.py: the interleaved timing of a few models."""
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "compare_speed.py"


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_compare_speed_times_each_model_every_round(tmp_path):
    out = tmp_path / "speed.json"
    res = run("fernet16-ferplus-int8", ROOT / "edgefer/weights/fernet-int8.onnx", "--rounds", 2,
              "--repeats", 1, "--frames", 2, "--out", out)
    assert res.returncode == 0, res.stderr
    printed = json.loads(res.stdout)
    assert json.loads(out.read_text()) == printed
    models = printed["models"]
    assert list(models) == ["fernet16-ferplus-int8", str(ROOT / "edgefer/weights/fernet-int8.onnx")]
    for m in models.values():
        assert len(m["crops_per_s"]) == 2 and len(m["e2e_fps"]) == 2
        assert all(x > 0 for x in m["crops_per_s"])
        assert m["crops_per_s_median"] == statistics.median(m["crops_per_s"])
    assert printed["provenance"]["script"] == "benchmarks/compare_speed.py"
    assert printed["provenance"]["rounds"] == 2
    assert res.stderr.count("round 2:") == 2


def test_compare_speed_names_a_missing_model_and_writes_nothing(tmp_path):
    out = tmp_path / "speed.json"
    res = run("fernet16-ferplus-int8", tmp_path / "nothing.onnx", "--out", out)
    assert res.returncode == 2
    assert "nothing.onnx" in res.stderr and "no such model file" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_compare_speed_rejects_zero_rounds(tmp_path):
    res = run("fernet16-ferplus-int8", "--rounds", 0)
    assert res.returncode == 2 and "--rounds" in res.stderr
