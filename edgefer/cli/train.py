"""``edgefer train``: train a registered model on a data set."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli._common import fail, print_json
from edgefer.cli import _options as opt
from edgefer.cli._options import check_out_dir, decode_pixels, lead_process, load_split, train_config
from edgefer.cli.main import app


@app.command()
def train(
    data: Path = typer.Option(..., "--data", help="FER-2013 folder or CSV, LFW folder, or a folder of class subfolders."),
    model: str = typer.Option("edgecnn48", "--model", help="Registered model name (see `edgefer models`)."),
    split: str = typer.Option("train", "--split", help="Split to train on."),
    val_split: Optional[str] = typer.Option("publictest", "--val-split", help="Split validated each epoch ('none' to skip)."),
    fmt: Optional[str] = opt.FORMAT,
    input_size: Optional[int] = opt.INPUT_SIZE,
    equalize: bool = opt.EQUALIZE,
    loss: str = opt.LOSS,
    batch_size: int = opt.BATCH_SIZE,
    epochs: int = opt.EPOCHS,
    lr: float = opt.LR,
    optimizer: str = opt.OPTIMIZER,
    weight_decay: float = opt.WEIGHT_DECAY,
    schedule: str = opt.SCHEDULE,
    warmup: float = opt.WARMUP,
    label_smoothing: float = opt.LABEL_SMOOTHING,
    soft_labels: float = typer.Option(0.0, "--soft-labels", help="Weight of soft targets in the targets: FER+ vote distributions, or --teacher's probabilities."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Distil: a shipped model's name or a model file whose probabilities on the training images are the soft targets (weight --soft-labels, default 0.5 with a teacher)."),
    ferplus: float = typer.Option(0.0, "--ferplus", help="With --teacher: share of FER+ crowd votes in the soft targets, the rest the teacher's probabilities (the teacher's alone for images without a FER+ vote; needs ferplus.csv beside the data)."),
    val_labels: str = typer.Option("dataset", "--val-labels", help="Labels that choose the best epoch on the validation split: dataset (its own) or ferplus (FER+ crowd majority; images without one left out)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this model's weights and preprocessing instead of random ones: an edgefer checkpoint (.pt) or a model `edgefer export` wrote (.onnx, float or int8; batch norms are rebuilt and re-estimated on training images). Same --model and --arg as the file's."),
    augment: str = opt.AUGMENT,
    precision: str = opt.PRECISION,
    model_arg: Optional[list[str]] = opt.MODEL_ARG,
    seed: int = opt.SEED,
    device: str = opt.DEVICE,
    out: Path = typer.Option(Path("runs/train"), "--out", help="Folder for checkpoints and logs."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out where it stopped."),
    overwrite: bool = opt.OVERWRITE,
    checkpoint_every: int = typer.Option(0, "--checkpoint-every", help="Also checkpoint every N iterations."),
    max_steps: int = typer.Option(0, "--max-steps", help="Stop after N iterations (0: all epochs)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train MODEL on a data set; writes best.pt, last.pt, iterations.csv and history.json to --out."""
    from edgefer.preprocess.spec import PreprocessSpec
    from edgefer.train.loop import fit

    check_out_dir(out, resume=resume, overwrite=overwrite)
    teacher_path = _teacher_path(teacher) if teacher else None
    if init is not None:
        _check_init(init)
    if teacher_path and soft_labels == 0:
        soft_labels = 0.5
    cfg = train_config(model, model_arg, input_size, equalize=equalize, loss=loss, batch_size=batch_size,
                       epochs=epochs, lr=lr, optimizer=optimizer, weight_decay=weight_decay, schedule=schedule,
                       warmup_epochs=warmup, label_smoothing=label_smoothing, soft_labels=soft_labels,
                       ferplus=ferplus, val_labels=val_labels, augment=augment, teacher=_teacher_id(teacher_path) if teacher_path else "",
                       init=_init_id(init) if init is not None else "",
                       precision=precision, seed=seed, device=device, checkpoint_every=checkpoint_every,
                       max_steps=max_steps)
    _warn_slow_bf16(cfg)
    spec = PreprocessSpec(input_size=cfg.input_size, equalize=equalize)
    train_ds = load_split(data, split, fmt)
    val_ds = None if (val_split or "none") == "none" else load_split(data, val_split, fmt)
    train_px, _ = decode_pixels(train_ds, spec)
    val_px, val_y = (None, None) if val_ds is None else (decode_pixels(val_ds, spec)[0], val_ds.labels)
    if val_ds is not None and cfg.val_labels == "ferplus":
        val_px, val_y = _ferplus_majority(val_ds, val_px, val_split)
    soft = train_ds.soft_labels
    if cfg.ferplus > 0 and not teacher_path:
        fail("--ferplus mixes FER+ votes with a teacher's probabilities: give --teacher too "
             "(without one, --soft-labels weighs the FER+ votes themselves)")
    if teacher_path:
        soft = _teacher_targets(teacher_path, train_ds, out, resume=resume)
        if cfg.ferplus > 0:
            soft = _mix_ferplus(soft, train_ds, cfg.ferplus, data)
    try:
        result = fit(cfg, train_px, train_ds.labels, val_pixels=val_px, val_labels=val_y,
                     soft_targets=soft, out_dir=out, resume=resume, progress=True,
                     trained_on={"data": str(data.resolve()), "split": split, "n": len(train_ds),
                                 "val_split": val_split},
                     init_path=init)
    except (FileNotFoundError, ValueError, FloatingPointError) as exc:
        fail(str(exc))
    if not lead_process():
        return
    if as_json:
        print_json(result)
    else:
        best = result["best_val_accuracy"]
        typer.echo((f"best validation accuracy {best:.4f}; " if best >= 0 else "no validation split; ")
                   + f"model saved to {result['best']}")


def _ferplus_majority(val_ds, val_px, val_split):
    """Validation pixels and FER+ majority labels, for the images that have one."""
    import numpy as np
    if val_ds.soft_labels is None:
        fail(f"--val-labels ferplus: split {val_split!r} has no FER+ votes (ferplus.csv not found beside the data)")
    keep = ~np.isnan(val_ds.soft_labels[:, 0])
    return val_px[keep], np.nan_to_num(val_ds.soft_labels[keep]).argmax(1)


def _mix_ferplus(teacher_probs, train_ds, share: float, data: Path):
    """``share`` of FER+'s vote distribution and the rest the teacher's probabilities, per image;
    the teacher's alone where an image has no FER+ vote among the seven classes."""
    import numpy as np
    if train_ds.soft_labels is None:
        fail(f"--ferplus: {data} has no FER+ votes (ferplus.csv or fer2013new.csv beside the data)")
    votes = train_ds.soft_labels
    has = ~np.isnan(votes[:, 0])
    mixed = teacher_probs.astype(np.float32).copy()
    mixed[has] = share * votes[has] + (1 - share) * teacher_probs[has]
    return mixed


def _teacher_path(teacher: str) -> Path:
    """The teacher's model file, or a clean exit naming the problem."""
    from edgefer.recognize import resolve_model
    try:
        return resolve_model(teacher)
    except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
        fail(f"--teacher: {exc}")


def _warn_slow_bf16(cfg) -> None:
    """bf16 autocast on a CPU without native bf16 is emulated: say so before hours go by."""
    from edgefer.cpu import native_bf16
    if cfg.precision == "bf16" and cfg.device == "cpu" and not native_bf16():
        typer.echo("warning: --precision bf16 on a CPU without AVX-512 BF16 or AMX is emulated "
                   "(13-14x slower than fp32 on an AVX2-only EPYC); --precision fp32 is faster here",
                   err=True)


def _check_init(path: Path) -> None:
    """A clean exit unless ``path`` is a model file whose preprocessing can be read."""
    from edgefer.train.init import init_preprocess
    try:
        init_preprocess(path)
    except (FileNotFoundError, ValueError) as exc:
        fail(f"--init: {exc}")


def _init_id(path: Path) -> str:
    from edgefer.train.init import init_id
    return init_id(path)


def _teacher_id(path: Path) -> str:
    """What the run records of its teacher: the model file and the start of a SHA-256 of its bytes
    and, for an ensemble manifest (which only names its members), of its members' bytes in order.

    A resume is refused when this differs from the saved run's, so it pins the teacher's weights.
    """
    import hashlib

    from edgefer.classifiers import read_manifest

    digest = hashlib.sha256(path.read_bytes())
    if path.suffix.lower() == ".json":
        try:
            members = read_manifest(path)["members"]
        except ValueError as exc:
            fail(f"--teacher: {exc}")
        for member in members:
            digest.update(member.read_bytes())
    return f"{path.name} sha256:{digest.hexdigest()[:16]}"


def _teacher_targets(path: Path, train_ds, out: Path, *, resume: bool):
    """The teacher's class probabilities (N, 7) for the training images, in its own preprocessing.

    Kept in ``out/teacher_targets.npy``: a resumed run reuses them (before training, ``fit``
    refuses a resume whose teacher hash differs from the saved run's); a new or overwriting run
    computes them afresh.
    """
    import numpy as np

    from edgefer.classifiers import load_classifier
    from edgefer.data.pixels import dataset_pixels
    from edgefer.errors import DataError
    from edgefer.train.checkpoint import atomic_write_bytes

    cache = out / "teacher_targets.npy"
    if resume and cache.is_file():
        probs = np.load(cache)
        if probs.shape == (len(train_ds), 7):
            return probs
    try:
        clf = load_classifier(path)
        pixels, _ = dataset_pixels(train_ds, clf.spec, progress=lead_process())
    except (ValueError, DataError) as exc:
        fail(f"--teacher: {exc}")
    typer.echo(f"teacher {path.name}: classifying {len(pixels):,} training images", err=True)
    probs = clf.probabilities(pixels).astype(np.float32)  # the classifier batches internally
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cache, lambda f: np.save(f, probs))
    return probs
