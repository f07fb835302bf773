"""Bounded memory test of ``edgefer serve`` on loopback: many huge images at once.

Starts ``python -m edgefer serve`` on a free port of 127.0.0.1, warms it with the example photo,
notes its resident memory (idle), then sends ``--concurrency`` uploads at once of a small PNG
that declares ``--side`` x ``--side`` pixels (7000 x 7000 = 49 M pixels, under the 50 M-pixel
limit: about 60-150 KB of file, 196 MB once PIL decodes it as RGB). Every answer must be 200 or
503 with ``Retry-After``, at least one 200; then the example photo must still be answered 200,
and ``--settle`` seconds later the server's resident memory must be back within ``--slack-mb``
of idle. Prints one JSON object (and writes it with ``--out``): the answers, idle, peak (VmHWM)
and settled memory, and whether each bound held.

    python benchmarks/memory_test.py --concurrency 16 --side 7000 --out results/web-memory.json
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import ASTRONAUT, HOST, _free_port, _multipart, _rss_kib, _start_server, _stop, load_average  # noqa: E402

MAX_PEAK_MB = 1536
"""Bound on the server's peak resident memory (1.5 GB)."""
SLACK_MB = 150
"""Bound on the memory the server still holds ``settle`` seconds after the burst, over idle."""


def huge_png(side: int = 7000) -> bytes:
    """A PNG of ``side`` x ``side`` black RGB pixels: tiny on disk, huge once decoded."""
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (side, side)).save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def _post(port: int, body: bytes, ctype: str, timeout: float) -> tuple[int | str, str | None, float]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/api/predict", body, {"Content-Type": ctype})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("retry-after"), time.perf_counter() - t0
    except (OSError, http.client.HTTPException) as exc:
        return f"error ({type(exc).__name__})", None, time.perf_counter() - t0
    finally:
        conn.close()


def run_memory_test(model: str | None = None, *, concurrency: int = 16, side: int = 7000, settle_s: float = 10.0,
                    request_timeout: float = 120.0, startup_timeout: float = 180.0,
                    serve_args: list[str] | None = None) -> dict:
    """Start the server, send the burst, check it still serves, measure its memory; the result."""
    if not 1 <= concurrency <= 64:
        raise ValueError(f"`concurrency` must be in 1..64; got {concurrency}")
    if not 1 <= side <= 7071:
        raise ValueError(f"`side` must be in 1..7071 (under the 50 M-pixel limit); got {side}")
    big, big_type = _multipart("huge.png", "image/png", huge_png(side))
    photo, photo_type = _multipart(ASTRONAUT.name, "image/jpeg", ASTRONAUT.read_bytes())
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        proc = _start_server(model, port, log, startup_timeout, extra=serve_args)
        try:
            warm = [_post(port, photo, photo_type, request_timeout)[0] for _ in range(2)]
            time.sleep(1.0)
            idle = _rss_kib(proc.pid, "VmRSS")
            t0 = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                answers = list(pool.map(lambda _: _post(port, big, big_type, request_timeout), range(concurrency)))
            burst_s = time.perf_counter() - t0
            after = _post(port, photo, photo_type, request_timeout)[0]
            time.sleep(settle_s)
            settled = _rss_kib(proc.pid, "VmRSS")
            peak = _rss_kib(proc.pid, "VmHWM")
            alive = proc.poll() is None
        finally:
            _stop(proc)
    statuses: dict[str, int] = {}
    for status, _, _ in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    mb = (lambda kib: None if kib is None else round(kib / 1024, 1))
    res = {
        "concurrency": concurrency, "side": side, "pixels": side * side, "upload_bytes": len(big),
        "load_average": load_average(), "warm_status": warm, "status_counts": statuses,
        "busy_without_retry_after": sum(1 for s, ra, _ in answers if s == 503 and not ra),
        "burst_s": round(burst_s, 2), "max_answer_s": round(max(t for _, _, t in answers), 2),
        "photo_after_burst": after, "server_alive": alive,
        "idle_rss_mb": mb(idle), "peak_rss_mb": mb(peak), "settled_rss_mb": mb(settled), "settle_s": settle_s,
    }
    ok_status = all(s in (200, 503) for s, _, _ in answers) and statuses.get("200", 0) >= 1
    res["checks"] = {
        "answers_200_or_503_with_retry_after": ok_status and res["busy_without_retry_after"] == 0,
        "at_least_one_200": statuses.get("200", 0) >= 1,
        "still_serving": after == 200 and alive,
        "peak_under_mb": None if peak is None else res["peak_rss_mb"] < MAX_PEAK_MB,
        "settled_within_mb_of_idle": None if settled is None else res["settled_rss_mb"] - res["idle_rss_mb"] <= SLACK_MB,
    }
    res["ok"] = all(v is not False for v in res["checks"].values())
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="shipped model name or checkpoint path (default: the shipped model)")
    ap.add_argument("--concurrency", type=int, default=16, help="uploads sent at once, 1..64")
    ap.add_argument("--side", type=int, default=7000, help="the PNG's width and height")
    ap.add_argument("--settle", type=float, default=10.0, help="seconds after the burst before measuring")
    ap.add_argument("--out", type=Path, help="also write the result (with provenance) to this JSON file")
    args = ap.parse_args(argv)
    try:
        res = run_memory_test(args.model, concurrency=args.concurrency, side=args.side, settle_s=args.settle)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        from edgefer.results import provenance, write_json
        write_json(args.out, {**res, "command": " ".join(["python", "benchmarks/memory_test.py", *(argv or sys.argv[1:])]),
                              "provenance": provenance()})
    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
