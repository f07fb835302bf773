"""Training configuration: a frozen dataclass saved in every checkpoint."""
from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field


def parse_model_args(items: list[str] | None) -> dict:
    """``["fusion=none", "widths=(16,32)"]`` -> ``{"fusion": "none", "widths": (16, 32)}``.

    Values are Python literals where they parse as one, else strings; a later item wins.

    Raises
    ------
    ValueError
        An item that is not ``KEY=VALUE``.
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--arg must look like KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result (with the data and the seed).

    ``loss``: ``ce`` (cross-entropy, the default people expect) or ``mse`` (the paper's: mean
    square error between the softmax and one-hot targets). ``soft_labels``: weight of soft target
    distributions mixed into the targets (0 = the data set's labels only): FER+ crowd votes, or,
    when ``teacher`` names a model, that model's probabilities (knowledge distillation). ``precision``:
    ``bf16`` autocast (fast on CPUs with AVX-512 BF16 / AMX and on CUDA) or ``fp32``.
    ``ferplus``: with a ``teacher``, the share of FER+ crowd votes in the soft targets (the rest
    the teacher's probabilities; the teacher's alone for images without a FER+ vote).
    ``val_labels``: which labels choose the best epoch: ``dataset`` or ``ferplus`` (FER+'s
    majority among the seven classes; validation images without one are left out).
    ``init``: the file the weights started from (``--init``; empty: random initialization).
    ``checkpoint_every``: also checkpoint every N iterations inside an epoch (0 = epoch ends only).
    """

    model: str = "edgecnn48"
    model_kwargs: dict = field(default_factory=dict)
    input_size: int | None = None
    equalize: bool = True
    loss: str = "ce"
    batch_size: int = 48
    epochs: int = 50
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    soft_labels: float = 0.0
    teacher: str = ""
    ferplus: float = 0.0
    val_labels: str = "dataset"
    init: str = ""
    augment: str = "none"
    precision: str = "fp32"
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 0
    max_steps: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})

    def validate(self) -> None:
        checks = [
            (self.loss in ("ce", "mse"), f"`loss` must be 'ce' or 'mse'; got {self.loss!r}"),
            (self.optimizer in ("sgd", "adamw"), f"`optimizer` must be 'sgd' or 'adamw'; got {self.optimizer!r}"),
            (self.schedule in ("cosine", "constant"), f"`schedule` must be 'cosine' or 'constant'; got {self.schedule!r}"),
            (self.precision in ("fp32", "bf16"), f"`precision` must be 'fp32' or 'bf16'; got {self.precision!r}"),
            (self.batch_size > 0, f"`batch_size` must be positive; got {self.batch_size}"),
            (self.epochs > 0, f"`epochs` must be positive; got {self.epochs}"),
            (self.lr > 0, f"`lr` must be positive; got {self.lr}"),
            (0 <= self.soft_labels <= 1, f"`soft_labels` must be in [0, 1]; got {self.soft_labels}"),
            (0 <= self.ferplus <= 1, f"`ferplus` must be in [0, 1]; got {self.ferplus}"),
            (self.val_labels in ("dataset", "ferplus"), f"`val_labels` must be 'dataset' or 'ferplus'; got {self.val_labels!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
