"""Tests for edgefer.cpu: what the CPU runs natively, and the precision the training scripts pick."""
import pytest


@pytest.mark.parametrize("flags,machine,native", [
    ("fpu avx2 fma", "x86_64", False),
    ("fpu avx2 avx512f avx512_bf16", "x86_64", True),
    ("fpu avx2 amx_bf16 amx_tile", "x86_64", True),
    ("fp asimd bf16", "aarch64", False),
])
def test_native_bf16_reads_the_cpu_flags(flags, machine, native):
    """Training scripts pick bf16 autocast only where the CPU runs it natively."""
    from edgefer.cpu import native_bf16
    assert native_bf16(f"processor\t: 0\nflags\t\t: {flags}\n", machine) is native


def test_run_precision_keeps_a_run_s_own_and_picks_native_bf16_otherwise(tmp_path):
    """What the training scripts pass as --precision: a resumed run's, else native bf16 or fp32."""
    import json
    import subprocess
    import sys

    from edgefer.cpu import native_bf16, run_precision
    fresh = "bf16" if native_bf16() else "fp32"
    assert run_precision(None) == run_precision(str(tmp_path)) == fresh
    other = "fp32" if fresh == "bf16" else "bf16"
    (tmp_path / "config.json").write_text(json.dumps({"precision": other}))
    assert run_precision(str(tmp_path)) == other
    out = subprocess.run([sys.executable, "-m", "edgefer.cpu", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == other


_FAULTS = """
import resource, sys
import numpy as np
from edgefer.cpu import keep_freed_memory, freed_memory_kept
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
def step():  # a training step's pattern: large blocks freed and allocated again, out of order
    a = np.ones(5 << 19)   # 20 MiB
    b = np.ones(3 << 19)   # 12 MiB
    del a
    c = np.ones(6 << 20)   # 48 MiB: over the largest mmap threshold mallopt allows
    return b.sum() + c.sum()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(kept, freed_memory_kept(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, **env) -> tuple[str, str, int]:
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))} | env
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    kept, reported, faults = out.stdout.split()
    return kept, reported, int(faults)


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_keep_freed_memory_stops_the_page_faults_of_reallocated_blocks():
    """With it, blocks of tens of MB freed and allocated again reuse their pages; without, each
    allocation maps fresh ones (20 steps of 80 MiB: tens of thousands of faults)."""
    kept, reported, faults = _faults("keep")
    assert (kept, reported) == ("True", "True")
    assert faults < 1000
    kept, reported, faults = _faults("default")
    assert (kept, reported) == ("False", "False")
    assert faults > 5000  # the contrast shows the test can fail


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_keep_freed_memory_leaves_malloc_settings_from_the_environment_alone():
    """A user's MALLOC_*_ or GLIBC_TUNABLES win: nothing is changed, and it says so."""
    kept, reported, faults = _faults("keep", MALLOC_TRIM_THRESHOLD_="0")
    assert (kept, reported) == ("False", "False")
    assert faults > 5000
