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
) -> None:
    """Serve the web page (upload, drop or webcam photo; faces boxed with probabilities) and /api/predict."""
    try:
        import uvicorn

        from edgefer.web import create_app
    except ImportError as exc:
        fail(f"the web demo needs fastapi, uvicorn and python-multipart ({exc}); "
             "install them with: pip install 'edgefer[web]'")
    import torch

    from edgefer.errors import CheckpointError
    from edgefer.recognize import Recognizer
    # Requests are answered one at a time, each a few face crops: one torch thread is fastest
    # (see edgefer predict) and leaves the other cores to uvicorn and image decoding.
    torch.set_num_threads(1)
    try:
        web = create_app(Recognizer(model, detector=detector), max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    except (OSError, ValueError, CheckpointError) as exc:
        fail(str(exc))
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: listening on {host}; anyone who can reach it can use the demo", err=True)
    uvicorn.run(web, host=host, port=port, log_level="info")
