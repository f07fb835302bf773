"""Parsing shared by several commands: model arguments, data loading with clear errors."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail

DEFAULT_DETECTOR = "mtcnn"
"""Face detector of ``predict`` and ``serve``: MTCNN, which finds 99.6 % of the turned, small and
partly hidden faces of docs/detectors.md's scenes (Haar 63.2 %) at half Haar's CPU time per
640x480 frame, and keeps the default model at 42 frames/s end to end on video (docs/detectors.md).
The library's Recognizer, ``evaluate`` and the paper's experiments use Haar."""
DETECTOR_HELP = ("Face detector: haar (OpenCV's frontal cascade) or mtcnn (also finds turned, tilted "
                 "and partly hidden faces; docs/detectors.md).")

# Training options shared by `train` and `cv`, so both take the same recipe in the same words.
FORMAT = typer.Option(None, "--format", help="Override format detection: fer-csv, fer-folders, folders, lfw.")
INPUT_SIZE = typer.Option(None, "--input-size", help="Input side in pixels (default: the model's).")
EQUALIZE = typer.Option(True, "--equalize/--no-equalize", help="Histogram equalization (the paper's).")
LOSS = typer.Option("ce", "--loss", help="ce (cross-entropy) or mse (the paper's, on softmax vs one-hot).")
BATCH_SIZE = typer.Option(48, "--batch-size")
EPOCHS = typer.Option(50, "--epochs")
LR = typer.Option(0.01, "--lr")
OPTIMIZER = typer.Option("sgd", "--optimizer", help="sgd (Nesterov momentum) or adamw.")
WEIGHT_DECAY = typer.Option(5e-4, "--weight-decay")
SCHEDULE = typer.Option("cosine", "--schedule", help="cosine or constant.")
WARMUP = typer.Option(0.0, "--warmup", help="Warm-up epochs.")
LABEL_SMOOTHING = typer.Option(0.0, "--label-smoothing")
AUGMENT = typer.Option("none", "--augment", help="none, flip, standard or strong.")
PRECISION = typer.Option("fp32", "--precision", help="fp32 or bf16 (autocast).")
MODEL_ARG: Optional[list[str]] = typer.Option(None, "--arg", help="Architecture argument KEY=VALUE, e.g. fusion=none (repeatable).")
SEED = typer.Option(0, "--seed")
DEVICE = typer.Option("cpu", "--device", help="cpu or cuda.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace a previous run in --out.")
ARCH_ALIAS = typer.Option(None, "--model", hidden=True, help="Old name of --arch.")
"""``--model``, the old name of ``--arch`` in the commands that build an architecture (``train``,
``cv``, ``bench``): still read, not shown in --help."""


def arch_or_alias(ctx: typer.Context, alias, arch):
    """``--arch``'s value, or the old ``--model``'s when that one was given; both: a clean exit
    unless they agree."""
    if alias is None or alias == []:
        return arch
    # typer carries its own copy of click: compare the source by name, not by enum class
    if ctx.get_parameter_source("arch").name == "COMMANDLINE" and alias != arch:
        fail("--model is the old name of --arch; give one of them")
    return alias


def parse_model_args(items: list[str] | None) -> dict:
    """:func:`edgefer.train.config.parse_model_args`, or a clean exit naming the bad item."""
    from edgefer.train.config import parse_model_args as parse
    try:
        return parse(items)
    except ValueError as exc:
        fail(str(exc))


def load_split(path: Path, split: str | None, fmt: str | None):
    """A data set split, or a clean exit naming the problem."""
    from edgefer.data.load import load_dataset
    from edgefer.errors import DataError
    try:
        return load_dataset(path, split=split, format=fmt)
    except (FileNotFoundError, DataError, ValueError) as exc:
        fail(str(exc))


def check_out_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to write into a folder that already holds results, unless asked to."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (resume or overwrite):
        fail(f"--out {out}: already holds files; pass --resume to continue that run or "
             f"--overwrite to replace it")


def clear_out_dir(out: Path) -> None:
    """Remove the previous run in ``out`` (``--overwrite``) before the new one writes anything.

    The folder is first renamed aside, one atomic step, then deleted: a kill at any moment
    leaves the old run (whole, or in ``.<name>.replaced-<pid>`` beside it while it is being
    deleted) or the new one in ``out``, never files of both.
    """
    if not out.is_dir() or not any(out.iterdir()):
        return
    aside = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    try:
        out.rename(aside)
    except OSError as exc:
        fail(f"--out {out}: cannot move the previous run aside to {aside} ({exc.strerror})")
    shutil.rmtree(aside, ignore_errors=True)


def train_config(model: str, model_arg: list[str] | None, input_size: int | None, **fields):
    """A validated :class:`~edgefer.train.config.TrainConfig` for architecture ``model`` (``--arg`` items
    parsed, input size the model's unless given), or a clean exit naming the bad value."""
    import torch

    from edgefer.models import create_model
    from edgefer.train.config import TrainConfig
    kwargs = parse_model_args(model_arg)
    try:
        with torch.device("meta"):  # shapes only: checks the model and its --arg items, gives its input size
            default_size = getattr(create_model(model, **kwargs), "input_size", 48)
    except TypeError as exc:  # a model argument the model does not take
        fail(f"--arch {model} --arg: {exc}")
    except ValueError as exc:
        fail(str(exc))
    try:
        cfg = TrainConfig(model=model, model_kwargs=kwargs, input_size=input_size or default_size, **fields)
        cfg.validate()
    except ValueError as exc:
        fail(str(exc))
    return cfg


def lead_process() -> bool:
    """True unless this is one of torchrun's other ranks, which stay quiet (no bars, no summary)."""
    return int(os.environ.get("RANK", "0")) == 0


def decode_pixels(ds, spec):
    """``(pixels, faces_found)`` of a data set; a photo that cannot be decoded (they are decoded
    only now) is a clean exit naming it."""
    from edgefer.data.pixels import dataset_pixels
    from edgefer.errors import DataError
    try:
        return dataset_pixels(ds, spec, progress=lead_process())
    except DataError as exc:
        fail(str(exc))
