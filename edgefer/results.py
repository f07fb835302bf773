"""Result files: every number a command reports is also written as JSON with its provenance."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from edgefer.io import atomic_write_text


def _commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict:
    """What the numbers were measured on."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from edgefer.cpu import cpu_flags, freed_memory_kept
    from edgefer.runtime import int8_mode
    flags = cpu_flags() or set()
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            # what decides int8 and bf16 speed (and int8 correctness: see edgefer.runtime.int8_mode)
            "simd": sorted(f for f in flags if f.startswith(("avx", "amx"))),
            "int8_kernels": int8_mode(), "onnxruntime": ort_version,
            # whether this process keeps freed memory (edgefer.cpu.keep_freed_memory): training
            # and benchmark steps are faster with it on some VMs
            "malloc_keeps_freed": freed_memory_kept(),
            "torch": torch.__version__, "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def machine_label(m: dict) -> str:
    """A machine's CPU name with what sets its training speed, for tables: two "AMD EPYC" CPUs
    here differ sixfold (one with AVX-512 BF16, one with AVX2 only, where bf16 is emulated)."""
    simd = set(m.get("simd") or ())
    kind = ("AMX" if "amx_bf16" in simd else "AVX-512 BF16" if "avx512_bf16" in simd
            else "AVX-512" if "avx512f" in simd else "AVX2" if "avx2" in simd else None)
    return f"{m.get('cpu')}, {kind}" if kind and kind not in str(m.get("cpu")) else str(m.get("cpu"))


def provenance(**extra) -> dict:
    """Commit, machine and time, plus what the caller says about data and split."""
    return {"commit": _commit(), "machine": machine(),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}


def write_json(path: str | os.PathLike, obj, *, rows: str | None = None) -> Path:
    """Write ``obj`` as indented JSON, atomically. With ``rows``, the list ``obj[rows]`` goes last
    with each of its items on one line: a long table (such as every subset of an ensemble's
    candidates) then takes half the bytes and stays readable row by row."""
    if rows is None:
        return atomic_write_text(path, json.dumps(obj, indent=2, default=_default) + "\n")
    head = json.dumps({k: v for k, v in obj.items() if k != rows}, indent=2, default=_default)
    body = ",\n".join("    " + json.dumps(r, default=_default) for r in obj[rows])
    head = head[:-2] + ",\n" if head != "{}" else "{\n"  # reopen the object after its last item
    return atomic_write_text(path, head + f'  "{rows}": [\n{body}\n  ]\n}}\n')


def _default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
