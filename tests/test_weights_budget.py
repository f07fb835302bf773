"""The package's model files stay within their budget (issue #39): classifiers at most 20 MB in
all, face detectors (edgefer/weights/detectors/) at most 5 MB, counted apart; and the repository
tracks no model file outside the package."""
import subprocess
from pathlib import Path

from edgefer.recognize import ROLES, WEIGHTS_DIR, shipped_path

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER_BUDGET = 20_000_000
DETECTOR_BUDGET = 5_000_000
MODEL_SUFFIXES = {".onnx", ".pt", ".pth", ".tflite", ".pb", ".h5", ".safetensors"}


def _size(files):
    return sum(p.stat().st_size for p in files)


def test_classifiers_within_20_mb():
    files = [p for p in WEIGHTS_DIR.iterdir() if p.is_file() and p.suffix in {".onnx", ".pt", ".json"}]
    assert files, "no classifier in the package"
    assert _size(files) <= CLASSIFIER_BUDGET, {p.name: p.stat().st_size for p in files}


def test_detectors_within_5_mb():
    folder = WEIGHTS_DIR / "detectors"
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    assert _size(files) <= DETECTOR_BUDGET, {p.name: p.stat().st_size for p in files}


def test_every_role_ships():
    for role, name in ROLES.items():
        assert shipped_path(name) is not None, f"role {role}: {name} is not in {WEIGHTS_DIR}"


def test_no_model_file_tracked_outside_the_package():
    """Candidates and checkpoints live outside the repository (git history keeps the old ones;
    scripts/fetch_candidates.sh restores them)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:  # not a git checkout (an unpacked sdist): nothing to check
        return
    outside = [f for f in tracked.stdout.splitlines()
               if Path(f).suffix in MODEL_SUFFIXES and not f.startswith("edgefer/weights/")
               and not f.startswith("tests/")]
    assert outside == []
