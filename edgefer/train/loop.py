"""``fit``: one readable training loop (train, validate, checkpoint, keep the best).

Reproducibility: every random draw of an epoch (shuffling, augmentation) comes from a generator
seeded by ``(seed, epoch)``, and dropout from torch's global generator, whose state is saved
with each checkpoint; so a run resumed from any checkpoint ends with the same weights as an
uninterrupted one (same machine, same thread count).
"""
from __future__ import annotations

import atexit
import csv
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edgefer.checkpoint import load_checkpoint, save_checkpoint
from edgefer.evaluate.metrics import classification_report
from edgefer.io import atomic_write_text
from edgefer.labels import NUM_CLASSES
from edgefer.models import create_model
from edgefer.preprocess.spec import PreprocessSpec
from edgefer.train.augment import augment_batch
from edgefer.train.config import TrainConfig

log = logging.getLogger(__name__)


def _drop_rows_after(path: Path, step: int) -> None:
    """Keep ``iterations.csv``'s rows up to ``step``, the resumed checkpoint's iteration.

    A killed run logged the iterations after its last checkpoint, which the resume trains again;
    without this the log would hold those iterations twice (and maybe a half-written last line).
    """
    if not path.exists():
        return
    with open(path, newline="") as f:  # the lines as written, csv.writer's line ends kept
        lines = f.readlines()
    width = len(lines[0].split(",")) if lines else 0

    def logged_step(line: str) -> int | None:  # None for a half-written or malformed line
        fields = line.rstrip("\r\n").split(",")
        ok = line.endswith("\n") and len(fields) == width and fields[1].isdigit()
        return int(fields[1]) if ok else None

    keep = [ln for ln in lines[1:] if (s := logged_step(ln)) is not None and s <= step]
    if len(keep) < len(lines) - 1:
        log.info("%s: dropping %d row(s) logged after the checkpoint at iteration %d",
                 path, len(lines) - 1 - len(keep), step)
        atomic_write_text(path, "".join(lines[:1] + keep))


def rank_and_world():
    """(rank, world_size) under torchrun, initializing the process group once."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        atexit.register(_close_dist)
    return dist.get_rank(), world


def _close_dist() -> None:
    """Leave the process group while the interpreter still runs, not in the backend's destructors."""
    import torch.distributed as dist
    if dist.is_initialized():
        dist.destroy_process_group()


def _lr_at(cfg: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    warm = cfg.warmup_epochs * steps_per_epoch
    if warm and step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    t = (step - warm) / max(1, total - warm)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


class _Objective(torch.nn.Module):
    """``(x, target) -> (loss, logits)`` for any model: its own ``training_loss`` where it has one
    (detector, FRR-CNN's diversity term), else ``loss(model(x), target)``.

    Under torchrun this module, not the model, is wrapped in DistributedDataParallel, so that
    every model's backward pass, ``training_loss`` included, goes through DDP's gradient
    synchronisation (calling ``model.training_loss`` directly bypassed it).
    """

    def __init__(self, model: torch.nn.Module, loss) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, x: torch.Tensor, target: torch.Tensor):
        if hasattr(self.model, "training_loss"):
            return self.model.training_loss(x, target, self.loss)
        logits = self.model(x)
        return self.loss(logits, target), logits


def _loss(cfg: TrainConfig, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``target`` is a (B, 7) distribution."""
    logits = logits.float()
    if cfg.loss == "mse":
        return F.mse_loss(logits.softmax(1), target)
    if cfg.label_smoothing:
        target = target * (1 - cfg.label_smoothing) + cfg.label_smoothing / NUM_CLASSES
    return -(target * logits.log_softmax(1)).sum(1).mean()


@torch.no_grad()
def predict_logits(model, x: torch.Tensor, *, batch_size: int = 256, precision: str = "fp32",
                   device: str = "cpu") -> torch.Tensor:
    """Logits (N, 7) for normalized inputs (N, 1, S, S), batched, in eval mode."""
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16,
                            enabled=precision == "bf16"):
            outs.append(model(xb).float().cpu())
    return torch.cat(outs) if outs else torch.zeros(0, NUM_CLASSES)


def fit(cfg: TrainConfig, train_pixels: np.ndarray, train_labels: np.ndarray, *,
        val_pixels: np.ndarray | None = None, val_labels: np.ndarray | None = None,
        soft_targets: np.ndarray | None = None, out_dir: str | os.PathLike = "runs/train",
        resume: bool = False, progress: bool = False, trained_on: dict | None = None,
        init_path: str | os.PathLike | None = None) -> dict:
    """Train ``cfg.model`` on uint8 model pixels (N, S, S); return the run's summary.

    ``init_path``: start a new run from that model file's weights and preprocessing
    (:mod:`edgefer.train.init`); ``cfg.init`` records it. A resume ignores it.

    Writes to ``out_dir``: ``last.pt`` (everything to resume), ``best.pt`` (the best model by
    validation accuracy, ready for ``edgefer predict``), ``iterations.csv`` (loss and accuracy
    per iteration), ``history.json`` (per-epoch metrics) and ``config.json``.
    """
    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rank, world = rank_and_world()
    device = torch.device(cfg.device)
    n = len(train_labels)
    if n == 0:
        raise ValueError("no training images")
    size = train_pixels.shape[-1]
    x_all = torch.as_tensor(train_pixels)
    y_all = torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    onehot = F.one_hot(y_all, NUM_CLASSES).float()
    if soft_targets is not None and cfg.soft_labels > 0:
        soft = torch.as_tensor(soft_targets, dtype=torch.float32)
        ok = ~torch.isnan(soft).any(1)
        onehot[ok] = (1 - cfg.soft_labels) * onehot[ok] + cfg.soft_labels * soft[ok]

    last_path, best_path = out / "last.pt", out / "best.pt"
    state = None
    if resume:
        if not last_path.exists():
            raise FileNotFoundError(f"{last_path}: nothing to resume from")
        state = load_checkpoint(last_path)
        saved = TrainConfig.from_dict(state["train_state"]["config"])
        free = {"epochs": cfg.epochs, "max_steps": cfg.max_steps}
        if saved.to_dict() | free != cfg.to_dict():
            raise ValueError(f"{last_path}: was trained with a different configuration; "
                             f"resume with the same options (only --epochs may change)")
        spec = PreprocessSpec.from_dict(state["preprocess"])
    elif init_path is not None:
        from edgefer.train.init import init_preprocess
        spec = PreprocessSpec.from_dict(init_preprocess(Path(init_path)))
        if (spec.input_size, spec.equalize) != (size, cfg.equalize):
            raise ValueError(f"{init_path}: its model takes {spec.input_size}x{spec.input_size} inputs, "
                             f"equalize={spec.equalize}; this run has {size}x{size}, equalize={cfg.equalize}")
    else:
        px = x_all.float() / 255.0
        spec = PreprocessSpec(input_size=size, equalize=cfg.equalize,
                              mean=round(float(px.mean()), 4), std=round(float(px.std()), 4))

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, input_size=size, **cfg.model_kwargs)
    if state is None and init_path is not None:
        from edgefer.train.init import load_init, recalibrate
        if load_init(model, Path(init_path)):
            # batch-norm statistics on up to 4,096 training images, in a seeded order
            pick = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))[:4096]
            recalibrate(model, spec.to_tensor(x_all[pick]))
    model = model.to(device)
    # channels_last roughly doubles CPU convolution throughput under bf16 autocast.
    fmt = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    model_kwargs = {"input_size": size, **cfg.model_kwargs}
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay, nesterov=cfg.momentum > 0)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    history, best_acc, start_epoch, start_step, seconds_before = [], -1.0, 0, 0, 0.0
    if state is not None:
        ts = state["train_state"]
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(ts["optimizer"])
        history, best_acc = ts["history"], ts["best_acc"]
        # training time before this resume (older checkpoints: up to their last finished epoch)
        seconds_before = ts.get("seconds", history[-1]["seconds"] if history else 0.0)
        start_epoch, start_step = ts["epoch"], ts["step_in_epoch"]
        torch.set_rng_state(ts["torch_rng"])
        log.info("resuming %s at epoch %d, step %d", last_path, start_epoch, start_step)
    objective = _Objective(model, lambda z, t: _loss(cfg, z, t))
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        # the detector's loss leaves parameters without a gradient in some steps (no foreground RoI)
        objective = DistributedDataParallel(objective, find_unused_parameters=hasattr(model, "training_loss"))

    steps_per_epoch = max(1, n // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs  # the schedule's length; max_steps only stops early
    stop_at = min(total, cfg.max_steps) if cfg.max_steps else total
    x_val = spec.to_tensor(val_pixels) if val_pixels is not None and len(val_pixels) else None
    iter_log = out / "iterations.csv"
    if rank == 0:
        atomic_write_text(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
        if not resume or not iter_log.exists():
            iter_log.write_text("epoch,iteration,loss,accuracy,lr\n")
    local_bs = cfg.batch_size // world

    def save_last(epoch: int, step_in_epoch: int, gen_state) -> None:
        if rank != 0:
            return
        save_checkpoint(last_path, model_name=cfg.model, model_kwargs=model_kwargs,
                        state_dict=model.state_dict(), preprocess=spec.to_dict(),
                        train_state={"config": cfg.to_dict(), "optimizer": opt.state_dict(),
                                     "epoch": epoch, "step_in_epoch": step_in_epoch,
                                     "generator": gen_state, "torch_rng": torch.get_rng_state(),
                                     "history": history, "best_acc": best_acc,
                                     "seconds": elapsed()})

    def elapsed() -> float:  # seconds of training in this run, across resumes
        return round(seconds_before + time.time() - t_start, 1)

    global_step = start_epoch * steps_per_epoch + start_step
    if resume and rank == 0:
        _drop_rows_after(iter_log, global_step)
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm
        bar = tqdm(total=stop_at, initial=global_step, unit="it", desc=cfg.model, dynamic_ncols=True)
    t_start = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        if global_step >= stop_at:
            break
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        perm = torch.randperm(n, generator=g)
        first = start_step if epoch == start_epoch else 0
        if first:
            g.set_state(state["train_state"]["generator"])
        objective.train()
        done_steps = first
        with open(iter_log, "a", newline="") if rank == 0 else open(os.devnull, "w") as flog:
            wlog = csv.writer(flog)
            for step in range(first, steps_per_epoch):
                if global_step >= stop_at:
                    break
                idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                idx = idx[rank * local_bs:(rank + 1) * local_bs]
                xb = spec.to_tensor(x_all[idx])
                xb = augment_batch(xb, cfg.augment, g).to(device).contiguous(memory_format=fmt)
                tb = onehot[idx].to(device)
                lr = _lr_at(cfg, global_step, total, steps_per_epoch)
                for group in opt.param_groups:
                    group["lr"] = lr
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                    enabled=cfg.precision == "bf16"):
                    # the classification term follows cfg.loss, also inside a model's own objective
                    loss, logits = objective(xb, tb)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"training diverged at iteration {global_step + 1} (loss {loss.item()}); "
                        f"lower --lr (now {cfg.lr}) or check the model's fusion weight")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                global_step += 1
                done_steps = step + 1
                acc = (logits.argmax(1) == y_all[idx].to(device)).float().mean().item()
                wlog.writerow([epoch, global_step, f"{loss.item():.5f}", f"{acc:.4f}", f"{lr:.6g}"])
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
                if cfg.checkpoint_every and global_step % cfg.checkpoint_every == 0 \
                        and step + 1 < steps_per_epoch:
                    flog.flush()
                    save_last(epoch, step + 1, g.get_state())
        if done_steps < steps_per_epoch:  # stopped by max_steps inside the epoch
            save_last(epoch, done_steps, g.get_state())
            break
        record = {"epoch": epoch + 1, "iteration": global_step,
                  "seconds": elapsed()}
        if x_val is not None and rank == 0:
            pred = predict_logits(model, x_val, precision=cfg.precision,
                                  device=str(device)).argmax(1).numpy()
            rep = classification_report(val_labels, pred)
            record.update(val_accuracy=rep["accuracy"], val_macro_f1=rep["macro_f1"])
            if rep["accuracy"] > best_acc:
                best_acc = rep["accuracy"]
                save_checkpoint(best_path, model_name=cfg.model, model_kwargs=model_kwargs,
                                state_dict=model.state_dict(), preprocess=spec.to_dict(),
                                trained_on=trained_on or {}, config=cfg.to_dict(),
                                scores={"val_accuracy": rep["accuracy"], "val_macro_f1": rep["macro_f1"],
                                        "epoch": epoch + 1})
            log.info("epoch %d: val accuracy %.4f", epoch + 1, rep["accuracy"])
        history.append(record)
        save_last(epoch + 1, 0, None)
        if rank == 0:
            atomic_write_text(out / "history.json", json.dumps(history, indent=1))
    if bar is not None:
        bar.close()
    if x_val is None and rank == 0:
        save_checkpoint(best_path, model_name=cfg.model, model_kwargs=model_kwargs,
                        state_dict=model.state_dict(), preprocess=spec.to_dict(),
                        trained_on=trained_on or {}, config=cfg.to_dict(), scores={})
    if world > 1:  # every rank returns once rank 0's files are written, none exits mid-save
        import torch.distributed as dist
        dist.barrier()
    return {"out_dir": str(out), "history": history, "best_val_accuracy": best_acc,
            "iterations": global_step, "last": str(last_path), "best": str(best_path)}
