"""Training recipes: the options of one ``edgefer train`` run, kept in a TOML file.

``edgefer train --recipe recipes/fernet-kd2.toml --data DATA`` trains with the file's options;
an option given on the command line overrides the file's, and ``--arg`` items are added to the
file's ``[args]`` table (a key given on both: the command line's). A recipe is plain data::

    # fernet-kd2: plain FERNet distilled from the default model
    arch = "fernet"
    epochs = 40
    batch_size = 128
    lr = 0.1
    precision = "auto"        # bf16 where the CPU runs it natively, else fp32
    teacher = "default"       # a role, a shipped model's name or a model file
    soft_labels = 0.7

    [args]                    # the architecture's arguments (--arg KEY=VALUE)
    fusion = "none"
    widths = [64, 128, 256, 512]   # lists become tuples

Keys are ``edgefer train``'s long option names with ``_`` for ``-`` (see :data:`KEYS`). Paths
(``data``, ``out``, ``init``, ``teacher`` when a file) are read as given on a command line, that
is relative to the folder the command runs in.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

KEYS = {
    "arch": str, "data": str, "split": str, "val_split": str, "format": str, "input_size": int,
    "equalize": bool, "loss": str, "batch_size": int, "epochs": int, "lr": float,
    "optimizer": str, "weight_decay": float, "schedule": str, "warmup": float,
    "label_smoothing": float, "soft_labels": float, "teacher": str, "ferplus": float,
    "val_labels": str, "init": str, "augment": str,
    "precision": str, "seed": int, "device": str, "out": str, "checkpoint_every": int,
    "max_steps": int, "args": dict,
}
"""The keys a recipe may hold and the TOML type of each value (an int is also a float)."""


def read_recipe(path: str | os.PathLike) -> dict:
    """The options in a recipe file, checked: ``{key: value}`` with ``args`` as a dict whose list
    values are tuples.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Naming the file: not TOML, an unknown key, or a value of the wrong type.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise ValueError(f"{path}: is a folder; --recipe takes a .toml file")
        raise FileNotFoundError(f"{path}: no such recipe file")
    try:
        recipe = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: not a TOML recipe ({exc})") from None
    unknown = sorted(set(recipe) - set(KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; a recipe may hold "
                         f"{', '.join(sorted(KEYS))}")
    out = {}
    for key, value in recipe.items():
        want = KEYS[key]
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ValueError(f"{path}: `{key}` must be a {want.__name__}; got {value!r}")
        out[key] = value
    if "args" in out:
        out["args"] = {k: tuple(v) if isinstance(v, list) else v for k, v in out["args"].items()}
        bad = [k for k, v in out["args"].items() if isinstance(v, dict)]
        if bad:
            raise ValueError(f"{path}: [args] values must be numbers, strings, booleans or lists; "
                             f"{', '.join(bad)} is a table")
    return out


def args_items(args: dict) -> list[str]:
    """A recipe's ``[args]`` as ``--arg`` items (``KEY=VALUE``) that
    :func:`~edgefer.train.config.parse_model_args` reads back to the same values."""
    return [f"{k}={v!r}" for k, v in args.items()]
