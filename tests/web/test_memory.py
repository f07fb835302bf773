"""Bounded memory under a burst of huge images (benchmarks/memory_test.py), within about a minute."""
import importlib.util
import sys
from pathlib import Path

import pytest

MEMORY_TEST = Path(__file__).resolve().parents[2] / "benchmarks" / "memory_test.py"


@pytest.fixture(scope="module")
def memory_test():
    pytest.importorskip("uvicorn", reason="edgefer serve needs uvicorn")
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the server's memory from /proc (Linux)")
    sys.path.insert(0, str(MEMORY_TEST.parent))
    try:
        spec = importlib.util.spec_from_file_location("edgefer_memory_test", MEMORY_TEST)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(MEMORY_TEST.parent))
    return module


def test_sixteen_huge_uploads_bounded_memory(memory_test):
    """16 uploads at once of a 7000x7000 PNG: peak under 1.5 GB, each answer 200 or 503 with
    Retry-After (at least one 200), the server still serves, and 10 s later holds at most 150 MB over idle."""
    res = memory_test.run_memory_test(concurrency=16, side=7000, settle_s=10.0)
    assert res["checks"]["at_least_one_200"], res
    assert res["checks"]["answers_200_or_503_with_retry_after"], res
    assert res["checks"]["still_serving"], res
    assert res["peak_rss_mb"] < memory_test.MAX_PEAK_MB, res
    assert res["settled_rss_mb"] - res["idle_rss_mb"] <= memory_test.SLACK_MB, res
    assert res["max_answer_s"] < 60, res


def test_memory_test_rejects_unbounded_runs(memory_test):
    """Too many clients, or an image over the pixel limit, raises ValueError before starting anything."""
    with pytest.raises(ValueError, match="concurrency"):
        memory_test.run_memory_test(concurrency=65)
    with pytest.raises(ValueError, match="side"):
        memory_test.run_memory_test(side=8000)
