"""Train FERNet students on a lent GPU machine (the `device` tool) and bring them back.

The device machine sees only the repository (64 MiB in all, data included), not
../shared/datasets, and brings back at most 8 files of 16 MiB. So the work is split in three:

1. Here: ``pack`` writes ``.gpu/fer2013.npz``: FER-2013 Training and PublicTest as lossless WebP
   (the raw 48x48 faces, 1.6 KB each, 53 MB in all), their labels, the teacher's probabilities on
   the training images (computed here, as ``edgefer train --teacher`` does) and the record of the
   run (data, teacher). ``slim`` moves the large tracked files the device does not need
   (candidate and shipped weights, the ensemble table) to ``.gpu-aside/`` so that the working tree
   and the pack fit; ``restore`` puts them back.
2. There: ``train`` decodes the pack through the model's own preprocessing, runs each ``--job``
   as its own process with ``edgefer.train.loop.fit`` on CUDA (the options of
   ``scripts/train_shipped.sh``: SGD + Nesterov, lr 0.1, batch 128, cosine, warm-up 1 epoch,
   label smoothing 0.1, soft-label weight 0.7, bf16), fits each job's epochs into ``--budget-s``
   (measured by a short probe run under the same load), and splits each ``best.pt`` into parts
   of at most 15 MiB under ``$OUT`` with ``summary.json``.
3. Here: ``unpack`` joins the parts (checked against their SHA-256) into ``runs/NAME/best.pt``
   with the run's ``history.json``; then ``edgefer export --int8``, ``evaluate`` and
   ``scripts/score_student.sh`` as for any student.

    .venv/bin/python scripts/gpu_kit.py pack --teacher default
    .venv/bin/python scripts/gpu_kit.py slim
    # device tool, run (carry [".gpu"], timeout_s 570):
    #   PYTHONUNBUFFERED=1 python3 scripts/gpu_kit.py train --out $OUT --budget-s 420 \
    #     --job "fernet-g1 seed=40 epochs=120 widths=(64,128,256,512)" --job "..."
    .venv/bin/python scripts/gpu_kit.py restore
    .venv/bin/python scripts/gpu_kit.py unpack /work/.device/...   # files_at of that run

A job is ``NAME key=value ...``: ``epochs``, ``seed``, ``augment``, ``lr``, ``batch`` and
``soft`` set the training options; any other key is a model argument (``--arg``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACK = ROOT / ".gpu" / "fer2013.npz"
ASIDE = ROOT / ".gpu-aside"
SLIM = ("candidates", "edgefer/weights", "results/ensemble-ablation.json")
"""Tracked paths the device does not need (the teacher's targets travel in the pack)."""
TREE_LIMIT = 64 * 2**20
PART_BYTES = 15 * 2**20
BACK_FILES, BACK_BYTES = 8, 64 * 2**20
"""What the device tool brings back from $OUT: at most 8 files of 16 MiB, 64 MiB in all."""
TRAIN_OPTIONS = {"epochs": 40, "seed": 0, "augment": "standard", "lr": 0.1, "batch": 128, "soft": 0.7}
"""Job options and their defaults: those of scripts/train_shipped.sh (soft with a teacher)."""


class KitError(Exception):
    """A problem with the kit's input, said in one line naming the file or job."""


# ---------------------------------------------------------------- pack (here)

def encode_webp(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lossless WebP of each uint8 image (N, H, W): (concatenated bytes, offsets (N + 1))."""
    import cv2
    blobs = []
    for img in pixels:
        ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 101])  # >100: lossless
        if not ok:
            raise KitError("OpenCV could not encode an image as WebP")
        blobs.append(buf.ravel())
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    return (np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)), offsets


def decode_webp(data: np.ndarray, offsets: np.ndarray, size: int) -> np.ndarray:
    """Inverse of :func:`encode_webp`: uint8 (N, size, size)."""
    import cv2
    out = np.empty((len(offsets) - 1, size, size), np.uint8)
    for i in range(len(out)):
        img = cv2.imdecode(data[offsets[i]:offsets[i + 1]], cv2.IMREAD_GRAYSCALE)
        if img is None or img.shape != (size, size):
            raise KitError(f"image {i} of the pack does not decode to {size}x{size}")
        out[i] = img
    return out


def pack(data: Path, teacher: str, out: Path) -> dict:
    """Write the pack for ``data`` (a FER-2013 folder) and ``teacher``; return its record."""
    from edgefer.data.load import load_dataset
    from edgefer.data.pixels import dataset_pixels
    from edgefer.errors import DataError
    from edgefer.io import atomic_write_bytes
    from edgefer.preprocess.spec import PreprocessSpec
    from edgefer.train.distill import teacher_id, teacher_path, teacher_targets

    raw = PreprocessSpec(input_size=48, equalize=False)  # the faces as stored; equalized there
    arrays, record = {}, {"data": str(data.resolve()), "input_size": 48}
    for split in ("train", "publictest"):
        try:
            ds = load_dataset(data, split=split)
        except (FileNotFoundError, DataError, ValueError) as exc:
            raise KitError(str(exc)) from None
        pixels, _ = dataset_pixels(ds, raw, progress=True)
        arrays[f"{split}_webp"], arrays[f"{split}_offsets"] = encode_webp(pixels)
        arrays[f"{split}_labels"] = np.asarray(ds.labels, np.int8)
        record[f"{split}_n"] = len(ds)
        if split == "train":
            train_ds = ds
    if teacher:
        try:
            path = teacher_path(teacher)
        except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
            raise KitError(f"--teacher: {exc}") from None
        with tempfile.TemporaryDirectory() as tmp:  # the teacher's targets land there, then go
            try:
                arrays["train_soft"] = teacher_targets(path, train_ds, Path(tmp), progress=True)
            except (ValueError, DataError) as exc:
                raise KitError(f"--teacher: {exc}") from None
        record["teacher"] = teacher_id(path)
    else:
        arrays["train_soft"] = np.asarray(train_ds.soft_labels if train_ds.soft_labels is not None
                                          else np.full((len(train_ds), 7), np.nan), np.float32)
        record["teacher"] = ""
    # WebP does not compress further
    atomic_write_bytes(out, lambda f: np.savez(f, record=np.array(json.dumps(record)), **arrays))
    record["bytes"] = out.stat().st_size
    return record


def load_pack(path: Path) -> tuple[dict, dict]:
    """(record, arrays) of a pack, or a :class:`KitError` naming the file."""
    if not path.is_file():
        raise KitError(f"{path}: no pack here; run `scripts/gpu_kit.py pack` first")
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        record = json.loads(str(arrays.pop("record")))
    except Exception as exc:  # zipfile, pickle refusal, JSON
        raise KitError(f"{path}: not a readable pack ({type(exc).__name__}: {exc})") from None
    need = {f"{s}_{k}" for s in ("train", "publictest") for k in ("webp", "offsets", "labels")}
    missing = sorted(need - set(arrays))
    if missing:
        raise KitError(f"{path}: not a pack of this kit (missing {', '.join(missing)})")
    return record, arrays


def tree_bytes() -> int:
    """Bytes of what the device tool sends: tracked files present and untracked, unignored ones."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    files = {ROOT / p for p in out.decode().split("\0") if p}
    return sum(f.stat().st_size for f in files if f.is_file())


def _move_all(src_root: Path, dst_root: Path, clash: str) -> list[str]:
    """Move each path of ``SLIM`` from under ``src_root`` to under ``dst_root``, never over one."""
    moved = []
    for rel in SLIM:
        src, dst = src_root / rel, dst_root / rel
        if not src.exists():
            continue
        if dst.exists():
            raise KitError(clash.format(dst=dst, src=src))
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), str(dst))
        moved.append(rel)
    return moved


def slim() -> list[str]:
    """Move the paths in ``SLIM`` to ``.gpu-aside/`` (ignored, so they do not travel)."""
    return _move_all(ROOT, ASIDE, "{dst}: already set aside; run `scripts/gpu_kit.py restore` first")


def restore() -> list[str]:
    """Put back what :func:`slim` set aside; refuses to overwrite anything."""
    back = _move_all(ASIDE, ROOT, "{dst}: exists, and {src} is set aside too; compare them and move one by hand")
    if ASIDE.exists() and not any(p.is_file() for p in ASIDE.rglob("*")):
        shutil.rmtree(ASIDE)
    return back


# ---------------------------------------------------------------- train (there)

def parse_job(text: str) -> tuple[str, dict, list[str]]:
    """``"NAME key=value ..."`` -> (name, training options, model arguments)."""
    words = shlex.split(text)
    if not words or "=" in words[0]:
        raise KitError(f"job {text!r}: must start with a name, then key=value items")
    name, opts, args = words[0], dict(TRAIN_OPTIONS), []
    if not all(c.isalnum() or c in "-_." for c in name):
        raise KitError(f"job {text!r}: the name may hold letters, digits, '-', '_' and '.' only")
    for item in words[1:]:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise KitError(f"job {name}: {item!r} is not key=value")
        if key in opts:
            try:
                opts[key] = type(TRAIN_OPTIONS[key])(value)
            except ValueError:
                raise KitError(f"job {name}: {key}={value!r} is not a {type(TRAIN_OPTIONS[key]).__name__}") from None
        else:
            args.append(item)
    return name, opts, args


def job_config(record: dict, opts: dict, args: list[str], device: str, epochs: int | None = None):
    """The TrainConfig of a job: scripts/train_shipped.sh's options with the job's."""
    import torch

    from edgefer.models import create_model
    from edgefer.train.config import TrainConfig, parse_model_args
    try:
        kwargs = {"fusion": "none", **parse_model_args(args)}  # parse_job made each item key=value
        with torch.device("meta"):  # shapes only: checks the model arguments
            create_model("fernet", **kwargs)
        cfg = TrainConfig(model="fernet", model_kwargs=kwargs, input_size=record["input_size"],
                          equalize=True, batch_size=opts["batch"], epochs=epochs or opts["epochs"], lr=opts["lr"],
                          weight_decay=5e-4, schedule="cosine", warmup_epochs=1, label_smoothing=0.1,
                          soft_labels=opts["soft"] if record.get("teacher") else 0.0, teacher=record.get("teacher", ""),
                          augment=opts["augment"], precision="bf16", seed=opts["seed"], device=device)
        cfg.validate()
    except (TypeError, ValueError) as exc:
        raise KitError(f"job options {opts} {args}: {exc}") from None
    return cfg


def train_one(pack_path: Path, job: str, out: Path, *, device: str, budget_s: float, probe_steps: int = 50) -> dict:
    """Run one job in this process; its epochs shrink to fit ``budget_s`` after a probe."""
    import torch
    from edgefer.preprocess.spec import PreprocessSpec
    from edgefer.train.loop import fit

    t_start = time.time()
    torch.backends.cudnn.benchmark = True
    name, opts, args = parse_job(job)
    record, arrays = load_pack(pack_path)
    spec = PreprocessSpec(input_size=record["input_size"], equalize=True)
    size = record["input_size"]
    px = {s: spec.crops(decode_webp(arrays[f"{s}_webp"], arrays[f"{s}_offsets"], size))
          for s in ("train", "publictest")}
    y_train, y_val = arrays["train_labels"].astype(np.int64), arrays["publictest_labels"].astype(np.int64)
    soft = arrays.get("train_soft")
    trained_on = {"data": record["data"], "split": "train", "n": len(y_train), "val_split": "publictest",
                  "trained_with": "scripts/gpu_kit.py"}
    steps_per_epoch = max(1, len(y_train) // opts["batch"])
    epochs = opts["epochs"]
    probe = {}
    if budget_s > 0:
        cfg = job_config(record, opts, args, device)
        t0 = time.time()
        fit(cfg.__class__(**{**cfg.to_dict(), "max_steps": probe_steps}), px["train"], y_train,
            soft_targets=soft, out_dir=out / f"{name}-probe", progress=False)
        per_step = (time.time() - t0) / probe_steps
        left = budget_s - (time.time() - t_start)
        fits = int(left / (per_step * steps_per_epoch * 1.1 + 1.0))  # +10 %, +1 s of validation an epoch
        if fits < 1:
            raise KitError(f"job {name}: {per_step * 1000:.0f} ms a step leaves no whole epoch in {budget_s:.0f} s")
        epochs = min(epochs, fits)
        probe = {"s_per_step": round(per_step, 4), "epochs_asked": opts["epochs"], "epochs_run": epochs}
        shutil.rmtree(out / f"{name}-probe", ignore_errors=True)
    cfg = job_config(record, opts, args, device, epochs=epochs)
    t0 = time.time()
    result = fit(cfg, px["train"], y_train, val_pixels=px["publictest"], val_labels=y_val, soft_targets=soft,
                 out_dir=out / name, progress=False, trained_on=trained_on)
    return {"name": name, "config": cfg.to_dict(), "probe": probe, "seconds": round(time.time() - t0, 1),
            "best_val_accuracy": result["best_val_accuracy"], "history": result["history"]}


def checkpoint_bytes(cfg) -> int:
    """About the size of a job's best.pt: float32 weights and buffers, plus 64 KiB."""
    import torch

    from edgefer.models import create_model
    with torch.device("meta"):
        model = create_model(cfg.model, input_size=cfg.input_size, **cfg.model_kwargs)
    n = sum(t.numel() for t in list(model.parameters()) + list(model.buffers()))
    return 4 * n + 65536


def split_file(path: Path, out: Path, name: str, part_bytes: int = PART_BYTES) -> list[dict]:
    """Cut ``path`` into ``out/NAME.pt.000``, ``.001``, ... of at most ``part_bytes`` each."""
    data = path.read_bytes()
    parts = []
    for i in range(0, max(1, len(data)), part_bytes):
        part = out / f"{name}.pt.{i // part_bytes:03d}"
        part.write_bytes(data[i:i + part_bytes])
        parts.append({"file": part.name, "bytes": part.stat().st_size})
    return parts


def train_all(pack_path: Path, jobs: list[str], out: Path, *, device: str, budget_s: float, work: Path) -> dict:
    """Run every job at once (one process each), then split their best.pt into ``out``."""
    parsed = [parse_job(j) for j in jobs]
    names = [name for name, _, _ in parsed]
    if len(set(names)) != len(names):
        raise KitError(f"two jobs share a name: {names}")
    record, _ = load_pack(pack_path)  # clear errors before any process starts
    files, size = 1, 0  # summary.json, then each job's parts
    for _, opts, args in parsed:
        cfg = job_config(record, opts, args, device)
        nbytes = checkpoint_bytes(cfg)
        files += -(-nbytes // PART_BYTES)
        size += nbytes
    if files > BACK_FILES or size > BACK_BYTES:
        raise KitError(f"{len(jobs)} jobs would send back {files} files, {size / 2**20:.0f} MiB; "
                       f"the device tool brings back {BACK_FILES} files, {BACK_BYTES // 2**20} MiB: run fewer or smaller jobs")
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 2) // len(jobs))
    procs = []
    for job, name in zip(jobs, names):
        cmd = [sys.executable, str(Path(__file__).resolve()), "train-one", "--pack", str(pack_path),
               "--job", job, "--work", str(work), "--device", device, "--budget-s", str(budget_s)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        log = open(work / f"{name}.log", "w")
        procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    # the jobs fit themselves into the budget; this is a backstop (none without a budget)
    deadline = time.time() + budget_s + 60 if budget_s > 0 else None
    for name, proc, log in procs:
        try:
            proc.wait(timeout=None if deadline is None else max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=30)
        log.close()
    summary = {"device": _device_name(device), "budget_s": budget_s, "jobs": []}
    for name, proc, _ in procs:
        entry = {"name": name, "returncode": proc.returncode}
        result = work / f"{name}.json"
        if result.is_file():
            entry.update(json.loads(result.read_text()))
        best = work / name / "best.pt"
        if best.is_file():
            entry["sha256"] = hashlib.sha256(best.read_bytes()).hexdigest()
            entry["parts"] = split_file(best, out, name)
        else:
            entry["log_tail"] = (work / f"{name}.log").read_text()[-2000:]
        summary["jobs"].append(entry)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _device_name(device: str) -> str:
    import torch
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return device


# ---------------------------------------------------------------- unpack (here)

def unpack(files_at: Path, runs: Path) -> list[dict]:
    """Join the parts listed in ``files_at/summary.json`` into ``runs/NAME/best.pt`` (never over one)."""
    from edgefer.checkpoint import load_checkpoint
    from edgefer.io import atomic_write_bytes, atomic_write_text
    summary_path = files_at / "summary.json"
    if not summary_path.is_file():
        raise KitError(f"{summary_path}: missing; is {files_at} the files_at of a `train` run?")
    summary = json.loads(summary_path.read_text())
    done = []
    for job in summary["jobs"]:
        name = job["name"]
        if "parts" not in job:
            done.append({"name": name, "error": f"no best.pt came back (return code {job.get('returncode')})"})
            continue
        dest = runs / name / "best.pt"
        if dest.exists():
            raise KitError(f"{dest}: exists; move it away or unpack into another --runs folder")
        missing = [p["file"] for p in job["parts"] if not (files_at / p["file"]).is_file()]
        if missing:
            raise KitError(f"{files_at}: parts of {name} did not come back: {', '.join(missing)}")
        data = b"".join((files_at / p["file"]).read_bytes() for p in job["parts"])
        if hashlib.sha256(data).hexdigest() != job["sha256"]:
            raise KitError(f"{name}: the joined parts do not match the SHA-256 of the best.pt written there")
        atomic_write_bytes(dest, lambda f: f.write(data))
        load_checkpoint(dest)  # a readable edgefer checkpoint, loaded with weights_only=True
        atomic_write_text(runs / name / "history.json", json.dumps(job.get("history", []), indent=1))
        done.append({"name": name, "best": str(dest), "best_val_accuracy": job.get("best_val_accuracy"),
                     "epochs": job.get("config", {}).get("epochs")})
    return done


# ---------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="write .gpu/fer2013.npz (here)")
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (default: the shared one)")
    p.add_argument("--teacher", default="default", help="model whose probabilities are the soft targets ('' for none)")
    p.add_argument("--out", type=Path, default=PACK)
    sub.add_parser("slim", help="set aside the large tracked files the device does not need")
    sub.add_parser("restore", help="put them back")
    p = sub.add_parser("train", help="run the jobs (on the device machine)")
    p.add_argument("--pack", type=Path, default=PACK)
    p.add_argument("--job", action="append", required=True, help='"NAME key=value ..." (repeatable)')
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    p.add_argument("--work", type=Path, default=Path("/tmp/gpu-kit"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget-s", type=float, default=420.0, help="seconds for all the training (probe included)")
    p = sub.add_parser("train-one", help=argparse.SUPPRESS)
    p.add_argument("--pack", type=Path, required=True)
    p.add_argument("--job", required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget-s", type=float, default=0.0)
    p = sub.add_parser("unpack", help="join what came back into runs/NAME/best.pt (here)")
    p.add_argument("files_at", type=Path)
    p.add_argument("--runs", type=Path, default=Path("runs"))
    a = ap.parse_args(argv)
    try:
        if a.cmd == "pack":
            from edgefer.data.load import dataset_root
            record = pack(a.data or dataset_root() / "fer2013", a.teacher, a.out)
            tree = tree_bytes()
            record["tree_bytes"] = tree
            print(json.dumps(record))
            if tree + record["bytes"] > TREE_LIMIT:
                print(f"note: the working tree ({tree / 2**20:.1f} MiB) and the pack ({record['bytes'] / 2**20:.1f} MiB) "
                      f"exceed the device tool's 64 MiB; run `scripts/gpu_kit.py slim` before the run", file=sys.stderr)
        elif a.cmd == "slim":
            moved = slim()
            print(json.dumps({"set_aside": moved, "tree_bytes": tree_bytes(), "pack_bytes": PACK.stat().st_size if PACK.exists() else 0}))
        elif a.cmd == "restore":
            print(json.dumps({"restored": restore()}))
        elif a.cmd == "train":
            summary = train_all(a.pack, a.job, a.out, device=a.device, budget_s=a.budget_s, work=a.work)
            print(json.dumps({k: v for k, v in summary.items() if k != "jobs"}))
            for job in summary["jobs"]:
                row = {k: job.get(k) for k in ("name", "returncode", "best_val_accuracy", "seconds", "probe")}
                if "log_tail" in job:
                    row["error"] = job["log_tail"].strip().splitlines()[-1:]
                print(json.dumps(row))
        elif a.cmd == "train-one":
            res = train_one(a.pack, a.job, a.work, device=a.device, budget_s=a.budget_s)
            (a.work / f"{res['name']}.json").write_text(json.dumps(res))
        elif a.cmd == "unpack":
            for row in unpack(a.files_at, a.runs):
                print(json.dumps(row))
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # typer.Exit from edgefer's CLI helpers, which printed the error
        if type(exc).__name__ != "Exit":
            raise
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
