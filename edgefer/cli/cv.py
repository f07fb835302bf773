"""``edgefer cv``: the paper's k-fold cross-validation over all images of a data set."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli import _options as opt
from edgefer.cli._common import fail, print_json
from edgefer.cli._options import check_out_dir, decode_pixels, lead_process, train_config
from edgefer.cli.main import app


@app.command()
def cv(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="Data set; every split is pooled (FER-2013: 35,738 images)."),
    folds: int = typer.Option(3, "--folds", help="Number of folds (the paper: 3)."),
    arch: str = typer.Option("edgecnn48", "--arch", help="Registered architecture to build (see `edgefer models`)."),
    model_alias: Optional[str] = opt.ARCH_ALIAS,
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
    augment: str = opt.AUGMENT,
    precision: str = opt.PRECISION,
    model_arg: Optional[list[str]] = opt.MODEL_ARG,
    seed: int = opt.SEED,
    device: str = opt.DEVICE,
    max_steps: int = typer.Option(0, "--max-steps", help="Stop each fold after N iterations."),
    out: Path = typer.Option(Path("runs/cv"), "--out", help="Folder for each fold's run and cv.json."),
    resume: bool = typer.Option(False, "--resume", help="Reuse finished folds and resume the interrupted one."),
    overwrite: bool = opt.OVERWRITE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Stratified k-fold cross-validation (identical twins kept in one fold); mean and std accuracy.

    Every split of the data set is pooled; a data set with a single split is used whole.
    """
    from edgefer.data.load import concat, load_splits
    from edgefer.errors import DataError
    from edgefer.evaluate.cv import cross_validate
    from edgefer.preprocess.spec import PreprocessSpec
    from edgefer.results import provenance, write_json

    model = opt.arch_or_alias(ctx, model_alias, arch)
    check_out_dir(out, resume=resume, overwrite=overwrite)
    cfg = train_config(model, model_arg, input_size, equalize=equalize, loss=loss, batch_size=batch_size,
                       epochs=epochs, lr=lr, optimizer=optimizer, weight_decay=weight_decay, schedule=schedule,
                       warmup_epochs=warmup, label_smoothing=label_smoothing, augment=augment,
                       precision=precision, seed=seed, device=device, max_steps=max_steps)
    try:
        ds = concat(list(load_splits(data, fmt).values()))
    except (FileNotFoundError, DataError, ValueError) as exc:
        fail(str(exc))
    pixels, _ = decode_pixels(ds, PreprocessSpec(input_size=cfg.input_size, equalize=cfg.equalize))
    res = cross_validate(cfg, ds, pixels, k=folds, out_dir=out, resume=resume, progress=True)
    if not lead_process():  # torchrun's other ranks: rank 0 writes and reports
        return
    res["provenance"] = provenance(data=str(data), config=cfg.to_dict())
    write_json(out / "cv.json", res)
    if as_json:
        print_json(res)
    else:
        typer.echo(f"{folds}-fold CV of {model} on {res['n']} images: accuracy "
                   f"{res['accuracy_mean']:.4f} ± {res['accuracy_std']:.4f} (written to {out / 'cv.json'})")
