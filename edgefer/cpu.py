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


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TOP_PAD_",
               "GLIBC_TUNABLES")
_kept: bool | None = None


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Have glibc's malloc keep freed memory for reuse rather than give it back to the kernel.

    A training step allocates and frees the same activation tensors (up to a hundred MB each)
    every time. With glibc's defaults the large ones are mapped and unmapped on each use, or
    trimmed from the heap's top, so every step writes to fresh pages, one page fault each. This
    turns off ``mmap`` for allocations (``M_MMAP_MAX`` = 0: every block comes from the heap) and
    keeps up to ``trim_threshold`` of free memory on the heap. On the 2-core AMD VM
    (2026-12-02) a train step of batch 48 took 612 ms against 982 for ``edgecnn`` (96x96, Kirsch
    fusion), 554 against 802 for ``plaincnn``, and 428 against 458 for the 64-wide FERNet (bf16,
    batch 128); page faults fell from about 1.6 million per 7 steps to 14 thousand; peak memory
    of the three in one process rose from 1.3 to 1.6 GB.

    Process-wide, so the library never calls it: the batch commands do (``KEEP_FREED_MEMORY``
    in :mod:`edgefer.cli.main`: ``train``, ``cv``,
    ``experiment``, ``bench``, ``evaluate``, ``predict``; not ``serve``, whose memory stays as
    glibc keeps it), and an API user may. Does nothing, and returns False, off glibc or where
    the environment sets glibc's malloc parameters (``MALLOC_*_`` or ``GLIBC_TUNABLES``, even
    empty), which then win.
    """
    global _kept
    import os
    if _kept is not None:
        return _kept
    _kept = False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(v in os.environ for v in _MALLOC_ENV):
        return False
    import ctypes
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # mallopt returns 1 on success
    _kept = bool(libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
    return _kept


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` changed malloc's parameters in this process."""
    return bool(_kept)


def run_precision(run_dir: str | None = None) -> str:
    """The ``--precision`` for a training run in ``run_dir``: the one it was started with when its
    ``config.json`` exists (a resume must keep it), else ``bf16`` where it runs natively and
    ``fp32`` elsewhere. ``python -m edgefer.cpu [RUN_DIR]`` prints it for the training scripts."""
    import json
    config = Path(run_dir) / "config.json" if run_dir else None
    if config is not None and config.is_file():
        return json.loads(config.read_text())["precision"]
    return "bf16" if native_bf16() else "fp32"


LOCK_ENV = "EDGEFER_LOCK"
DEFAULT_LOCK = "/tmp/edgefer-heavy.lock"


def heavy_lock_path() -> Path | None:
    """The one lock file that every heavy job (experiment units, training, benchmarks) takes, so
    that two never share the cores: ``$EDGEFER_LOCK``, default ``/tmp/edgefer-heavy.lock``; None
    when ``EDGEFER_LOCK`` is set empty (no locking, for tests)."""
    import os
    path = os.environ.get(LOCK_ENV, DEFAULT_LOCK)
    return Path(path) if path else None


class heavy_lock:  # noqa: N801 - used as a context manager, like open()
    """Hold :func:`heavy_lock_path` (``flock``, exclusive) while the block runs.

    Blocks until the lock is free, logging once who holds it (the holder writes its pid and
    what it runs into the file). Re-entrant within one process: a unit that calls the
    benchmark does not wait for itself. The same lock as ``flock "$EDGEFER_LOCK" CMD`` in the
    shell scripts. Off Linux/BSD (no ``fcntl``) it does nothing.
    """

    _held = 0

    def __init__(self, what: str = "") -> None:
        self.what = what
        self._file = None

    def __enter__(self):
        import logging
        import os
        path = heavy_lock_path()
        if path is None or heavy_lock._held:
            heavy_lock._held += 1
            return self
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            heavy_lock._held += 1
            return self
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            logging.getLogger(__name__).warning("waiting for %s, held by: %s", path,
                                                f.read().strip() or "another process")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}: {self.what}\n")
        f.flush()
        self._file = f
        heavy_lock._held += 1
        return self

    def __exit__(self, *exc) -> None:
        heavy_lock._held -= 1
        if self._file is not None:
            import fcntl
            self._file.truncate(0)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["lock"]:  # the lock file's path, for `flock` in the shell scripts
        print(heavy_lock_path() or "")
    else:
        print(run_precision(sys.argv[1] if len(sys.argv) > 1 else None))
