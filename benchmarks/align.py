"""Does aligning faces by the eyes (MTCNN landmarks) before classification raise accuracy on LFW?

    nice -n 15 python benchmarks/align.py --model fast   # -> results/align.json (measured with fernet-kd2ft-int8, the fast model of the time)

For every LFW photo that `edgefer evaluate --data LFW --split all` scores, the largest MTCNN face
(as Recognizer(detector="mtcnn") finds it) is cropped twice through the model's own
preprocessing: as found, and after rotating the photo about the box's centre so that the line
between the eyes is level. Photos without a face use the whole photo in both (as evaluate
does). Reports accuracy of both, overall and on the photos whose eye line is tilted by more
than 5 and 10 degrees, where the two crops differ most.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def eye_angle(landmarks) -> float:
    """Degrees the eye line is turned from level (image y grows downwards)."""
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def level_eyes(image: np.ndarray, box, angle: float) -> np.ndarray:
    """``image`` rotated about the box's centre by ``angle`` degrees (eyes level), borders replicated."""
    x, y, w, h = box
    m = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "lfw")
    ap.add_argument("--model", default="fast")
    ap.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--every", type=int, default=1, help="every N-th photo only (a smaller, spread sample)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "align.json")
    args = ap.parse_args()
    import torch
    from tqdm import tqdm

    from edgefer.data.load import load_dataset
    from edgefer.recognize import Recognizer
    from edgefer.results import provenance, write_json
    torch.set_num_threads(1)
    rec = Recognizer(args.model, detector="mtcnn")
    ds = load_dataset(args.data, split="all")
    index = np.arange(len(ds))[::args.every]
    if args.limit:
        index = index[:args.limit]
    n = len(index)
    size = rec.spec.input_size
    plain, aligned = np.empty((n, size, size), np.uint8), np.empty((n, size, size), np.uint8)
    angles = np.zeros(n)
    for i in tqdm(range(n), desc="mtcnn + crops", unit="img", file=sys.stderr, mininterval=30):
        image = ds.images[int(index[i])]
        faces = rec.detector.detect(image)
        if not faces:
            plain[i] = aligned[i] = rec.spec.crop(image, None)
            continue
        f = faces[0]
        box = f.as_tuple()
        plain[i] = rec.spec.crop(image, box)
        angles[i] = eye_angle(f.landmarks)
        aligned[i] = rec.spec.crop(level_eyes(image, box, angles[i]), box)
    y = np.asarray(ds.labels)[index]
    p_plain = rec.probabilities(plain).argmax(1)
    p_aligned = rec.probabilities(aligned).argmax(1)
    out = {"model": rec.name, "detector": "mtcnn", "photos": int(n), "every": args.every}
    for name, keep in (("all", np.ones(n, bool)), ("tilt_over_5_deg", np.abs(angles) > 5),
                       ("tilt_over_10_deg", np.abs(angles) > 10)):
        k = int(keep.sum())
        out[name] = {"photos": k,
                     "accuracy_as_found": round(float((p_plain[keep] == y[keep]).mean()), 4) if k else None,
                     "accuracy_aligned": round(float((p_aligned[keep] == y[keep]).mean()), 4) if k else None}
    out["median_abs_tilt_deg"] = round(float(np.median(np.abs(angles))), 2)
    out["provenance"] = provenance(data=str(args.data), split="all", command=" ".join(sys.argv))
    write_json(args.out, out)
    print(out)


if __name__ == "__main__":
    main()
