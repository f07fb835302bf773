"""A small run of benchmarks/load_test.py: the served app answers a mixed load without a 5xx."""
import importlib.util
from pathlib import Path

import pytest

LOAD_TEST = Path(__file__).resolve().parents[2] / "benchmarks" / "load_test.py"
MAX_PEAK_RSS_MB = 1024
"""Bound on the server's peak resident memory (the full 500-request run peaks near 390 MB)."""


@pytest.fixture(scope="module")
def load_test():
    pytest.importorskip("uvicorn", reason="edgefer serve needs uvicorn")
    spec = importlib.util.spec_from_file_location("edgefer_load_test", LOAD_TEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_test_no_server_errors(load_test, web_checkpoint):
    """30 mixed uploads from 4 clients get the expected answers: no 5xx, no dropped connection."""
    res = load_test.run_load_test(web_checkpoint, requests=30, concurrency=4, request_timeout=60,
                                  startup_timeout=180)
    assert res["server_errors_5xx"] == 0 and res["transport_errors"] == 0, res
    assert res["unexpected"] == 0, res
    assert sum(res["status_counts"].values()) == 30
    assert res["status_counts"] == {"200": 23, "415": 7}
    assert res["latency_ms"]["p50"] <= res["latency_ms"]["p95"] <= res["latency_ms"]["max"]
    if res["server_peak_rss_mb"] is not None:  # Linux: memory stays bounded under the load
        assert 0 < res["server_idle_rss_mb"] <= res["server_peak_rss_mb"] < MAX_PEAK_RSS_MB, res


def test_load_test_rejects_unbounded_runs(load_test):
    """More than the allowed requests or clients raises ValueError before starting anything."""
    with pytest.raises(ValueError, match="requests"):
        load_test.run_load_test(requests=load_test.MAX_REQUESTS + 1)
    with pytest.raises(ValueError, match="concurrency"):
        load_test.run_load_test(concurrency=0)
