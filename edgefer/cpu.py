"""What this CPU can do fast, read from ``/proc/cpuinfo`` (Linux; elsewhere nothing is known)."""
from __future__ import annotations

import platform
from pathlib import Path

X86 = ("x86_64", "amd64", "i386", "i686", "x86")


def cpu_flags(cpuinfo: str | None = None) -> set[str] | None:
    """The feature flags of the first CPU in ``cpuinfo`` (default: ``/proc/cpuinfo``), or None
    when they cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return None


def is_x86(machine: str | None = None) -> bool:
    """Whether ``machine`` (default: this one, ``platform.machine()``) is an x86 CPU."""
    return (machine or platform.machine()).lower() in X86


def native_bf16(cpuinfo: str | None = None, machine: str | None = None) -> bool:
    """Whether bf16 autocast runs natively on this CPU (x86-64 with AVX-512 BF16 or AMX).

    Elsewhere PyTorch emulates it: training a FERNet under bf16 autocast on a 2-core AVX2-only
    EPYC took 13 to 14 times as long per step as fp32.
    """
    if not is_x86(machine):
        return False
    flags = cpu_flags(cpuinfo) or set()
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def run_precision(run_dir: str | None = None) -> str:
    """The ``--precision`` for a training run in ``run_dir``: the one it was started with when its
    ``config.json`` exists (a resume must keep it), else ``bf16`` where it runs natively and
    ``fp32`` elsewhere. ``python -m edgefer.cpu [RUN_DIR]`` prints it for the training scripts."""
    import json
    config = Path(run_dir) / "config.json" if run_dir else None
    if config is not None and config.is_file():
        return json.loads(config.read_text())["precision"]
    return "bf16" if native_bf16() else "fp32"


if __name__ == "__main__":
    import sys
    print(run_precision(sys.argv[1] if len(sys.argv) > 1 else None))
