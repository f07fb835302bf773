"""Where one ``/api/predict`` request's time goes: each step of the server's path, timed alone.

Steps, on the example photo (or ``--image``): header check, decode to gray (EXIF upright), Haar
detection (with OpenCV on 1 thread, then on all), crops, the model on the faces found and on a
batch of 16, and the JSON encoding of the answer. Medians of ``--repeat`` runs, in ms; one JSON
object printed (and written with ``--out``).

    python benchmarks/profile_request.py --out results/web-profile.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 3)


def profile(image: Path, model: str | None = None, repeat: int = 20) -> dict:
    from edgefer.io import image_array, open_image
    from edgefer.recognize import Recognizer, face_from

    data = image.read_bytes()
    rec = Recognizer(model, threads=1)
    gray = image_array(open_image(data, name="x"), gray=True)
    boxes = [f.as_tuple() for f in rec.detector.detect(gray)]
    pixels = np.stack([rec.spec.crop(gray, b) for b in boxes])
    probs = rec.probabilities(pixels)
    answer = {"faces": [face_from(b, p).to_dict() for b, p in zip(boxes, probs)]}
    steps = {"header": _median_ms(lambda: open_image(data, name="x").close(), repeat),
             "decode_gray": _median_ms(lambda: image_array(open_image(data, name="x"), gray=True), repeat)}
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    steps["detect_1_thread"] = _median_ms(lambda: rec.detector.detect(gray), repeat)
    cv2.setNumThreads(threads)
    steps[f"detect_{threads}_threads"] = _median_ms(lambda: rec.detector.detect(gray), repeat)
    steps["crops"] = _median_ms(lambda: np.stack([rec.spec.crop(gray, b) for b in boxes]), repeat)
    steps[f"model_{len(boxes)}_faces"] = _median_ms(lambda: rec.probabilities(pixels), repeat)
    batch = np.repeat(pixels[:1], 16, 0)
    steps["model_16_faces"] = _median_ms(lambda: rec.probabilities(batch), repeat)
    steps["encode_json"] = _median_ms(lambda: json.dumps(answer), repeat)
    return {"image": image.name, "size": list(gray.shape[::-1]), "faces": len(boxes), "model": rec.name,
            "detector": repr(rec.detector), "steps_ms": steps, "repeat": repeat,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", type=Path, default=ROOT / "examples" / "astronaut.jpg")
    ap.add_argument("--model", help="role, shipped model name or model file (default: the shipped default)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    res = profile(args.image, args.model, args.repeat)
    if args.out:
        from edgefer.results import provenance, write_json
        write_json(args.out, {**res, "command": " ".join(["python", "benchmarks/profile_request.py", *(argv or sys.argv[1:])]),
                              "provenance": provenance()})
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
