"""``edgefer predict``: expressions in images, folders, videos or a camera; annotated copies."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail
from edgefer.cli._options import DEFAULT_DETECTOR, DETECTOR_HELP
from edgefer.cli.main import app

DEFAULT_SMOOTH_S = 0.5
"""Default of --smooth (edgefer.video.DEFAULT_SMOOTH_S; repeated here so --help needs no import)."""

WRITABLE_IMAGE = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
"""Image extensions OpenCV writes; annotated copies of other images (gif) are written as png."""


@dataclass(frozen=True)
class _Job:
    source: Path      # the file to read, as the user's paths lead to it
    output: Path      # where its annotated copy goes
    video: bool


@app.command()
def predict(
    inputs: Optional[list[Path]] = typer.Argument(None, help="Images (jpg, png, bmp, tiff, webp), folders (searched recursively) and videos (mp4, avi).", metavar="INPUT", show_default=False),
    model: Optional[str] = typer.Option(None, "--model", help="Shipped model name or checkpoint path (default: the shipped model)."),
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", help=DETECTOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per face per line (video: then one summary line per video)."),
    out: Path = typer.Option(Path("edgefer-out"), "--out", help="Folder for the annotated copies (and each video's timeline CSV and plot)."),
    every: int = typer.Option(1, "--every", min=1, help="In videos and from the camera, use every N-th frame."),
    smooth: float = typer.Option(DEFAULT_SMOOTH_S, "--smooth", min=0.0, help="In videos and from the camera, smooth each face's probabilities over this many seconds (0: off)."),
    max_gap: float = typer.Option(1.0, "--max-gap", min=0.0, help="Seconds a face may be out of view and keep its track id."),
    webcam: Optional[str] = typer.Option(None, "--webcam", help="Read camera N (or a stream URL or video file, live) until q (then Enter) or Ctrl-C, instead of files.", metavar="N"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing files in --out (never an input)."),
) -> None:
    """Say which expression each face shows; write annotated copies under --out.

    In videos and from the camera every face gets a track id, and its probabilities are smoothed over time; a timeline CSV, a plot and a per-track summary come with each video. Bad files are reported one line each on stderr and the rest go on; the exit code is 1 if any failed. A file without a face is reported ("no face"), not counted as a failure.
    """
    if webcam is None and not inputs:
        fail("give at least one INPUT (image, folder or video), or --webcam N")
    if webcam is not None and inputs:
        fail("--webcam reads a camera; give it without INPUT files")
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder")
    _quiet_opencv()
    rec = _recognizer(model, detector)
    stream = dict(every=every, as_json=as_json, smooth=smooth, max_gap=max_gap)
    if webcam is not None:
        _run_camera(rec, webcam, out=out, overwrite=overwrite, **stream)
        return
    jobs, failed, show_bar = _collect(inputs, out)
    failed += _run_jobs(rec, jobs, overwrite=overwrite, show_bar=show_bar, **stream)
    if failed:
        _err(f"{failed} input(s) failed")
        raise typer.Exit(1)


def _quiet_opencv() -> None:
    """Silence OpenCV's and FFmpeg's own warnings on bad videos and cameras: ours name the file."""
    import cv2
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # AV_LOG_FATAL; read at the first open
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _recognizer(model, detector: str = DEFAULT_DETECTOR):
    import torch

    from edgefer.errors import CheckpointError
    from edgefer.recognize import Recognizer
    # One image or frame at a time is a batch of a few crops: one torch thread is fastest, and
    # on a busy 2-core machine two threads wait on each other (measured 3 ms vs 500 ms a crop).
    # Edge fusion in plain torch ops: as fast as the numba kernel for a few crops.
    torch.set_num_threads(1)
    try:
        return Recognizer(model, detector=detector, eager_fusion=True)
    except (OSError, ValueError, CheckpointError) as exc:  # OSError: missing, a folder, unreadable
        fail(str(exc))


_stdout_closed = False


def _write_stdout(line: str) -> None:
    """Print a line on stdout; once the reader has gone (``| head -1``), print nothing more.

    Closing stdout stops the printing, not the work: annotated copies are still written.
    """
    global _stdout_closed
    if _stdout_closed:
        return
    from tqdm import tqdm
    try:
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_closed = True
        try:  # Python's own flush at exit would fail again (docs: "Note on SIGPIPE")
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass


def _out(line: str) -> None:
    _write_stdout(line)


def _err(line: str) -> None:
    from tqdm import tqdm
    tqdm.write(line, file=sys.stderr)


def _collect(inputs: list[Path], out: Path) -> tuple[list[_Job], int, bool]:
    """Jobs for every image and video under ``inputs``; failures reported; whether a folder was given."""
    from edgefer.io import IMAGE_EXTENSIONS, is_image_file, missing_reason
    from edgefer.video import VIDEO_EXTENSIONS, is_video_file

    out_abs = out.resolve()
    jobs, failed, folders, taken = [], 0, False, set()
    for item in inputs:
        if not item.exists():
            _err(f"error: {item}: {missing_reason(item, 'file or folder')}")
            failed += 1
        elif item.is_dir() and _inside(item.resolve(), out_abs):
            _err(f"error: {item}: is the --out folder {out}{'' if item.resolve() == out_abs else ' or inside it'}; "
                 f"annotated copies would mix with the inputs: choose another --out")
            failed += 1
        elif item.is_dir():
            folders = True
            base = out / (item.resolve().name or "root")
            before = len(jobs)
            for f in sorted(item.rglob("*")):
                if f.is_dir():
                    if f.is_symlink():
                        _err(f"skipped: {f}: symbolic link to a folder, not followed")
                    continue
                media = is_image_file(f) or is_video_file(f)
                if f.exists() and _inside(f.resolve(), out_abs):
                    continue
                if media and not f.exists():  # a broken symbolic link or a link loop
                    _err(f"error: {f}: {missing_reason(f)}")
                    failed += 1
                elif media:
                    jobs.append(_job(f, base / f.relative_to(item), taken))
                elif not any(p.startswith(".") for p in f.relative_to(item).parts):
                    _err(f"skipped: {f}: not an image or video ({f.suffix or 'no extension'})")
            if len(jobs) == before:
                _err(f"error: {item}: no images or videos in this folder")
                failed += 1
        elif is_image_file(item) or is_video_file(item):
            jobs.append(_job(item, out / item.name, taken))
        else:
            _err(f"error: {item}: unknown file type {item.suffix or '(no extension)'!r}; expected an "
                 f"image ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}) or a video "
                 f"({', '.join(e[1:] for e in VIDEO_EXTENSIONS)})")
            failed += 1
    return jobs, failed, folders


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _job(source: Path, output: Path, taken: set) -> _Job:
    """A job whose output names are unique in this run (``name-2.jpg`` on a clash)."""
    from edgefer.video import FOURCC, is_video_file
    video = is_video_file(source)
    suffix = source.suffix.lower()
    if video and suffix not in FOURCC:
        output = output.with_suffix(".avi")
    elif not video and suffix not in WRITABLE_IMAGE:
        output = output.with_suffix(".png")
    candidate, n = output, 1
    while any(p.resolve() in taken for p in _outputs(candidate, video)):
        n += 1
        candidate = output.with_name(f"{output.stem}-{n}{output.suffix}")
    taken.update(p.resolve() for p in _outputs(candidate, video))
    return _Job(source, candidate, video)


def _timeline_paths(output: Path) -> tuple[Path, Path]:
    """The timeline CSV and plot written beside a video's annotated copy."""
    return (output.with_name(f"{output.stem}.timeline.csv"),
            output.with_name(f"{output.stem}.timeline.png"))


def _outputs(output: Path, video: bool) -> list[Path]:
    return [output, *_timeline_paths(output)] if video else [output]


def _run_jobs(rec, jobs: list[_Job], *, every: int, as_json: bool, smooth: float, max_gap: float,
              overwrite: bool, show_bar: bool) -> int:
    """Process every job; return how many failed."""
    from tqdm import tqdm

    from edgefer.errors import DataError

    sources = {j.source.resolve() for j in jobs}
    failed = 0
    bar = tqdm(jobs, desc="files", unit="file", file=sys.stderr, disable=None if show_bar else True)
    for job in bar:
        # A refused output still gets its predictions printed; only the write is skipped.
        problem = _output_problem(job, sources, overwrite)
        if problem:
            _err(f"error: {job.source}: {problem}")
            failed += 1
        output = None if problem else job.output
        try:
            if job.video:
                _predict_video(rec, job.source, output, every=every, as_json=as_json,
                               smooth=smooth, max_gap=max_gap)
            else:
                _predict_image(rec, job.source, output, as_json=as_json)
        except (FileNotFoundError, DataError, ValueError, OSError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            _err(f"error: {_named(exc, job.source)}")
            failed += 1 if not problem else 0
    return failed


def _named(exc: Exception, source: Path) -> str:
    """The message, prefixed with the file unless it already names it."""
    msg = str(exc) or type(exc).__name__
    return msg if str(source) in msg else f"{source}: {msg}"


def _output_problem(job: _Job, sources: set, overwrite: bool) -> str | None:
    for path in _outputs(job.output, job.video):
        if path.resolve() in sources:
            return f"its output {path} is an input file; refusing to write over it (choose another --out)"
        if path.exists() and not overwrite:
            return f"output {path} already exists; pass --overwrite to replace it"
    return None


def _predict_image(rec, source: Path, output: Path | None, *, as_json: bool) -> None:
    import cv2

    from edgefer.annotate import annotate
    from edgefer.io import atomic_write_bytes, read_image
    from edgefer.video import _new_file_mode

    image = read_image(source)
    faces = rec.predict(image)
    _report(source, faces, as_json)
    if not faces:
        _err(f"{source}: no face")
    if output is None:
        return
    ok, data = cv2.imencode(output.suffix, annotate(image, faces))
    if not ok:
        raise OSError(f"cannot encode the annotated copy as {output.suffix}")
    atomic_write_bytes(output, lambda f: f.write(data.tobytes()))
    os.chmod(output, _new_file_mode())  # atomic_write_bytes leaves mkstemp's 0600
    if not as_json:
        _out(f"{source}: annotated copy written to {output}")


def _predict_video(rec, source: Path, output: Path | None, *, every: int, as_json: bool,
                   smooth: float, max_gap: float) -> None:
    import contextlib

    from edgefer.video import VideoRecognizer, VideoWriter, iter_frames, video_info

    info = video_info(source)
    frames = iter_frames(source, every)
    vr = VideoRecognizer(rec, smooth_s=smooth, max_gap_s=max_gap, fps=info.fps)
    total = -(-info.frame_count // every) if info.frame_count else None
    writer = (VideoWriter(output, info.fps / every, (info.width, info.height)) if output
              else contextlib.nullcontext())
    with writer:
        timeline, n_frames = _run_stream(vr, frames, str(source), writer=writer if output else None,
                                         as_json=as_json, total=total, frame_s=every / info.fps)
    _finish_stream(source, output, timeline, n_frames, as_json)


def _run_stream(vr, frames, source: str, *, writer, as_json: bool, total=None, frame_s=None,
                stop=lambda: False, live: bool = False):
    """The one loop of videos and the camera: recognize and track each frame, report its faces,
    write its annotated frame; returns the timeline and the frame count."""
    from tqdm import tqdm

    from edgefer.annotate import annotate
    from edgefer.timeline import Timeline

    timeline = Timeline(frame_s)
    n_frames = 0
    vr.reset()
    try:
        for index, frame in tqdm(frames, total=total, desc=Path(source).name, unit="frame",
                                 file=sys.stderr, leave=False, disable=None):
            faces = vr.process(frame, index=index)
            timeline.add(faces)
            _report(source, faces, as_json)
            if writer is not None:
                writer.write(annotate(frame, faces))
            n_frames += 1
            if stop():
                break
    except KeyboardInterrupt:
        if not live:
            raise
    return timeline, n_frames


def _finish_stream(source, output: Path | None, timeline, n_frames: int, as_json: bool,
                   what: str = "annotated video") -> None:
    """Write the timeline CSV and plot beside ``output``; print the per-track summary."""
    from edgefer.timeline import format_summary

    if not timeline.rows:
        _err(f"{source}: no face in any of {n_frames} frames")
    written = []
    if output is not None:
        csv_path, png_path = _timeline_paths(output)
        timeline.write_csv(csv_path)
        timeline.plot(png_path, title=f"{Path(str(source)).name}: smoothed expressions per track")
        written = [str(p) for p in ((output,) if what else ()) + (csv_path, png_path)]
    summary = timeline.summary()
    if as_json:
        _print_json_line({"file": str(source), "frames": n_frames, "faces": len(timeline.rows),
                          "tracks": summary, "written": written})
        return
    _out(f"{source}: {n_frames} frames, {len(timeline.rows)} faces, {len(summary)} tracks"
         + (f"; wrote {', '.join(written)}" if written else ""))
    if summary:
        for line in format_summary(summary).splitlines():
            _out("  " + line)


def _print_json_line(obj) -> None:
    import json

    from edgefer.cli._common import _default
    _write_stdout(json.dumps(obj, default=_default))


def _report(source, faces, as_json: bool) -> None:
    for f in faces:
        if as_json:
            _print_json_line(f.to_dict(file=source))
        else:
            where = f"{source}" if f.frame is None else f"{source} [frame {f.frame}, track {f.track}]"
            x, y, w, h = f.box
            _out(f"{where}: {f.label} ({f.confidence:.2f}) at {x},{y},{w},{h}")


def _camera_source(webcam: str):
    """Camera index (an int) for digits, else the string (a stream URL or a video file)."""
    return int(webcam) if webcam.strip().isdigit() else webcam


def _run_camera(rec, webcam: str, *, out: Path, overwrite: bool, every: int, as_json: bool,
                smooth: float, max_gap: float) -> None:
    from edgefer.errors import DataError
    from edgefer.video import VideoRecognizer, iter_camera

    index = _camera_source(webcam)
    source = f"camera {index}" if isinstance(index, int) else str(index)
    stem = f"camera-{index}" if isinstance(index, int) else Path(str(index)).stem or "stream"
    output = out / stem
    for path in _timeline_paths(output):
        if path.exists() and not overwrite:
            fail(f"output {path} already exists; pass --overwrite to replace it")
    try:
        frames = iter_camera(index, every)
    except DataError as exc:
        fail(str(exc))
    # Live: frame times from the wall clock, so smoothing and gaps are in real seconds.
    vr = VideoRecognizer(rec, smooth_s=smooth, max_gap_s=max_gap)
    _err(f"{source}: reading; press q then Enter, or Ctrl-C, to stop")
    try:
        timeline, n = _run_stream(vr, frames, source, writer=None, as_json=as_json,
                                  stop=_quit_typed, live=True)
    finally:
        frames.close()
    _err(f"{source}: stopped after {n} frames")
    try:
        _finish_stream(source, output, timeline, n, as_json, what="")
    except OSError as exc:
        fail(f"{source}: cannot write the timeline under {out}: {exc}")


def _quit_typed() -> bool:
    """True when a line starting with q is waiting on an interactive stdin."""
    import select
    if not sys.stdin.isatty():
        return False
    ready, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(ready) and sys.stdin.readline().strip().lower().startswith("q")
