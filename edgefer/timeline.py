"""A video's expression timeline: one row per face per frame, a per-track summary, CSV and plot.

Collect the tracked faces of :class:`~edgefer.video.VideoRecognizer` with :meth:`Timeline.add`,
then write :meth:`~Timeline.write_csv` (columns :data:`CSV_COLUMNS`) and
:meth:`~Timeline.plot` (each track's smoothed probabilities over time), and read
:meth:`~Timeline.summary` (time in view, dominant expression, share of time per expression).
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from edgefer.labels import CLASSES

CSV_COLUMNS = ("time_s", "frame", "track", "x", "y", "w", "h", "label", "confidence",
               *CLASSES, *(f"raw_{c}" for c in CLASSES))
"""Columns of the timeline CSV: the smoothed probabilities under the class names, each frame's
own (raw) ones under ``raw_<class>``."""

MAX_PLOTTED_TRACKS = 12
"""Tracks drawn in the plot, longest in view first (the CSV and summary keep all)."""


class Timeline:
    """Rows of tracked faces, in the order added.

    Parameters
    ----------
    frame_s : seconds one processed frame stands for (``every / fps``), for the time in view;
        None takes the median gap between consecutive frame times (a live camera).
    """

    def __init__(self, frame_s: float | None = None):
        self.frame_s = frame_s
        self.rows: list[dict] = []
        self._times: list[float] = []

    def add(self, faces) -> None:
        """Add one frame's faces (each with ``frame``, ``time_s`` and ``track`` set)."""
        for f in faces:
            if f.track is None or f.time_s is None:
                raise ValueError("`faces` must come from video (track and time_s set)")
            x, y, w, h = f.box
            row = {"time_s": round(float(f.time_s), 3), "frame": f.frame, "track": f.track,
                   "x": x, "y": y, "w": w, "h": h, "label": f.label,
                   "confidence": round(float(f.confidence), 6)}
            row.update({c: round(float(f.probabilities[c]), 6) for c in CLASSES})
            raw = f.raw_probabilities or f.probabilities
            row.update({f"raw_{c}": round(float(raw[c]), 6) for c in CLASSES})
            self.rows.append(row)
            if not self._times or self._times[-1] != row["time_s"]:
                self._times.append(row["time_s"])

    def _frame_s(self) -> float:
        if self.frame_s:
            return float(self.frame_s)
        gaps = np.diff(self._times)
        gaps = gaps[gaps > 0]
        return float(np.median(gaps)) if len(gaps) else 0.0

    def summary(self) -> list[dict]:
        """Per track, by id: ``track``, ``first_s``, ``last_s``, ``frames``, ``time_in_view_s``
        (frames seen times the time a frame stands for), ``dominant`` (the smoothed label seen
        most) and ``share`` (fraction of its frames per smoothed label, every class)."""
        frame_s = self._frame_s()
        by_track: dict[int, list[dict]] = {}
        for r in self.rows:
            by_track.setdefault(r["track"], []).append(r)
        out = []
        for tid in sorted(by_track):
            rows = by_track[tid]
            counts = Counter(r["label"] for r in rows)
            n = len(rows)
            out.append({"track": tid, "first_s": rows[0]["time_s"], "last_s": rows[-1]["time_s"],
                        "frames": n, "time_in_view_s": round(n * frame_s, 3),
                        "dominant": max(CLASSES, key=lambda c: (counts[c], -CLASSES.index(c))),
                        "share": {c: round(counts[c] / n, 4) for c in CLASSES}})
        return out

    def write_csv(self, path: str | os.PathLike) -> Path:
        """Write the rows as CSV (header :data:`CSV_COLUMNS`) atomically; returns the path."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return _atomic_write(Path(path), buf.getvalue().encode())

    def plot(self, path: str | os.PathLike, *, title: str = "") -> Path:
        """A PNG with one panel per track: its smoothed probabilities over time, one line per class."""
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from edgefer.annotate import COLORS

        tracks = sorted(self.summary(), key=lambda s: -s["frames"])[:MAX_PLOTTED_TRACKS]
        tracks.sort(key=lambda s: s["track"])
        n = max(1, len(tracks))
        fig, axes = plt.subplots(n, 1, figsize=(8, 1.8 * n + 0.8), sharex=True, squeeze=False)
        frame_s = self._frame_s()
        for ax, s in zip(axes[:, 0], tracks):
            rows = [r for r in self.rows if r["track"] == s["track"]]
            t = np.array([r["time_s"] for r in rows], float)
            # A gap (the face out of view) breaks the lines instead of bridging it.
            breaks = np.nonzero(np.diff(t) > 1.5 * frame_s)[0] + 1 if frame_s else np.zeros(0, int)
            for c in CLASSES:
                b, g, r_ = COLORS[c]
                v = np.array([r[c] for r in rows], float)
                ax.plot(np.insert(t, breaks, np.nan), np.insert(v, breaks, np.nan),
                        color=(r_ / 255, g / 255, b / 255), lw=1.4, label=c)
            ax.set_ylim(0, 1)
            ax.set_ylabel(f"track {s['track']}")
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("time (s)")
        if not tracks:
            axes[0, 0].text(0.5, 0.5, "no face", ha="center", va="center", transform=axes[0, 0].transAxes)
        else:
            axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        fig.suptitle(title or "smoothed expression probabilities per track")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        return _atomic_write(Path(path), buf.getvalue())


def format_summary(summary: list[dict]) -> str:
    """The per-track summary as a plain-text table (one line per track)."""
    head = f"{'track':>5}  {'in view':>8}  {'from':>7}  {'to':>7}  {'dominant':9}  share of time"
    lines = [head]
    for s in summary:
        shares = ", ".join(f"{c} {v:.0%}" for c, v in sorted(s["share"].items(), key=lambda kv: -kv[1]) if v > 0)
        lines.append(f"{s['track']:>5}  {s['time_in_view_s']:>7.2f}s  {s['first_s']:>6.2f}s  "
                     f"{s['last_s']:>6.2f}s  {s['dominant']:9}  {shares}")
    return "\n".join(lines)


def _atomic_write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
