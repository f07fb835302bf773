"""Plumbing of the paper's experiments on tiny synthetic data sets laid out like ../shared/datasets."""
import csv
import dataclasses
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edgefer.experiments import budget_for, convergence_iteration, stratified_subsample, write_report
from edgefer.experiments import cv as cv_exp
from edgefer.experiments import fig5, fig6, table1
from edgefer.experiments.report import TITLES
from edgefer.labels import CLASSES

pytestmark = pytest.mark.usefixtures("one_thread")

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
FER_FOLDERS = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "sad": "sad",
               "surprise": "surprise", "neutral": "neutral"}
N_TRAIN, N_PUBLIC, N_PRIVATE = 8, 3, 3
TWINS = 2  # PrivateTest images that copy a Training image
FACE_PHOTOS = ["Ann_Lee_0001", "Bob_Stone_0001", "Carl_0001", "Dee_Fox_0001", "Eve_0001", "Finn_0001"]
PLAIN_PHOTOS = ["Gus_0001", "Hal_0001", "Ida_0001", "Jo_0001"]
LEGEND = [("Ann_Lee_0001.jpg", "HAPPINESS"), ("Bob_Stone_0001.jpg", "happiness"), ("Carl_0001.jpg", "NEUTRAL"),
          ("Dee_Fox_0001.jpg", "neutral"), ("Eve_0001.jpg", "surprise"), ("Finn_0001.jpg", "anger"),
          ("Gus_0001.jpg", "neutral"), ("Hal_0001.jpg", "sadness"), ("Ida_0001.jpg", "happiness"),
          ("Jo_0001.jpg", "contempt"), ("facial-expressions_123.jpg", "happiness")]


def _fer_image(rng, k):
    img = rng.integers(0, 80, (48, 48)).astype(np.uint8)
    img[(k * 6) % 42:(k * 6) % 42 + 6] += 150  # a class-dependent bright band
    return img


def make_datasets(root: Path) -> Path:
    """Write fer2013/ (7 classes x 8 Training, 3 PublicTest, 3 PrivateTest, 2 twins) and lfw/ (6 face photos, 4 without)."""
    rng = np.random.default_rng(0)
    n = 0
    first_train = []
    for k, cls in enumerate(CLASSES):
        for folder, prefix, count in (("train", "Training", N_TRAIN), ("test", "PublicTest", N_PUBLIC),
                                      ("test", "PrivateTest", N_PRIVATE)):
            d = root / "fer2013" / folder / FER_FOLDERS[cls]
            d.mkdir(parents=True, exist_ok=True)
            for j in range(count):
                twin = prefix == "PrivateTest" and j == 0 and k < TWINS
                img = first_train[k] if twin else _fer_image(rng, k)
                cv2.imwrite(str(d / f"{prefix}_{n:05d}.png"), img)
                if prefix == "Training" and j == 0:
                    first_train.append(img)
                n += 1
    photo = cv2.imread(str(ASTRONAUT))
    patch = photo[20:220, 130:320]  # the face is at (47, 46, 95, 95) inside
    lfw = root / "lfw" / "lfw-deepfunneled"
    for i, name in enumerate(FACE_PHOTOS + PLAIN_PHOTOS):
        img = rng.integers(90, 130, (250, 250, 3)).astype(np.uint8)
        if name in FACE_PHOTOS:
            img[25 + i:225 + i, 30:220] = patch
        person = name.rsplit("_", 1)[0]
        (lfw / person).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(lfw / person / f"{name}.jpg"), img)
    with open(root / "lfw" / "legend.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user.id", "image", "emotion"])
        w.writerows([["u1", image, label] for image, label in LEGEND])
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """The synthetic data-set root of :func:`make_datasets`."""
    return make_datasets(tmp_path_factory.mktemp("datasets"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Decoded images and detections are cached in the test's own folder."""
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "cache"))


def tiny(experiment, **changes):
    """The smoke budget of ``experiment``, with ``changes``."""
    return dataclasses.replace(budget_for(experiment, "smoke"), **changes)


def test_stratified_subsample_keeps_class_shares():
    """A 30-item subsample of 60 items in classes 2:1 takes exactly 20 and 10, without repeats."""
    labels = np.array([0] * 40 + [1] * 20)
    idx = stratified_subsample(labels, 30, seed=1)
    assert len(idx) == len(set(idx.tolist())) == 30
    assert np.bincount(labels[idx]).tolist() == [20, 10]


def test_convergence_iteration_is_first_point_staying_within_one_point():
    """The curve 0.3, 0.5, 0.7, 0.60, 0.705, 0.70 settles at the 4th point (within 0.01 of 0.70 from there on)."""
    c = convergence_iteration([100, 200, 300, 400, 500, 600], [0.3, 0.5, 0.7, 0.60, 0.695, 0.70])
    assert c["iteration"] == 500 and c["before_end"]
    c = convergence_iteration([1, 2], [0.2, 0.5])
    assert c["iteration"] == 2 and not c["before_end"]


def test_fig6_mix_split_sizes(data_root):
    """The mix's 80/20 split covers every item once and takes round(20%) of every (source, class) stratum."""
    mix = fig6.build_mix(data_root, tiny("fig6", fer_per_class=5, lfw_n=None), seed=0)
    counts = mix.counts()
    assert counts["n_train"] + counts["n_test"] == counts["n_total"] == len(mix)
    assert counts["per_source"] == {"fer2013": 7 * 5, "lfw": 9}  # contempt and the non-LFW row are left out
    for s in fig6.SOURCES:
        for i in range(len(CLASSES)):
            stratum = (mix.source == s) & (mix.labels == i)
            assert (stratum & mix.test).sum() == round(0.2 * stratum.sum())


def test_fig6_mix_respects_fer_cap_per_class(data_root):
    """With a cap of 5, every FER-2013 class contributes exactly 5 of its 14 images; LFW is not capped."""
    mix = fig6.build_mix(data_root, tiny("fig6", fer_per_class=5, lfw_n=None), seed=0)
    fer = np.bincount(mix.labels[mix.source == "fer2013"], minlength=7)
    assert fer.tolist() == [5] * 7
    lfw = dict(zip(CLASSES, np.bincount(mix.labels[mix.source == "lfw"], minlength=7).tolist()))
    assert lfw == {"angry": 1, "disgust": 0, "fear": 0, "happy": 3, "sad": 1, "surprise": 1, "neutral": 3}
    assert mix.lfw.needs_detection and not mix.fer.needs_detection


def test_fig6_lfw_photos_go_through_detection(data_root):
    """Haar finds the pasted face in the 6 face photos; the 3 labelled plain photos are counted as no_face."""
    mix = fig6.build_mix(data_root, tiny("fig6", fer_per_class=5, lfw_n=None), seed=0)
    pixels, det = fig6.mix_pixels(mix, 48)
    assert pixels.shape == (len(mix), 48, 48) and pixels.dtype == np.uint8
    assert det["lfw_detection_run"]
    assert det["lfw_photos"] == 9
    assert (det["lfw_detected"], det["lfw_no_face"]) == (6, 3)


def test_cv_fold_sizes_cover_pool_and_keep_twins_together(data_root, tmp_path):
    """3-fold CV over all 98 images: fold test sizes sum to 98, differ by at most 3, and no twin pair is split."""
    res = cv_exp.run(tiny("cv", epochs=1), data_root=data_root, out=tmp_path / "results", seed=0)
    sizes = [f["n_test"] for f in res["cv"]["per_fold"]]
    assert sum(sizes) == res["data"]["n_pooled"] == 7 * (N_TRAIN + N_PUBLIC + N_PRIVATE)
    assert max(sizes) - min(sizes) <= 3
    assert all(f["n_train"] + f["n_test"] == 98 for f in res["cv"]["per_fold"])
    detail = res["cv"]["folds_detail"]
    assert detail["sizes"] == sizes
    assert detail["twin_groups"] == TWINS and detail["twin_groups_split_across_folds"] == 0
    assert res["data"]["test_with_twin_in_training"] == TWINS
    saved = json.loads((tmp_path / "results" / "cv.json").read_text())
    assert saved["budget"]["name"] == "smoke" and saved["provenance"]["budget"] == "smoke"


@pytest.fixture(scope="module")
def smoke_results(data_root, tmp_path_factory):
    """fig5 and table1 run at a tiny smoke budget into one results folder (fig5 first)."""
    out = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEFER_CACHE", str(out / "cache"))
        r5 = fig5.run(tiny("fig5", epochs=1), data_root=data_root, out=out, seed=0)
        r1 = table1.run("smoke", data_root=data_root, out=out, seed=0)
    return out, r5, r1


def test_fig5_smoke_writes_json_with_provenance_and_budget(smoke_results):
    """fig5.json holds every model's curve, PrivateTest report, budget, seed, command, commit and machine; plots exist."""
    out, res, _ = smoke_results
    saved = json.loads((out / "fig5.json").read_text())
    assert set(saved["models"]) == {"edgecnn48", "rcnn", "frrcnn"}
    assert saved["budget"]["name"] == "smoke" and saved["seed"] == 0
    assert saved["command"] == "edgefer experiment fig5 --budget smoke"
    prov = saved["provenance"]
    assert {"commit", "machine", "time", "data", "split", "budget", "seed"} <= prov.keys()
    assert prov["machine"]["cpu"] and prov["data"]["n"] == {"train": 56, "val": 21, "test": 21}
    for m, r in saved["models"].items():
        assert r["test"]["n"] == 21 and 0 <= r["test"]["accuracy"] <= 1
        assert r["val_curve"]["iteration"] == [3] and r["iterations"] == 3  # 56 // 16 steps, one epoch
        assert saved["summary"][m]["converged_at_iteration"] == 3
    assert saved["data"]["test_with_twin_in_training"] == TWINS
    for p in [saved["plots"]["accuracy"], saved["plots"]["train_accuracy"], *saved["plots"]["confusion"].values()]:
        assert (out / p).stat().st_size > 1000


def test_fig5_rerun_reuses_finished_models(smoke_results, data_root):
    """A second run of the same budget reuses every model's result.json and trains nothing."""
    out, res, _ = smoke_results
    before = {m: (out / r["run_dir"] / "best.pt").stat().st_mtime_ns for m, r in res["models"].items()}
    again = fig5.run(tiny("fig5", epochs=1), data_root=data_root, out=out, seed=0)
    assert again["summary"] == res["summary"]
    assert before == {m: (out / r["run_dir"] / "best.pt").stat().st_mtime_ns for m, r in res["models"].items()}


def test_fig5_refuses_results_of_other_settings(smoke_results, data_root):
    """Reusing a run folder made with other settings (another seed) is refused, naming the folder."""
    out, _, _ = smoke_results
    with pytest.raises(ValueError, match="other settings"):
        fig5.run(tiny("fig5", epochs=1), data_root=data_root, out=out, seed=1)


def test_table1_smoke_times_models_and_takes_recognition_from_fig5(smoke_results):
    """table1.json has train/test ms per batch for the three models and fig5's PrivateTest accuracy as recognition rate."""
    out, r5, _ = smoke_results
    saved = json.loads((out / "table1.json").read_text())
    assert saved["budget"]["name"] == "smoke" and saved["batch"] == 8
    assert {"commit", "machine"} <= saved["provenance"].keys()
    for m in ("edgecnn48", "rcnn", "frrcnn"):
        row = saved["models"][m]
        assert row["train_ms_per_batch"] > 0 and row["infer_ms_per_batch"] > 0
        assert row["recognition_rate"] == r5["summary"][m]["test_accuracy"]
        assert row["recognition_rate_budget"] == "smoke"
    assert set(saved["speedup_vs_edge"]) == {"rcnn", "frrcnn"}


def test_report_lists_not_run_experiments_without_inventing_numbers(smoke_results, tmp_path):
    """REPORT.md gives fig5/table1 numbers from their JSON and, for cv/fig6/ablation, 'not run yet' with the command."""
    out, r5, _ = smoke_results
    path = write_report(out, tmp_path / "REPORT.md")
    text = path.read_text()
    claims = text.split("## Claims")[1].split("\n## ")[0]
    for name in ("cv", "fig6", "ablation"):
        assert f"edgefer experiment {name} --budget reduced" in text
        section = text.split(f"## {TITLES[name]}")[1].split("\n## ")[0]
        assert "Not run yet" in section and "%" not in section
    rows = [line for line in claims.splitlines() if line.startswith("| C")]
    assert len(rows) == 15  # C1 and C6 in two readings each
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        if cells[1] in {"C6a", "C6b", *(f"C{i}" for i in range(7, 14))}:  # cv, fig6, ablation claims
            assert cells[4] == "not run yet" and "not run yet" in cells[7]
        # no paper-budget units here: every claim waits for them, and says which
        assert "**pending**: waits for the paper budget's unit(s)" in cells[7], row
    edge = r5["summary"]["edgecnn48"]["test_accuracy"]
    assert f"{100 * edge:.2f}%" in text
    # Every percentage in the report is the paper's or one of ours from the JSON files.
    known = {f"{100 * v:.2f}" for v in (0.8554, 0.7778, 0.8856)}
    for f in ("fig5.json", "table1.json"):
        known |= {f"{100 * v:.2f}" for v in _floats(json.loads((out / f).read_text()))}
    assert set(re.findall(r"(\d+\.\d\d)%", text)) <= known
    assert "smoke" in text and "![accuracy against iterations](" in text


def _floats(obj):
    if isinstance(obj, float):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)


def test_cli_experiment_and_report(smoke_results, data_root, tmp_path, monkeypatch):
    """`edgefer experiment table1 --budget smoke` writes table1.json and `edgefer report` writes REPORT.md; bad names fail cleanly."""
    from edgefer.cli.main import app
    runner = CliRunner()
    out = tmp_path / "res"
    r = runner.invoke(app, ["experiment", "table1", "--budget", "smoke", "--data-root", str(data_root),
                            "--out", str(out), "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert (out / "table1.json").exists()
    r = runner.invoke(app, ["report", "--results", str(out), "--out", str(tmp_path / "REPORT.md")])
    assert r.exit_code == 0, r.output
    assert "not run yet: fig5, cv, fig6, ablation" in r.output
    assert "not run yet (fig5)" in (tmp_path / "REPORT.md").read_text()
    r = runner.invoke(app, ["experiment", "fig7", "--budget", "smoke"])
    assert r.exit_code != 0 and "unknown experiment 'fig7'" in r.output
    r = runner.invoke(app, ["experiment", "fig5", "--budget", "huge"])
    assert r.exit_code != 0 and "--budget must be one of" in r.output


def test_fig5_interrupted_run_resumes_to_the_same_result(smoke_results, data_root, tmp_path, monkeypatch):
    """A fig5 run killed after one iteration of its first model continues from last.pt and ends as an uninterrupted run."""
    import edgefer.train.loop as loop
    _, r5, _ = smoke_results
    real_fit = loop.fit

    def killed_after_one_step(cfg, *args, **kwargs):
        real_fit(dataclasses.replace(cfg, max_steps=1), *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "fit", killed_after_one_step)
    out = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        fig5.run(tiny("fig5", epochs=1), data_root=data_root, out=out, seed=0)
    assert (out / "runs/smoke/fig5/edgecnn48/last.pt").exists() and not (out / "fig5.json").exists()
    monkeypatch.setattr(loop, "fit", real_fit)
    res = fig5.run(tiny("fig5", epochs=1), data_root=data_root, out=out, seed=0)
    assert res["models"]["edgecnn48"]["resumed"]
    assert res["summary"] == r5["summary"]


def test_ablation_smoke_changes_one_thing_per_variant(data_root, tmp_path):
    """Every ablation variant runs once, differs from the base in the one setting it names, and is timed."""
    from edgefer.experiments import ablation
    from edgefer.experiments._common import MODEL_LR

    ablation.run(tiny("ablation", epochs=1), data_root=data_root, out=tmp_path, seed=0)
    saved = json.loads((tmp_path / "ablation.json").read_text())
    s = saved["summary"]
    assert set(s) == {"base", "fusion_none", "fusion_input", "loss_mse", "input_96", "no_equalize", "pool_stride"}
    base = s["base"]
    assert (base["model"], base["input_size"], base["loss"], base["equalize"], base["model_kwargs"]) == \
        ("edgecnn48", 48, "ce", True, {})
    assert base["delta_test_accuracy_vs_base"] == 0
    assert s["fusion_none"]["model_kwargs"] == {"fusion": "none"}
    assert s["fusion_input"]["model_kwargs"] == {"fusion": "input"}
    assert s["pool_stride"]["model_kwargs"] == {"pool": "stride"}
    assert s["loss_mse"]["loss"] == "mse" and s["no_equalize"]["equalize"] is False
    assert (s["input_96"]["model"], s["input_96"]["input_size"]) == ("edgecnn", 96)
    for name, row in s.items():
        assert row["train_ms_per_batch"] > 0 and 0 <= row["test_accuracy"] <= 1, name
        assert saved["runs"][name]["config"]["lr"] == MODEL_LR[row["model"]]  # the paper net's 0.002
    assert (tmp_path / saved["plots"]["accuracy"]).stat().st_size > 1000
