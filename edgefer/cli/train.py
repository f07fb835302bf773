"""``edgefer train``: train a registered architecture on a data set, optionally from a recipe file."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgefer.cli import _options as opt
from edgefer.cli._common import fail, print_json
from edgefer.cli._options import check_out_dir, clear_out_dir, decode_pixels, lead_process, train_config
from edgefer.cli.main import app

SINGLE_SPLIT_NOTE = ("A data set with a single split (a folder of class subfolders) is used whole: "
                     "without --val-split, 1 image in 10 is held out for validation by a fixed rule "
                     "(a hash of its class folder and file name; the same every run).")


@app.command(help="Train ARCH on a data set; writes best.pt, last.pt, iterations.csv and history.json "
                  "to --out.\n\n" + SINGLE_SPLIT_NOTE + "\n\nWith --recipe FILE (e.g. "
                  "recipes/fernet-kd2.toml) the file's options are used, and options given on the "
                  "command line override them; --arg items are added to the file's args table.")
def train(
    ctx: typer.Context,
    data: Optional[Path] = typer.Option(None, "--data", help="FER-2013 folder or CSV, LFW folder, or a folder of class subfolders (required, here or in the recipe)."),
    arch: str = typer.Option("edgecnn48", "--arch", help="Registered architecture to build (see `edgefer models`)."),
    model_alias: Optional[str] = opt.ARCH_ALIAS,
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="A recipe file (TOML) with this command's options; the command line overrides it."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to train on (default: train, or the whole set when it has a single split)."),
    val_split: Optional[str] = typer.Option(None, "--val-split", help="Split validated each epoch ('none' to skip; default: publictest, or a held-out tenth of a single-split set)."),
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
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Distil: a role (default, fast, small), a shipped model's name or a model file whose probabilities on the training images are the soft targets (weight --soft-labels, default 0.5 with a teacher)."),
    ferplus: float = typer.Option(0.0, "--ferplus", help="With --teacher: share of FER+ crowd votes in the soft targets, the rest the teacher's probabilities (the teacher's alone for images without a FER+ vote; needs ferplus.csv beside the data)."),
    val_labels: str = typer.Option("dataset", "--val-labels", help="Labels that choose the best epoch on the validation split: dataset (its own) or ferplus (FER+ crowd majority; images without one left out)."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from this model's weights and preprocessing instead of random ones: an edgefer checkpoint (.pt), a model `edgefer export` wrote (.onnx, float or int8; batch norms are rebuilt and re-estimated on training images), or a shipped model's name. Same --arch and --arg as the file's."),
    augment: str = opt.AUGMENT,
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 (autocast), or auto: a resumed run's, else bf16 where the CPU runs it natively and fp32 elsewhere."),
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
    from edgefer.errors import DataError
    from edgefer.preprocess.spec import PreprocessSpec
    from edgefer.train.distill import teacher_targets
    from edgefer.train.loop import fit

    params = resolve_params(ctx)
    out = params["out"]
    check_out_dir(out, resume=params["resume"], overwrite=params["overwrite"])
    run = plan_run(params)
    cfg = run["config"]
    _warn_slow_bf16(cfg)
    spec = PreprocessSpec(input_size=cfg.input_size, equalize=cfg.equalize)
    train_ds, val_ds, trained_on = _train_and_val(run)
    train_px, _ = decode_pixels(train_ds, spec)
    val_px, val_y = (None, None) if val_ds is None else (decode_pixels(val_ds, spec)[0], val_ds.labels)
    if val_ds is not None and cfg.val_labels == "ferplus":
        val_px, val_y = _ferplus_majority(val_ds, val_px, trained_on["val_split"])
    soft = train_ds.soft_labels
    if params["overwrite"] and not params["resume"] and lead_process():
        clear_out_dir(out)  # the data are read and the options checked: the old run goes now
    if run["teacher"] is not None:
        if lead_process():
            typer.echo(f"teacher {run['teacher'].name}: classifying {len(train_ds):,} training images", err=True)
        try:
            soft = teacher_targets(run["teacher"], train_ds, out, resume=params["resume"], progress=lead_process())
        except (ValueError, DataError) as exc:
            fail(f"--teacher: {exc}")
        if cfg.ferplus > 0:
            soft = _mix_ferplus(soft, train_ds, cfg.ferplus, run["data"])
    try:
        result = fit(cfg, train_px, train_ds.labels, val_pixels=val_px, val_labels=val_y,
                     soft_targets=soft, out_dir=out, resume=params["resume"], progress=True,
                     trained_on=trained_on, init_path=run["init"])
    except (FileNotFoundError, ValueError, FloatingPointError) as exc:
        fail(str(exc))
    if not lead_process():
        return
    if params["as_json"]:
        print_json(result)
    else:
        best = result["best_val_accuracy"]
        typer.echo((f"best validation accuracy {best:.4f}; " if best >= 0 else "no validation split; ")
                   + f"model saved to {result['best']}")


def _option_key(param) -> str | None:
    """A click parameter's long option name as a recipe key: ``--batch-size`` -> ``batch_size``."""
    long = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    return long[0][2:].replace("-", "_") if long else None


def resolve_params(ctx: typer.Context) -> dict:
    """The command's parameters, with ``--recipe``'s options where the command line gave none,
    ``--arg`` items added to the recipe's ``[args]``, and the old ``--model`` read as ``--arch``.

    Only the parsing: nothing is checked, loaded or written (``plan_run`` does the checks).
    """
    from edgefer.train.recipe import args_items, read_recipe

    params = dict(ctx.params)
    recipe_path = params.pop("recipe", None)
    if recipe_path is not None:
        try:
            recipe = read_recipe(recipe_path)
        except (FileNotFoundError, ValueError) as exc:
            fail(f"--recipe: {exc}")
        by_key = {_option_key(p): p for p in ctx.command.params}
        for key, value in recipe.items():
            if key == "args":
                params["model_arg"] = args_items(value) + list(params.get("model_arg") or [])
                continue
            param = by_key[key]
            # typer carries its own copy of click: compare the source by name, not by enum class
            if ctx.get_parameter_source(param.name).name in ("DEFAULT", "DEFAULT_MAP"):
                params[param.name] = Path(value) if key in ("data", "out") else value
    params["arch"] = opt.arch_or_alias(ctx, params.pop("model_alias", None), params["arch"])
    params["recipe"] = recipe_path
    return params


def plan_run(params: dict) -> dict:
    """What a run will do, checked before any data is read: ``config`` (a validated
    :class:`~edgefer.train.config.TrainConfig`), ``teacher`` and ``init`` (model files or None),
    and the data options. A bad value is a clean exit naming the option."""
    from edgefer.cpu import run_precision

    if params.get("data") is None:
        fail("--data: give the data set to train on (on the command line or as `data` in the recipe)")
    if params["ferplus"] > 0 and not params.get("teacher"):
        fail("--ferplus mixes FER+ votes with a teacher's probabilities: give --teacher too "
             "(without one, --soft-labels weighs the FER+ votes themselves)")
    teacher_path = _teacher_path(params["teacher"]) if params.get("teacher") else None
    init_path = _init_path(params["init"]) if params.get("init") else None
    soft_labels = params["soft_labels"]
    if teacher_path and soft_labels == 0:
        soft_labels = 0.5
    precision = params["precision"]
    if precision == "auto":
        precision = run_precision(str(params["out"]))
    cfg = train_config(params["arch"], params["model_arg"], params["input_size"], equalize=params["equalize"],
                       loss=params["loss"], batch_size=params["batch_size"], epochs=params["epochs"],
                       lr=params["lr"], optimizer=params["optimizer"], weight_decay=params["weight_decay"],
                       schedule=params["schedule"], warmup_epochs=params["warmup"],
                       label_smoothing=params["label_smoothing"], soft_labels=soft_labels,
                       ferplus=params["ferplus"], val_labels=params["val_labels"],
                       augment=params["augment"], teacher=_teacher_id(teacher_path) if teacher_path else "",
                       init=_init_id(init_path) if init_path is not None else "",
                       precision=precision, seed=params["seed"], device=params["device"],
                       checkpoint_every=params["checkpoint_every"], max_steps=params["max_steps"])
    return {"config": cfg, "teacher": teacher_path, "init": init_path, "data": params["data"],
            "split": params["split"], "val_split": params["val_split"], "format": params["fmt"],
            "out": params["out"]}


def _train_and_val(run: dict):
    """``(train, validation or None, trained_on)`` for a planned run, or a clean exit."""
    from edgefer.data.load import holdout, load_splits, select_split
    from edgefer.errors import DataError

    data, split, val_split, fmt = run["data"], run["split"], run["val_split"], run["format"]
    try:
        if split is not None and val_split is not None:  # both named: read only those
            wanted = [split] + ([] if val_split == "none" else [val_split])
            splits = {name: ds for w in dict.fromkeys(wanted)
                      for name, ds in load_splits(data, fmt, split=w).items()}
        else:
            splits = load_splits(data, fmt)
        name, train_ds = select_split(splits, split, "train", path=data)
        if val_split == "none":
            val_name, val_ds = None, None
        elif val_split is not None:
            val_name, val_ds = select_split(splits, val_split, path=data)
        elif "publictest" in splits and name != "publictest":
            val_name, val_ds = "publictest", splits["publictest"]
        elif len(splits) == 1:
            train_ds, val_ds = holdout(train_ds)
            val_name = f"{name}: 1 in 10 held out (hash of class folder and file name)"
            if len(val_ds) == 0 or len(train_ds) == 0:
                fail(f"{data}: too few images ({len(train_ds) + len(val_ds)}) to hold out a validation "
                     f"part; pass --val-split none")
            if lead_process():
                typer.echo(f"{data}: a single split; training on {len(train_ds):,} images and validating "
                           f"on {len(val_ds):,} held out by a fixed rule (--val-split none to skip)", err=True)
        else:
            fail(f"--val-split: {data} has the splits {', '.join(splits)} and no publictest; name the "
                 f"one to validate on, or none")
    except (FileNotFoundError, DataError, ValueError) as exc:
        fail(str(exc))
    trained_on = {"data": str(Path(data).resolve()), "split": name, "n": len(train_ds), "val_split": val_name}
    return train_ds, val_ds, trained_on


def _ferplus_majority(val_ds, val_px, val_split):
    """Validation pixels and FER+ majority labels, for the images that have one."""
    import numpy as np
    if val_ds.soft_labels is None:
        fail(f"--val-labels ferplus: split {val_split!r} has no FER+ votes (ferplus.csv not found beside the data)")
    keep = ~np.isnan(val_ds.soft_labels[:, 0])
    return val_px[keep], np.nan_to_num(val_ds.soft_labels[keep]).argmax(1)


def _mix_ferplus(teacher_probs, train_ds, share: float, data: Path):
    """:func:`edgefer.train.distill.mix_ferplus` with the training set's FER+ votes, or a clean exit
    when it has none."""
    from edgefer.train.distill import mix_ferplus
    if train_ds.soft_labels is None:
        fail(f"--ferplus: {data} has no FER+ votes (ferplus.csv or fer2013new.csv beside the data)")
    return mix_ferplus(teacher_probs, train_ds.soft_labels, share)


def _teacher_path(teacher: str) -> Path:
    """The teacher's model file, or a clean exit naming the problem."""
    from edgefer.train.distill import teacher_path
    try:
        return teacher_path(teacher)
    except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
        fail(f"--teacher: {exc}")


def _init_path(init: str) -> Path:
    """``--init``'s model file (a path, or a shipped model's name), its preprocessing readable;
    or a clean exit naming the problem."""
    from edgefer.recognize import resolve_model
    from edgefer.train.init import init_preprocess

    path = Path(init)
    if not path.exists() and not path.suffix:
        try:
            path = resolve_model(init)
        except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
            fail(f"--init: {exc}")
    try:
        init_preprocess(path)
    except (FileNotFoundError, ValueError) as exc:
        fail(f"--init: {exc}")
    return path


def _warn_slow_bf16(cfg) -> None:
    """bf16 autocast on a CPU without native bf16 is emulated: say so before hours go by."""
    from edgefer.cpu import native_bf16
    if cfg.precision == "bf16" and cfg.device == "cpu" and not native_bf16():
        typer.echo("warning: --precision bf16 on a CPU without AVX-512 BF16 or AMX is emulated "
                   "(13-14x slower than fp32 on an AVX2-only EPYC); --precision fp32 is faster here",
                   err=True)


def _init_id(path: Path) -> str:
    from edgefer.train.init import init_id
    return init_id(path)


def _teacher_id(path: Path) -> str:
    """:func:`edgefer.train.distill.teacher_id`, or a clean exit naming the problem."""
    from edgefer.train.distill import teacher_id
    try:
        return teacher_id(path)
    except ValueError as exc:
        fail(f"--teacher: {exc}")
