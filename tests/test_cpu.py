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
