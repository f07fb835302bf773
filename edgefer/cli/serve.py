"""``edgefer serve``: the web demo and its JSON API (edgefer.web) under uvicorn."""
from __future__ import annotations

from typing import Optional

import typer

from edgefer.cli._common import fail
from edgefer.cli._options import DEFAULT_DETECTOR, DETECTOR_HELP
from edgefer.cli.main import app


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
    model: Optional[str] = typer.Option(None, "--model", help="Shipped model name or checkpoint path (default: the shipped model)."),
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", help=DETECTOR_HELP),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", min=0.001, help="Largest accepted image file, MiB."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=256, help="Threads that decode and detect (default: one per CPU)."),
    pixel_budget_mp: Optional[float] = typer.Option(None, "--pixel-budget-mp", min=1, help="Megapixels that may be decoded at once (default: by free memory, 50 to 100)."),
    detect_max_side: Optional[int] = typer.Option(None, "--detect-max-side", min=64, max=10_000, help="Detect faces on a copy shrunk to this longer side (default 640; smaller is faster and misses smaller faces)."),
    max_pending: int = typer.Option(32, "--max-pending", min=1, max=10_000, help="Uploads in flight beyond which new ones get 503 Retry-After."),
) -> None:
    """Serve the web page (upload, drop or webcam photo; faces boxed with probabilities) and /api/predict."""
    try:
        import uvicorn

        from edgefer.web import create_app
    except ImportError as exc:
        fail(f"the web demo needs fastapi, uvicorn and python-multipart ({exc}); "
             "install them with: pip install 'edgefer[web]'")
    import cv2
    import torch

    from edgefer.errors import CheckpointError
    from edgefer.preprocess.detectors import make_detector
    from edgefer.recognize import Recognizer
    # Parallelism comes from the worker threads (one image each) and the model's own thread
    # (batches of faces): one thread inside each OpenCV, torch and ONNX Runtime call is fastest
    # and leaves no thread spinning while another works.
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        recognizer = Recognizer(model, detector=make_detector(detector, max_side=detect_max_side or 640), threads=1)
        web = create_app(recognizer, max_upload_bytes=int(max_upload_mb * 1024 * 1024), workers=workers,
                         pixel_budget=None if pixel_budget_mp is None else int(pixel_budget_mp * 1e6),
                         max_pending=max_pending)
    except (OSError, ValueError, CheckpointError) as exc:
        fail(str(exc))
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: listening on {host}; anyone who can reach it can use the demo", err=True)
    uvicorn.run(web, host=host, port=port, log_level="info")
