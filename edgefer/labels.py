"""The one class order used everywhere in edgefer (FER-2013's 0..6), and label-name mapping."""
from __future__ import annotations

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER-2013's emotion codes 0..6, in that order. Every reader maps onto this."""

NUM_CLASSES = len(CLASSES)

# Usual spellings in other data sets (LFW legend.csv, AffectNet, RAF-DB, folder releases).
SYNONYMS: dict[str, str] = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "smile": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise", "surprising": "surprise",
    "neutral": "neutral", "calm": "neutral",
}


def label_index(name: str) -> int | None:
    """Index in :data:`CLASSES` of a label name in any usual spelling, or ``None``.

    Matching ignores case and surrounding spaces, so ``"HAPPINESS"`` and ``" happy"``
    both map to 3. A name outside the seven (``"contempt"``) returns ``None``; the
    caller decides whether that is skipped (and counted) or an error.

    >>> label_index("Sadness"), label_index("contempt")
    (4, None)
    """
    canon = SYNONYMS.get(name.strip().lower())
    return None if canon is None else CLASSES.index(canon)
