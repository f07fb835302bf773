"""scripts/select_ensemble.py: the speed cost it charges each candidate member of the default, and
where it puts each candidate file (the package or candidates/) once the default is chosen."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgefer.classifiers import read_manifest
from edgefer.recognize import FAST_MODEL, SMALL_MODEL, WEIGHTS_DIR

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts" / "select_ensemble.py"


@pytest.fixture(scope="module")
def select():
    spec = importlib.util.spec_from_file_location("select_ensemble", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_relative_flops_scales_with_width_squared(select):
    """Convolutions dominate, so 1.5x the channels costs about 1.5^2 = 2.25x the multiply-adds."""
    assert select.relative_flops("fernet", {"fusion": "none"}) == 1.0
    wide = select.relative_flops("fernet", {"fusion": "none", "widths": [48, 96, 192, 384]})
    assert 2.1 < wide < 2.3
    assert select.relative_flops("fernet_small", {"fusion": "none"}) < 0.3


def test_passes_of_shipped_members(select):
    """A plain int8 FERNet is one pass; an edge-fused one pays 2 more for its Kirsch op."""
    assert select.passes(WEIGHTS_DIR / "fernet-fusion-int8.onnx") == 3.0  # edge-fused (the paper's idea)
    assert select.passes(WEIGHTS_DIR / f"{FAST_MODEL}.onnx") == 1.0  # plain
    assert select.passes(WEIGHTS_DIR / f"{SMALL_MODEL}.onnx") == 0.2  # widths 16-128, depths 1-1-2-2


def test_best_single_is_the_best_publictest_single_model_within_its_cost(select):
    """The fast and small models are chosen among single models without test-time views, by
    PublicTest alone, within their cost; an ensemble or a viewed single never counts."""
    rows = [{"members": ["a.onnx"], "views": "face", "passes": 1.0, "publictest": 0.68, "privatetest": 0.60},
            {"members": ["b.onnx"], "views": "face", "passes": 0.25, "publictest": 0.66, "privatetest": 0.70},
            {"members": ["w.onnx"], "views": "face", "passes": 2.24, "publictest": 0.70, "privatetest": 0.70},
            {"members": ["b.onnx"], "views": "face+mirror", "passes": 0.5, "publictest": 0.69, "privatetest": 0.70},
            {"members": ["a.onnx", "b.onnx"], "views": "face", "passes": 1.25, "publictest": 0.71,
             "privatetest": 0.71}]
    assert select.best_single(rows, 1.0) == "a"
    assert select.best_single(rows, 0.3) == "b"
    assert select.best_single(rows, 3.0) == "w"
    with pytest.raises(ValueError, match="at most 0.1 passes"):
        select.best_single(rows, 0.1)


def test_member_probabilities_are_cached_by_file_and_images(select, tmp_path, monkeypatch):
    """A second scoring of the same file on the same images reads the cache and gives the same
    probabilities without loading the model; new images, a changed file or an unreadable cache
    file are scored afresh."""
    import shutil
    from types import SimpleNamespace

    import numpy as np

    model = tmp_path / "m.onnx"
    shutil.copy(WEIGHTS_DIR / f"{SMALL_MODEL}.onnx", model)
    def splits(seed):
        r = np.random.default_rng(seed)
        return {s: SimpleNamespace(images=list(r.integers(0, 256, (5, 48, 48), dtype=np.uint8)),
                                   labels=r.integers(0, 7, 5)) for s in select.SPLITS}

    cache = tmp_path / "cache"
    first = select.member_probabilities([model], splits(0), cache)
    assert len(list(cache.glob("m.onnx-*.npz"))) == 1
    loads = []
    real = select.load_classifier
    monkeypatch.setattr(select, "load_classifier", lambda p: loads.append(p) or real(p))
    again = select.member_probabilities([model], splits(0), cache)
    assert loads == []
    for s in select.SPLITS:
        for v in select.TTA_VIEWS:
            np.testing.assert_array_equal(again["m.onnx"][s][v], first["m.onnx"][s][v])
            assert first["m.onnx"][s][v].shape == (5, 7)
    select.member_probabilities([model], splits(1), cache)  # other images
    assert len(loads) == 1
    model.write_bytes((WEIGHTS_DIR / f"{FAST_MODEL}.onnx").read_bytes())  # another model, same name
    other = select.member_probabilities([model], splits(0), cache)
    assert len(loads) == 2
    assert not np.allclose(other["m.onnx"]["publictest"]["identity"], first["m.onnx"]["publictest"]["identity"])
    for f in cache.glob("*.npz"):
        f.write_bytes(b"not a zip")
    select.member_probabilities([model], splits(0), cache)
    assert len(loads) == 3


def test_every_candidate_is_either_shipped_or_kept_out_of_the_package(select):
    """Each int8 candidate in the ablation table is a file in exactly one of edgefer/weights (the
    package) and candidates/ (the repository only), and the package holds what ``shipped`` names
    for the chosen default (its members, the fast model, the edge-fusion pair) and nothing else."""
    ablation = json.loads((ROOT / "results" / "ensemble-ablation.json").read_text())
    candidates = {m for r in ablation["subsets"] for m in r["members"]}
    in_package = {p.name for p in WEIGHTS_DIR.glob("*.onnx")}
    kept_out = {p.name for p in select.KEPT_DIR.glob("*.onnx")}
    assert in_package & kept_out == set()
    assert candidates == in_package | kept_out
    assert in_package == select.shipped(ablation["chosen"]["members"])
    assert {"fernet-int8.onnx", "fernet-fusion-int8.onnx", f"{FAST_MODEL}.onnx",
            f"{SMALL_MODEL}.onnx"} <= in_package


def test_every_manifest_in_either_folder_names_members_that_are_there(select):
    """A rebuild moves candidates between the package and candidates/; a manifest in either (the
    default, a teacher) that still names a member at its old place would stop loading."""
    manifests = sorted(WEIGHTS_DIR.glob("*.json")) + sorted(select.KEPT_DIR.glob("*.json"))
    assert {p.name for p in manifests} >= {"fernet-ens.json", "teacher-kdy.json"}
    for path in manifests:
        members = read_manifest(path)["members"]  # ValueError names a member that is not there
        assert members and all(m.is_file() for m in members), path


def test_place_moves_each_file_to_where_the_choice_puts_it(select, tmp_path):
    """A candidate the new default ships moves into the package, one it no longer ships moves out,
    and one already in place stays; the bytes travel with the file."""
    weights, kept = tmp_path / "weights", tmp_path / "candidates"
    weights.mkdir(), kept.mkdir()
    for d, name in [(weights, "old.onnx"), (kept, "new.onnx"), (weights, "stay.onnx")]:
        (d / name).write_bytes(name.encode())
    paths = [weights / "old.onnx", kept / "new.onnx", weights / ".." / "weights" / "stay.onnx"]
    out = select.place(paths, {"new.onnx", "stay.onnx"}, weights, kept)
    assert out == [kept / "old.onnx", weights / "new.onnx", weights / "stay.onnx"]
    assert sorted(p.name for p in weights.iterdir()) == ["new.onnx", "stay.onnx"]
    assert [p.name for p in kept.iterdir()] == ["old.onnx"]
    assert (weights / "new.onnx").read_bytes() == b"new.onnx"
    assert select.place(out, {"new.onnx", "stay.onnx"}, weights, kept) == out  # nothing left to move


def test_place_refuses_to_overwrite_a_second_copy(select, tmp_path):
    """Two files of one name (one in each folder) stop it before anything moves."""
    weights, kept = tmp_path / "weights", tmp_path / "candidates"
    weights.mkdir(), kept.mkdir()
    (weights / "a.onnx").write_bytes(b"shipped")
    (kept / "a.onnx").write_bytes(b"stale")
    (kept / "b.onnx").write_bytes(b"b")
    with pytest.raises(SystemExit, match="would overwrite .*a.onnx"):
        select.place([kept / "b.onnx", weights / "a.onnx"], {"b.onnx"}, weights, kept)
    assert (kept / "a.onnx").read_bytes() == b"stale" and (kept / "b.onnx").exists()


def test_a_second_copy_stops_the_selection_before_any_scoring(select, tmp_path):
    """A candidate named twice across the two folders is refused up front, not after the scoring."""
    weights, kept = tmp_path / "weights", tmp_path / "candidates"
    weights.mkdir(), kept.mkdir()
    (weights / "a.onnx").write_bytes(b"one")
    (kept / "a.onnx").write_bytes(b"two")
    with pytest.raises(SystemExit, match="second copy .*candidates/a.onnx"):
        select.main([weights / "a.onnx"], out=tmp_path / "t.json", manifest=weights / "ens.json", kept_dir=kept)
    assert not (weights / "ens.json").exists()


def test_folders_names_the_package_and_the_kept_candidates_once_for_the_build_script(select):
    """``--folders`` prints the two folders the build moves files between, relative to the
    repository, so that scripts/build_shipped.sh reads them instead of naming them again."""
    out = subprocess.run([sys.executable, str(SCRIPT), "--folders"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split("\n")
    assert out[:2] == ["edgefer/weights", "candidates"]
    assert (ROOT / out[0]).resolve() == WEIGHTS_DIR.resolve()
    assert (ROOT / out[1]).resolve() == select.KEPT_DIR.resolve()
    assert "select_ensemble.py --folders" in (ROOT / "scripts" / "build_shipped.sh").read_text()
