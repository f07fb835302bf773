"""Face tracks in video: an id that stays with each face, and its probabilities smoothed over time.

:class:`FaceTracker` is a short association on top of :class:`~edgefer.video.VideoRecognizer`'s
box following (no tracking library: norfair, motpy and supervision's ByteTrack each bring a
Kalman filter and dependencies for what here is a handful of faces, boxes that are already
followed frame to frame between full scans, and one rule to get right, the gap):

- A box followed from the previous frame (``links``) keeps that box's track.
- A box from a full scan is matched to the live tracks on the distance between its centre and
  each track's predicted centre (last centre plus velocity times the time since), in units of
  the face's side. A match must be near (:data:`GATE` sides, plus :data:`GATE_PER_S` per second
  unseen) and of similar size (:data:`SIZE_RATIO`). Pairs are taken closest first over all
  boxes and tracks at once (greedy assignment, as in SORT-style trackers; for a few faces it
  agrees with the Hungarian optimum whenever each face is nearer its own prediction than any
  other face is, and it avoids importing scipy.optimize, a second or more at start), so two
  faces that pass close each keep their own track.
- A track not seen for more than ``max_gap_s`` seconds ends; a face seen again later gets a
  new id.

Smoothing is an exponential moving average with time constant ``smooth_s`` seconds:
``s <- s + (1 - exp(-dt / smooth_s)) * (p - s)``, which handles uneven frame times (``--every``,
a live camera) the same way; ``smooth_s=0`` turns it off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

GATE = 0.75
"""Largest centre distance (in face sides) for a detection to continue a track seen just now."""

GATE_PER_S = 1.0
"""Extra centre distance allowed per second a track went unseen (faces move while hidden)."""

SIZE_RATIO = 1.6
"""Largest ratio of the larger to the smaller box side for a detection to continue a track."""

VELOCITY_MEMORY = 0.5
"""Weight of the previous velocity in each update of a track's velocity (pixels per second)."""


@dataclass
class Track:
    """One face's track: id, last box, when it was seen, its velocity and smoothed probabilities."""

    id: int
    box: np.ndarray                 # float (x, y, w, h)
    first_s: float
    last_s: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre, pixels per second
    smoothed: np.ndarray | None = None

    def centre(self) -> np.ndarray:
        return self.box[:2] + self.box[2:] / 2

    def predicted(self, time_s: float) -> np.ndarray:
        return self.centre() + self.velocity * max(0.0, time_s - self.last_s)


class FaceTracker:
    """Track ids and smoothed probabilities for the faces of consecutive frames (see the module).

    Parameters
    ----------
    max_gap_s : seconds a face may go unseen and keep its id (>= 0).
    smooth_s : time constant of the probability smoothing in seconds (0: none).

    Examples
    --------
    >>> t = FaceTracker()
    >>> t.update([(10, 10, 40, 40)], np.full((1, 7), 1 / 7), 0.0)[0][0]
    1
    """

    def __init__(self, *, max_gap_s: float = 1.0, smooth_s: float = 0.5):
        for name, v in (("max_gap_s", max_gap_s), ("smooth_s", smooth_s)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"`{name}` must be a number of seconds >= 0; got {v!r}")
        self.max_gap_s = float(max_gap_s)
        self.smooth_s = float(smooth_s)
        self.reset()

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(self, boxes, probabilities, time_s: float, links=None) -> list[tuple[int, np.ndarray]]:
        """(track id, smoothed probabilities) for each box of the frame at ``time_s`` seconds.

        Parameters
        ----------
        boxes : sequence of (x, y, w, h) in this frame.
        probabilities : (N, C) raw class probabilities of those boxes.
        time_s : the frame's time; must not go backwards.
        links : optional, per box the id of the track it was followed from (or None).
        """
        self._expire(time_s)
        if not len(boxes):
            return []
        probabilities = np.asarray(probabilities, np.float64).reshape(len(boxes), -1)
        boxes = [np.asarray(b, np.float64) for b in boxes]
        ids: list[int | None] = list(links) if links is not None else [None] * len(boxes)
        if len(ids) != len(boxes):
            raise ValueError(f"`links` must have one entry per box ({len(boxes)}); got {len(ids)}")
        ids = [i if i in self.tracks else None for i in ids]
        free = [i for i, t in enumerate(ids) if t is None]
        taken = {t for t in ids if t is not None}
        live = [t for tid, t in self.tracks.items() if tid not in taken]
        for i, track in self._assign([boxes[i] for i in free], live, time_s):
            ids[free[i]] = track.id
        out = []
        for box, tid, p in zip(boxes, ids, probabilities):
            track = self._continue(tid, box, time_s)
            out.append((track.id, self._smooth(track, p, time_s)))
            track.last_s = time_s
        return out

    def _expire(self, time_s: float) -> None:
        for tid in [tid for tid, t in self.tracks.items() if time_s - t.last_s > self.max_gap_s + 1e-9]:
            del self.tracks[tid]

    def _assign(self, boxes, tracks, time_s):
        """(index into boxes, track) pairs of the minimum-cost assignment within the gates."""
        if not boxes or not tracks:
            return []
        cost = np.full((len(boxes), len(tracks)), np.inf)
        gate = np.empty(len(tracks))
        for j, t in enumerate(tracks):
            pred = t.predicted(time_s)
            gate[j] = GATE + GATE_PER_S * max(0.0, time_s - t.last_s)
            for i, b in enumerate(boxes):
                side_b, side_t = max(b[2], b[3]), max(t.box[2], t.box[3])
                if max(side_b, side_t) > SIZE_RATIO * min(side_b, side_t):
                    continue
                d = np.linalg.norm(b[:2] + b[2:] / 2 - pred) / max(side_b, side_t)
                if d <= gate[j]:
                    cost[i, j] = d
        pairs, used_b, used_t = [], set(), set()
        for flat in np.argsort(cost, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(tracks))
            if not np.isfinite(cost[i, j]):
                break
            if i not in used_b and j not in used_t:
                pairs.append((i, tracks[j]))
                used_b.add(i)
                used_t.add(j)
        return pairs

    def _continue(self, tid: int | None, box: np.ndarray, time_s: float) -> Track:
        if tid is None:
            track = Track(self._next_id, box, time_s, time_s)
            self.tracks[track.id] = track
            self._next_id += 1
            return track
        track = self.tracks[tid]
        dt = time_s - track.last_s
        if dt > 0:
            v = (box[:2] + box[2:] / 2 - track.centre()) / dt
            track.velocity = VELOCITY_MEMORY * track.velocity + (1 - VELOCITY_MEMORY) * v
        track.box = box
        return track

    def _smooth(self, track: Track, p: np.ndarray, time_s: float) -> np.ndarray:
        if track.smoothed is None or self.smooth_s == 0:
            track.smoothed = p.copy()
        else:
            dt = max(0.0, time_s - track.last_s)
            alpha = 1.0 - math.exp(-dt / self.smooth_s)
            track.smoothed = track.smoothed + alpha * (p - track.smoothed)
        return track.smoothed.copy()
