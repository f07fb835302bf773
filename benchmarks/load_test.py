"""Bounded load test of ``edgefer serve`` on loopback.

Starts ``python -m edgefer serve`` on a free port of 127.0.0.1, sends ``--requests`` uploads to
``/api/predict`` from ``--concurrency`` threads, stops the server, and prints one JSON object:
throughput, latency p50/p95/p99/max, answers by status and by kind, 5xx and transport errors,
answers other than expected, and the server's peak resident memory (VmHWM, Linux). It talks
only to 127.0.0.1 and stops by itself: every request has a timeout and the run has a deadline.

``--mix mixed`` (the default) sends two good photos, one face-free image and one corrupt file in
every four; ``--mix photo`` sends the good photo only (the throughput figure of docs/web.md).
``--compare-old REV`` also serves the code of git revision REV (extracted with ``git archive``
into a temporary folder) and alternates old and new servers ``--rounds`` times, so both see the
same machine load; ``uptime``'s load averages are recorded before each run.

    python benchmarks/load_test.py --mix photo --requests 200 --concurrency 16 --compare-old f1f7886 --rounds 2 --out results/web-load.json
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"
HOST = "127.0.0.1"
MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 64
KINDS = ("good", "good", "noface", "corrupt")
"""The mixed request mix, cycled."""
MIXES = {"mixed": KINDS, "photo": ("good",)}
EXPECTED = {"good": 200, "noface": 200, "corrupt": 415}


def payloads(image: Path = ASTRONAUT) -> dict[str, tuple[str, str, bytes]]:
    """(file name, content type, bytes) of each kind of upload."""
    from PIL import Image
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (240, 320), dtype=np.uint8)).save(buf, format="PNG")
    return {"good": (image.name, "image/jpeg", image.read_bytes()),
            "noface": ("noise.png", "image/png", buf.getvalue()),
            "corrupt": ("corrupt.jpg", "image/jpeg", rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes())}


def _multipart(name: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _rss_kib(pid: int, field: str) -> int | None:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of a process in KiB, from /proc (Linux only)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _start_server(model: str | None, port: int, log, startup_timeout: float, *, tree: Path = ROOT,
                  extra: list[str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgefer", "serve", "--host", HOST, "--port", str(port), *(extra or [])]
    if model:
        cmd += ["--model", str(model)]
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree's own edgefer, not an installed one
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tree, env=env)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if _get(port, "/api/health", 2)[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.25)
    _stop(proc)
    log.seek(0)
    tail = log.read().decode(errors="replace")[-2000:]
    raise RuntimeError(f"edgefer serve did not come up on {HOST}:{port} within {startup_timeout:.0f} s; "
                       f"its output:\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(np.ceil(q / 100 * len(sorted_values))) - 1))
    return sorted_values[k]


def _summary(latencies: list[float]) -> dict:
    s = sorted(latencies)
    return {"p50": round(_percentile(s, 50), 1), "p95": round(_percentile(s, 95), 1),
            "max": round(s[-1], 1) if s else None, "mean": round(float(np.mean(s)), 1) if s else None}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``uptime``), or None where unknown."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_load_test(model: str | os.PathLike | None = None, *, requests: int = 200, concurrency: int = 8,
                  image: Path = ASTRONAUT, request_timeout: float = 60.0, mix: str = "mixed",
                  startup_timeout: float = 120.0, deadline_s: float = 1800.0, tree: Path = ROOT,
                  serve_args: list[str] | None = None) -> dict:
    """Start the server (of the source tree ``tree``), send the requests, stop the server; the
    measurements as a dict.

    Latencies are in milliseconds, from sending the request to reading the whole answer.
    """
    if mix not in MIXES:
        raise ValueError(f"`mix` must be one of {', '.join(MIXES)}; got {mix!r}")
    kinds = MIXES[mix]
    if not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"`requests` must be in 1..{MAX_REQUESTS}; got {requests}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"`concurrency` must be in 1..{MAX_CONCURRENCY}; got {concurrency}")
    bodies = {k: _multipart(*v) for k, v in payloads(Path(image)).items()}
    port = _free_port()
    local = threading.local()
    stop_at = time.monotonic() + deadline_s

    def one(i: int) -> tuple[str, int | str, float]:
        kind = kinds[i % len(kinds)]
        if time.monotonic() > stop_at:
            return kind, "skipped (deadline)", 0.0
        body, ctype = bodies[kind]
        t0 = time.perf_counter()
        try:
            if getattr(local, "conn", None) is None:
                local.conn = http.client.HTTPConnection(HOST, port, timeout=request_timeout)
            local.conn.request("POST", "/api/predict", body, {"Content-Type": ctype})
            r = local.conn.getresponse()
            r.read()
            status: int | str = r.status
            if r.getheader("connection", "").lower() == "close":
                local.conn.close()
                local.conn = None
        except (OSError, http.client.HTTPException) as exc:
            status = f"error ({type(exc).__name__})"
            if getattr(local, "conn", None) is not None:
                local.conn.close()
            local.conn = None
        return kind, status, (time.perf_counter() - t0) * 1000

    with tempfile.TemporaryFile() as log:
        proc = _start_server(None if model is None else str(model), port, log, startup_timeout, tree=tree,
                             extra=serve_args)
        try:
            for _ in range(2):  # warm: the first calls set up ONNX Runtime's kernels
                one(0)
            load = load_average()
            idle_rss = _rss_kib(proc.pid, "VmRSS")
            t0 = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(one, range(requests)))
            wall = time.perf_counter() - t0
            peak_rss = _rss_kib(proc.pid, "VmHWM")
            health = json.loads(_get(port, "/api/health", 10)[1])
        finally:
            _stop(proc)

    done = [(k, s, ms) for k, s, ms in results if not (isinstance(s, str) and s.startswith("skipped"))]
    status_counts: dict[str, int] = {}
    by_kind: dict[str, dict] = {}
    for kind, status, _ in results:
        status_counts[str(status)] = status_counts.get(str(status), 0) + 1
        counts = by_kind.setdefault(kind, {"expected": EXPECTED[kind], "status": {}})["status"]
        counts[str(status)] = counts.get(str(status), 0) + 1
    for kind, entry in by_kind.items():
        entry["latency_ms"] = _summary([ms for k, _, ms in done if k == kind])
    lat = sorted(ms for _, _, ms in done)
    return {
        "requests": requests, "concurrency": concurrency, "mix": list(kinds), "load_average": load,
        "model": health.get("model"), "server": f"{HOST}:{port}",
        "wall_s": round(wall, 2), "throughput_rps": round(len(done) / wall, 2) if wall else None,
        "latency_ms": {**_summary(lat), "p99": round(_percentile(lat, 99), 1)},
        "status_counts": status_counts, "by_kind": by_kind,
        "server_errors_5xx": sum(1 for _, s, _ in results if isinstance(s, int) and s >= 500),
        "transport_errors": sum(1 for _, s, _ in results if isinstance(s, str) and s.startswith("error")),
        "skipped": requests - len(done),
        "unexpected": sum(1 for k, s, _ in results if s != EXPECTED[k]),
        "server_idle_rss_mb": None if idle_rss is None else round(idle_rss / 1024, 1),
        "server_peak_rss_mb": None if peak_rss is None else round(peak_rss / 1024, 1),
    }


@contextmanager
def old_tree(rev: str):
    """The repository's files at git revision ``rev``, extracted into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="edgefer-old-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            raise ValueError(f"--compare-old {rev}: git archive failed: "
                             f"{archive.stderr.decode(errors='replace').strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


def compare_old(rev: str, *, rounds: int = 2, variant: list[str] | None = None, **kwargs) -> dict:
    """Old (git revision ``rev``) and new servers, alternately ``rounds`` times each, the same load;
    with ``variant`` (extra ``edgefer serve`` options), a third server of the new code with them."""
    if not 1 <= rounds <= 10:
        raise ValueError(f"`rounds` must be in 1..10; got {rounds}")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True,
                            text=True).stdout.strip() or rev
    runs = {"old": [], "new": []}
    if variant:
        runs["new " + " ".join(variant)] = []
    with old_tree(rev) as tree:
        for i in range(rounds):
            order = [("old", tree, None), ("new", ROOT, None)]
            if variant:
                order.append(("new " + " ".join(variant), ROOT, variant))
            if i % 2:
                order.reverse()
            for name, where, extra in order:
                res = run_load_test(tree=where, serve_args=extra, **kwargs)
                runs[name].append(res)
                print(f"{name} round {i + 1}: {res['throughput_rps']} photos/s, p50 {res['latency_ms']['p50']} ms, "
                      f"p99 {res['latency_ms']['p99']} ms, load {res['load_average']}", file=sys.stderr)

    def best(name):
        return max(runs[name], key=lambda r: r["throughput_rps"] or 0)

    return {"old_revision": commit, "rounds": rounds, "runs": runs,
            "summary": {name: {"throughput_rps": [r["throughput_rps"] for r in runs[name]],
                               "p50_ms": [r["latency_ms"]["p50"] for r in runs[name]],
                               "p99_ms": [r["latency_ms"]["p99"] for r in runs[name]],
                               "best_throughput_rps": best(name)["throughput_rps"]} for name in runs}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="shipped model name or checkpoint path (default: the shipped model)")
    ap.add_argument("--requests", type=int, default=200, help=f"uploads to send, 1..{MAX_REQUESTS}")
    ap.add_argument("--concurrency", type=int, default=8, help=f"parallel clients, 1..{MAX_CONCURRENCY}")
    ap.add_argument("--mix", choices=list(MIXES), default="mixed", help="what the clients send")
    ap.add_argument("--image", type=Path, default=ASTRONAUT, help="the 'good' photo")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    ap.add_argument("--compare-old", metavar="REV", help="also serve git revision REV, alternating old and new")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare-old: runs of each, alternating")
    ap.add_argument("--variant", nargs="+", metavar="ARG", help="with --compare-old: also the new server with "
                    "these `edgefer serve` options, e.g. --variant=--detect-max-side=320")
    ap.add_argument("--out", type=Path, help="also write the result (with provenance) to this JSON file")
    args = ap.parse_args(argv)
    kwargs = dict(requests=args.requests, concurrency=args.concurrency, image=args.image,
                  request_timeout=args.timeout, mix=args.mix)
    try:
        if args.compare_old:
            res = compare_old(args.compare_old, rounds=args.rounds, variant=args.variant, model=args.model, **kwargs)
            ok = all(r["server_errors_5xx"] == 0 and r["transport_errors"] == 0 for r in res["runs"]["new"])
        else:
            res = run_load_test(args.model, **kwargs)
            ok = res["server_errors_5xx"] == 0 and res["transport_errors"] == 0
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    res = {**res, "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "load_average_end": load_average()}}
    if args.out:
        from edgefer.results import provenance, write_json
        write_json(args.out, {**res, "command": " ".join(["python", "benchmarks/load_test.py", *(argv or sys.argv[1:])]),
                              "provenance": provenance()})
    print(json.dumps(res if not args.compare_old else {k: v for k, v in res.items() if k != "runs"}))
    return 0 if ok else 1


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
