"""Face detectors compared: Haar (OpenCV's frontal cascade) and MTCNN (shipped). docs/detectors.md.

    nice -n 15 python benchmarks/detectors.py --calibrate          # fit mtcnn.BOX_TO_HAAR on LFW
    nice -n 15 python benchmarks/detectors.py                      # scenes, speed, video -> results/detectors.json

Measures, for each detector:
- recall and false boxes on multi-face scenes built here: LFW faces (the deep-funneled photos'
  central 150x150 cut, face about 100 px) pasted at several sizes (40-160 px faces), in-plane
  rotations (-30..30 degrees) and partial occlusions (a flat bar over a third of the face) into
  640x480 scenes of noise and LFW background corners; a detection is a hit when its centre is
  within half a face side of a pasted face's centre and its side within a factor 1.8 of it;
- ms per 640x480 frame (median of repeated runs, one torch thread, as edgefer predict runs);
- frames/s end to end on a 640x480 clip with edgefer predict's video defaults (VideoRecognizer:
  full scan every 5th frame at 320 px on the longer side, box following between, tracking and
  smoothing; the default and fast models), decoding included, annotation and writing excluded.
LFW detection rate and accuracy come from `edgefer evaluate` (see docs/detectors.md).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def lfw_photos(n: int, seed: int = 0) -> list[Path]:
    from edgefer.data.load import dataset_root
    root = dataset_root() / "lfw" / "lfw-deepfunneled"
    photos = sorted(root.glob("*/*.jpg"))
    if not photos:
        raise SystemExit(f"LFW not found under {root}")
    rng = np.random.default_rng(seed)
    return [photos[i] for i in rng.choice(len(photos), size=min(n, len(photos)), replace=False)]


def calibrate(n: int) -> dict:
    """Median (dx, dy, side) mapping raw MTCNN boxes to Haar's framing, over LFW photos."""
    from edgefer.preprocess.detect import HaarFaceDetector
    from edgefer.preprocess.mtcnn import MTCNNFaceDetector
    haar, mtcnn = HaarFaceDetector(), MTCNNFaceDetector(haar_frame=False)
    dx, dy, k = [], [], []
    for p in lfw_photos(n, seed=1):
        img = cv2.imread(str(p))
        h, m = haar.detect(img), mtcnn.detect(img)
        if not h or not m:
            continue
        h, m = h[0], m[0]
        side = max(m.w, m.h)
        cxh, cyh = h.x + h.w / 2, h.y + h.h / 2
        cxm, cym = m.x + m.w / 2, m.y + m.h / 2
        if abs(cxh - cxm) > side / 2 or abs(cyh - cym) > side / 2:
            continue  # not the same face
        dx.append((cxh - cxm) / side)
        dy.append((cyh - cym) / side)
        k.append(h.w / side)
    return {"pairs": len(k), "dx": round(statistics.median(dx), 3), "dy": round(statistics.median(dy), 3),
            "side": round(statistics.median(k), 3)}


def scenes(n_scenes: int, seed: int = 0):
    """(image, true (cx, cy, side) list) for synthetic 640x480 multi-face scenes."""
    rng = np.random.default_rng(seed)
    photos = lfw_photos(n_scenes * 8, seed=seed + 10)
    it = iter(photos)
    for _ in range(n_scenes):
        # background: coarse noise plus two LFW photo corners (real clutter, no central face)
        scene = cv2.resize(rng.integers(40, 200, (12, 16, 3), dtype=np.uint8), (640, 480),
                           interpolation=cv2.INTER_CUBIC)
        for _ in range(2):
            bg = cv2.imread(str(next(it)))[:60, :60]
            x, y = rng.integers(0, 580), rng.integers(0, 420)
            scene[y:y + 60, x:x + 60] = bg
        truth, boxes = [], []
        for _ in range(rng.integers(2, 6)):
            cut = cv2.imread(str(next(it)))[50:200, 50:200]
            face = int(rng.choice([40, 60, 80, 110, 160]))           # face side ~ 2/3 of the cut
            size = round(face * 1.5)
            angle = float(rng.choice([0, 0, -15, 15, -30, 30]))
            m = cv2.getRotationMatrix2D((75, 75), angle, size / 150)
            m[:, 2] += (size - 150) / 2
            patch = cv2.warpAffine(cut, m, (size, size), borderMode=cv2.BORDER_REFLECT)
            for _try in range(30):
                x, y = int(rng.integers(0, 640 - size)), int(rng.integers(0, 480 - size))
                if all(x + size <= bx or bx + bs <= x or y + size <= by or by + bs <= y for bx, by, bs in boxes):
                    break
            else:
                continue
            boxes.append((x, y, size))
            scene[y:y + size, x:x + size] = patch
            cx, cy = x + size / 2, y + size / 2
            if rng.random() < 0.3:   # occlude a third of the face: a bar over its lower or a side part
                side = rng.integers(0, 3)
                f0 = (cx - face / 2, cy - face / 2)
                if side == 0:
                    scene[int(cy + face / 6):int(cy + face / 2), int(f0[0]):int(f0[0] + face)] = 128
                elif side == 1:
                    scene[int(f0[1]):int(f0[1] + face), int(f0[0]):int(f0[0] + face / 3)] = 128
                else:
                    scene[int(f0[1]):int(f0[1] + face), int(cx + face / 6):int(cx + face / 2)] = 128
            truth.append((cx, cy, face))
        yield scene, truth


def match(dets, truth):
    """(hits, false boxes) with each true face matched at most once."""
    used, hits, false = set(), 0, 0
    for d in dets:
        cx, cy, s = d.x + d.w / 2, d.y + d.h / 2, max(d.w, d.h)
        best = None
        for i, (tx, ty, ts) in enumerate(truth):
            if i in used:
                continue
            if abs(cx - tx) <= ts / 2 and abs(cy - ty) <= ts / 2 and 1 / 1.8 <= s / ts <= 1.8:
                best = i
                break
        if best is None:
            false += 1
        else:
            used.add(best)
            hits += 1
    return hits, false


def frame_ms(detector, frames, repeat: int = 3) -> tuple[float, float]:
    """Median (wall, CPU) milliseconds per frame. On a shared machine the process's CPU time
    (one thread) is what the work costs; wall time adds the waits for a core."""
    wall, cpu = [], []
    for _ in range(repeat):
        for f in frames:
            t, c = time.perf_counter(), time.process_time()
            detector.detect(f)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    return round(statistics.median(wall), 2), round(statistics.median(cpu), 2)


def video_fps(detector_name: str, path: Path, model: str | None) -> tuple[float, float]:
    """Best of 3 (wall, CPU-time) frames/s over the clip with the video path's defaults."""
    from edgefer.recognize import Recognizer
    from edgefer.video import VideoRecognizer
    rec = Recognizer(model, detector=detector_name)
    vr = VideoRecognizer(rec)
    wall = cpu = 0.0
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        n = sum(1 for _ in vr.run(path))
        wall = max(wall, n / (time.perf_counter() - t))
        cpu = max(cpu, n / (time.process_time() - c))
    return round(wall, 1), round(cpu, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibrate", action="store_true", help="fit the MTCNN-to-Haar box framing on LFW")
    ap.add_argument("--photos", type=int, default=1500, help="LFW photos for --calibrate")
    ap.add_argument("--scenes", type=int, default=150, help="synthetic multi-face scenes")
    ap.add_argument("--models", nargs="+", default=["default", "fast"],
                    help="models for the video frames/s ('default': the shipped default)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "detectors.json")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    from edgefer.results import provenance, write_json
    if args.calibrate:
        print(json.dumps(calibrate(args.photos)))
        return
    from edgefer.preprocess.detectors import DETECTORS, make_detector
    data = list(scenes(args.scenes))
    n_true = sum(len(t) for _, t in data)
    frames = [s for s, _ in data[:20]]  # ms per frame: detectors as the photo path runs them (full size)
    from tests_clip import write_clip  # benchmarks/tests_clip.py
    clip = Path("/tmp") / f"edgefer-bench-{np.random.default_rng().integers(1 << 30)}.avi"
    write_clip(clip)
    out = {"scenes": args.scenes, "faces": n_true, "detectors": {}}
    try:
        for name in DETECTORS:
            det = make_detector(name)
            hits = false = 0
            for scene, truth in data:
                h, f = match(det.detect(scene), truth)
                hits, false = hits + h, false + f
            out["detectors"][name] = {
                "scene_recall": round(hits / n_true, 4), "false_boxes_per_scene": round(false / len(data), 3),
                "ms_per_640x480_frame_wall_cpu": frame_ms(det, frames),
                "video_fps_end_to_end_wall_cpu": {
                    m: video_fps(name, clip, None if m == "default" else m) for m in args.models}}
            print(name, out["detectors"][name], flush=True)
    finally:
        clip.unlink(missing_ok=True)
    from edgefer.recognize import DEFAULT_MODEL
    out["video"] = {"clip": "640x480, 100 frames, two LFW faces moving (tests/conftest.py gap clip)",
                    "models": [DEFAULT_MODEL if m == "default" else m for m in args.models],
                    "settings": "detect_every=5, detect_side=320, box following, tracking, smoothing 0.5 s",
                    "torch_threads": 1}
    out["load_average"] = list(os.getloadavg())
    out["provenance"] = provenance(data="LFW deep-funneled (synthetic scenes)", command=" ".join(sys.argv))
    write_json(args.out, out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
