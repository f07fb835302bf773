"""The paper budget's units end to end, on the synthetic data sets of test_plumbing at a tiny budget
registered under the name ``paper``: plan, runner, resume, commit, aggregation and REPORT.md."""
import dataclasses
import json
import subprocess
import time

import pytest
from typer.testing import CliRunner

from edgefer.experiments import units, write_report
from edgefer.experiments.report import README_MARKERS
from edgefer.experiments._common import BUDGETS
from edgefer.results import machine_label


def _plumbing():
    """test_plumbing.py as a module (tests/ holds no packages), for its synthetic data sets."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("_plumbing", Path(__file__).with_name("test_plumbing.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_datasets = _plumbing().make_datasets

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_datasets(tmp_path_factory.mktemp("datasets"))


@pytest.fixture(autouse=True)
def tiny_paper(monkeypatch, tmp_path):
    """The ``paper`` budget of every experiment becomes the smoke sizes (a few hundred images, a few
    dozen steps), keeping the paper's loss, constant schedule and 48-vs-96 rule."""
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "cache"))
    for exp, budgets in BUDGETS.items():
        smoke = budgets["smoke"]
        monkeypatch.setitem(budgets, "paper", dataclasses.replace(
            smoke, name="paper", loss="mse", schedule="constant", precision="fp32",
            edge_model="auto" if exp != "ablation" else "edgecnn48", seeds=(0, 1)))


def _git_repo(path):
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for k, v in (("user.email", "t@example.com"), ("user.name", "t")):
        subprocess.run(["git", "-C", str(path), "config", k, v], check=True)
    return path


def test_list_units_order_and_edge_net():
    """Units run Table 1, Fig. 5's models (96x96 and 48x48 edge CNN, R-CNN, FRR-CNN, then R-CNN with
    cross-entropy), CV folds 2-3, the standard protocol, Fig. 6 (the same four), random folds, then
    ablation seeds; a 48x48 plan has no second edge model."""
    all_units = units.list_units("paper", "edgecnn")
    names = [u.name for u in all_units]
    assert names[:10] == ["table1", "fig5-edgecnn", "fig5-edgecnn48", "fig5-rcnn", "fig5-frrcnn", "fig5-rcnn-ce",
                          "cv-fold2", "cv-fold3", "cv-standard", "fig6-edgecnn"]
    assert names[10:13] == ["fig6-rcnn", "fig6-frrcnn", "fig6-rcnn-ce"]
    assert names[13:16] == ["rcv-fold1", "rcv-fold2", "rcv-fold3"]
    assert names[16] == "ablation-s0-base" and "ablation-s1-loss_ce" in names  # base is the paper's MSE
    # the ablation runs variant by variant, every seed of one before the next variant
    assert names[16:19] == ["ablation-s0-base", "ablation-s1-base", "ablation-s0-fusion_none"]
    assert [u.loss for u in all_units if u.loss] == ["ce", "ce"]  # only the R-CNN extras change the loss
    small = [u.name for u in units.list_units("paper", "edgecnn48")]
    assert small[1:5] == ["fig5-edgecnn48", "fig5-rcnn", "fig5-frrcnn", "fig5-rcnn-ce"]
    assert {u.model for u in units.list_units("paper", "edgecnn48") if u.kind in ("cv", "rcv", "standard")} == \
        {"edgecnn48"}


def test_plan_chooses_96_only_under_the_time_limit(data_root, tmp_path, monkeypatch):
    """The edge CNN is edgecnn (96x96) when its fig5 unit is estimated within the limit, else edgecnn48;
    the plan is written once and kept."""
    monkeypatch.setitem(BUDGETS["fig5"], "paper", dataclasses.replace(BUDGETS["fig5"]["paper"],
                                                                        edge_minutes_max=1e6))
    plan = units.make_plan("paper", out=tmp_path / "a", data_root=data_root, repeats=1)
    assert plan["edge_model"] == "edgecnn" and plan["edgecnn_fig5_minutes"] > 0
    assert [u["name"] for u in plan["units"]][1] == "fig5-edgecnn"
    monkeypatch.setitem(BUDGETS["fig5"], "paper", dataclasses.replace(BUDGETS["fig5"]["paper"],
                                                                        edge_minutes_max=0.0))
    assert units.make_plan("paper", out=tmp_path / "a", data_root=data_root)["edge_model"] == "edgecnn"  # kept
    assert units.make_plan("paper", out=tmp_path / "b", data_root=data_root, repeats=1)["edge_model"] == "edgecnn48"


def test_old_plan_gains_new_units_and_list_does_not_wait_for_a_running_unit(data_root, tmp_path):
    """A plan written before a unit was added (fig5-rcnn-ce) gets it in its place, estimated from
    the plan's own timings; with the plan on disk, `units --list` answers while another process
    holds the lock of heavy jobs (a unit running)."""
    import os
    import sys

    out = tmp_path / "results"
    plan = units.make_plan("paper", out=out, data_root=data_root, repeats=1)
    rcnn = next(u for u in plan["units"] if u["name"] == "fig5-rcnn")
    path = out / "paper" / "plan.json"
    old = {**plan, "units": [u for u in plan["units"] if not u["name"].endswith("-ce")]}
    path.write_text(json.dumps(old))
    again = units.make_plan("paper", out=out, data_root=data_root)
    names = [u["name"] for u in again["units"]]
    assert names == [u.name for u in units.list_units("paper", plan["edge_model"])]
    ce = next(u for u in again["units"] if u["name"] == "fig5-rcnn-ce")
    assert ce["est_minutes"] == rcnn["est_minutes"] and ce["iterations"] == rcnn["iterations"]
    assert json.loads(path.read_text())["units"] == again["units"]
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               os.environ["EDGEFER_LOCK"]], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        res = CliRunner().invoke(__import__("edgefer.cli.main", fromlist=["app"]).app,
                                 ["units", "--list", "--data-root", str(data_root), "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert "fig5-rcnn-ce" in res.output and time.monotonic() - t0 < 30
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow  # about three minutes: every unit once, at a tiny size
def test_runner_runs_resumes_commits_and_reports(data_root, tmp_path):
    """Through the CLI: --max-units stops after N, a rerun skips finished units, each result file is
    committed alone, a unit killed mid-way resumes, experiments get result files once their units are
    done, and REPORT.md turns the pending claims into verdicts at the paper budget."""
    repo = _git_repo(tmp_path / "repo")
    out = repo / "results"
    (repo / "other.txt").write_text("not to be committed\n")
    runner = CliRunner()
    base = ["units", "--budget", "paper", "--data-root", str(data_root), "--out", str(out)]
    res = runner.invoke(__import__("edgefer.cli.main", fromlist=["app"]).app, [*base, "--max-units", "2"])
    assert res.exit_code == 0, res.output
    plan = json.loads((out / "paper" / "plan.json").read_text())
    assert plan["edge_model"] == "edgecnn48"  # tiny budget: limit 0 minutes
    done = sorted(p.stem for p in (out / "paper").glob("*.json") if p.stem != "plan")
    assert done == ["fig5-edgecnn48", "table1"]
    log = subprocess.run(["git", "-C", str(repo), "log", "--name-only", "--format=%s"], capture_output=True,
                         text=True).stdout
    assert "results/paper/fig5-edgecnn48.json" in log and "results/paper/plan.json" in log
    assert "other.txt" not in log and "last.pt" not in log  # only the result files, never checkpoints
    rec = json.loads((out / "paper" / "fig5-edgecnn48.json").read_text())
    assert rec["budget"]["name"] == "paper" and rec["config"]["loss"] == "mse"
    assert rec["config"]["schedule"] == "constant" and rec["iterations"] > 0
    curve = rec["curves"]
    assert len(curve["train_sample_accuracy"]) == rec["budget"]["epochs"]
    assert rec["n_train"] + rec["n_heldout"] == rec["n_pool"] and rec["time"]["cpu_seconds"] > 0

    # a unit killed after its first epoch resumes from its checkpoint, with the same curve
    u = units.Unit("fig5-rcnn", "fig5", "rcnn", fold=1)
    import edgefer.experiments.units as mod
    calls = []
    real_fit = __import__("edgefer.train.loop", fromlist=["fit"]).fit

    def dying_fit(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*a, **k)
    import edgefer.train.loop
    edgefer.train.loop.fit = dying_fit
    try:
        with pytest.raises(KeyboardInterrupt):
            mod.run_unit(u, "paper", out=out, data_root=data_root)
    finally:
        edgefer.train.loop.fit = real_fit
    assert not units.result_path(out, "paper", u).exists()
    first = json.loads((units.work_dir(out, "paper", u) / "curve.json").read_text())["points"]
    assert len(first) == 1
    res = runner.invoke(__import__("edgefer.cli.main", fromlist=["app"]).app,
                        [*base, "--only", "fig5-rcnn", "--no-commit"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "paper" / "fig5-rcnn.json").read_text())
    assert rec["curves"]["train_sample_accuracy"][0] == first[0]["train_sample_accuracy"]
    assert rec["time"]["sessions"] == 2
    assert "fig5-rcnn" not in subprocess.run(["git", "-C", str(repo), "log", "--name-only"], capture_output=True,
                                             text=True).stdout

    # the rest, then the report
    res = runner.invoke(__import__("edgefer.cli.main", fromlist=["app"]).app, [*base, "--no-commit"])
    assert res.exit_code == 0, res.output
    assert "unit table1" not in res.output  # finished units are skipped
    for exp in ("fig5", "cv", "fig6", "ablation", "table1"):
        saved = json.loads((out / f"{exp}.json").read_text())
        assert saved["budget"]["name"] == "paper" and saved["units_of"] == "paper"
        assert "_units" not in saved  # the builders' unit records stay out of the file (its times are in unit_time)
        # where each unit trained, since the file's provenance is where it was aggregated
        assert set(saved["unit_machines"]) == set(saved["unit_time"]) and \
            set(saved["unit_machines"].values()) == {machine_label(saved["provenance"]["machine"])}
    cv = json.loads((out / "cv.json").read_text())
    assert [f["fold"] for f in cv["cv"]["per_fold"]] == [1, 2, 3] == [f["fold"] for f in cv["random_cv"]["per_fold"]]
    assert sum(f["n_test"] for f in cv["cv"]["per_fold"]) == cv["data"]["n_pooled"]
    abl = json.loads((out / "ablation.json").read_text())
    assert abl["summary"]["base"]["seeds"] == [0, 1] and abl["summary"]["base"]["loss"] == "mse"
    assert "units_pending" not in abl or abl["units_pending"] == []
    # speed in the ablation only as a ratio to the base net timed in the same unit: seeds may run on
    # different machines; a variant with the base's net (loss, equalization) is the base's speed
    from edgefer.results import machine
    s = abl["summary"]
    assert s["base"]["train_time_vs_base"] == 1.0 == s["loss_ce"]["train_time_vs_base"]
    # every unit keeps its PrivateTest confusion, so a seed that never left one class is known as such
    assert all(v is not None for x in s.values() for v in x["one_class_share_per_seed"])
    assert all(x["unknown_training_seeds"] == [] for x in s.values())
    assert s["pool_stride"]["train_time_vs_base"] > 0 and s["pool_stride"]["machines"] == [machine_label(machine())]
    ps = json.loads((out / "paper" / "ablation-s0-pool_stride.json").read_text())
    assert ps["speed_base"]["train_ms_per_batch"] != ps["speed"]["train_ms_per_batch"]
    assert ps["train_time_vs_base"] == round(ps["speed"]["train_ms_per_batch"]
                                             / ps["speed_base"]["train_ms_per_batch"], 3)
    # Table 1's ratios checked against real training: the Fig. 5 units' wall time per iteration
    t1 = json.loads((out / "table1.json").read_text())
    ms, edge = t1["fig5_units_ms_per_iteration"], t1["edge_model"]
    assert set(ms) == {edge, "rcnn", "frrcnn"} and all(v > 0 for v in ms.values())
    assert t1["fig5_units_speedup_vs_edge"] == {c: round(ms[c] / ms[edge], 3) for c in ("rcnn", "frrcnn")}
    # what people would rather look at than read: confusions of every model, Fig. 6 per source and class
    fig5, fig6 = (json.loads((out / f"{e}.json").read_text()) for e in ("fig5", "fig6"))
    assert set(fig5["plots"]["confusion"]) == set(fig5["summary"]) == set(fig6["plots"]["confusion"])
    assert cv["plots"] == {"confusion_cv": "cv_confusion_folds.png", "confusion_random": "cv_confusion_random.png",
                           "confusion_standard": "cv_confusion_standard.png"}
    pngs = [*fig5["plots"]["confusion"].values(), *fig6["plots"]["confusion"].values(), *cv["plots"].values(),
            fig6["plots"]["per_source"], fig6["plots"]["per_class"]]
    assert all((out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    text = write_report(out, repo / "REPORT.md").read_text()
    assert all(f"({p})" in text or f"/{p})" in text for p in pngs)
    claims = text.split("## Claims")[1].split("\n## ")[0]
    assert "**pending**" not in claims
    for row in claims.splitlines():
        if row.startswith("| C") and not row.startswith("| C2 |"):
            # 8 iterations may leave R-CNN saying one class: then C3/C4 say so instead of a verdict
            assert "not testable" not in row or "never left one class" in row, row
    # the tiny budget's 8 iterations cannot place a convergence near 10,000; the paper budget's 24,800 can
    assert "too few to place a convergence" in next(r for r in claims.splitlines() if r.startswith("| C2 |"))
    for cid in ("C1a", "C1b", "C2", "C3", "C4", "C5", "C6a", "C6b", "C7", "C8", "C9", "C10", "C11", "C12", "C13"):
        assert f"| {cid} |" in claims
    assert "## Units of the paper budget" in text and "| fig5-rcnn | rcnn (48x48, fp32, MSE) |" in text
    assert "| fig5-rcnn-ce | rcnn (48x48, fp32, CE) |" in text
    assert "Random folds minus grouped folds" in text
    assert "; its units ran on " in text and "Provenance: aggregated at commit" in text
    assert "both nets timed in the same unit" in next(r for r in claims.splitlines() if r.startswith("| C13 |"))
    assert "| train time / base's (same unit) | machines |" in text
    assert "the Fig. 5 units' wall time per iteration on the same kind of machine gives rcnn" in \
        next(r for r in claims.splitlines() if r.startswith("| C5 |"))


def test_report_names_pending_units(data_root, tmp_path):
    """With some units done, the claims of unfinished experiments read pending and name the units."""
    out = tmp_path / "results"
    units.run_units("paper", out=out, data_root=data_root, only=["table1"], commit=False)
    assert units.aggregate("paper", out=out).keys() == {"table1"}
    first = (out / "table1.json").read_bytes()
    time.sleep(1.1)  # a new provenance time, were the file written again
    units.aggregate("paper", out=out)
    assert (out / "table1.json").read_bytes() == first  # same units, same file: nothing to commit
    text = write_report(out, tmp_path / "REPORT.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| C3 |"))
    assert "**pending**: waits for the paper budget's unit(s) fig5-edgecnn48, fig5-rcnn, fig5-frrcnn" in row
    row = next(line for line in text.splitlines() if line.startswith("| C5 |"))
    assert "pending" not in row and "| paper |" in row
    # the README's short table follows the same rows, between its markers; the rest of the README stays
    readme = tmp_path / "README.md"
    start, end = README_MARKERS
    readme.write_text(f"# Title\n\n{start}\n| old | table |\n{end}\n\nAfter.\n")
    write_report(out, tmp_path / "REPORT.md", readme=readme)
    short = readme.read_text()
    assert short.startswith(f"# Title\n\n{start}\n| # | claim |") and short.endswith(f"{end}\n\nAfter.\n")
    assert "| old | table |" not in short
    c5 = next(line for line in short.splitlines() if line.startswith("| C5 |"))
    assert "| **not supported**: rcnn" in c5 or "| **supported**: rcnn" in c5
    c3 = next(line for line in short.splitlines() if line.startswith("| C3 |"))
    assert c3.endswith("| pending |")  # no result at any budget in this folder yet
    readme.write_text("# No table here\n")
    with pytest.raises(ValueError, match="README.md: no claims table"):
        write_report(out, tmp_path / "REPORT.md", readme=readme)


def test_claims_get_verdicts_as_their_own_units_finish(data_root, tmp_path):
    """CV's grouped folds give C6a its verdict before the random folds run, Fig. 6's edge CNN
    gives C7 (the mix's sizes) before the contrast models run; the result files say which units
    are pending, the claims that wait name them, and a smaller budget's file moved aside still
    gives its verdict in brackets."""
    out = tmp_path / "results"
    plan = units.make_plan("paper", out=out, data_root=data_root, repeats=1)
    edge = plan["edge_model"]
    first = [f"fig5-{edge}", "cv-fold2", "cv-fold3", f"fig6-{edge}"]
    units.run_units("paper", out=out, data_root=data_root, only=first, commit=False)
    assert units.aggregate("paper", out=out).keys() == {"cv", "fig6"}  # fig5 waits for its contrast models
    cv = json.loads((out / "cv.json").read_text())
    assert [f["fold"] for f in cv["cv"]["per_fold"]] == [1, 2, 3] and "random_cv" not in cv
    assert cv["units_pending"] == ["cv-standard", "rcv-fold1", "rcv-fold2", "rcv-fold3"]
    fig6 = json.loads((out / "fig6.json").read_text())
    assert list(fig6["summary"]) == [edge] and fig6["units_pending"] == ["fig6-rcnn", "fig6-frrcnn", "fig6-rcnn-ce"]
    # a reduced-budget CV file, as an earlier run left it, moved aside by the next aggregation
    (out / "reduced").mkdir()
    (out / "reduced" / "cv.json").write_text(json.dumps({**cv, "budget": {**cv["budget"], "name": "reduced"},
                                                          "units_pending": []}))
    text = write_report(out, tmp_path / "REPORT.md").read_text()
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| C")}
    assert "pending" not in rows["C6a"] and "| paper |" in rows["C6a"]
    assert "**pending**: waits for the paper budget's unit(s) rcv-fold1, rcv-fold2, rcv-fold3" in rows["C6b"]
    assert "at the reduced budget: not testable as stated" in rows["C6b"]
    assert "pending" not in rows["C7"] and "| paper |" in rows["C7"]
    assert "waits for the paper budget's unit(s) fig6-rcnn, fig6-frrcnn, fig6-rcnn-ce" in rows["C8"]
    assert "waits for the paper budget's unit(s) ablation-s0-base, ablation-s1-base, ablation-s0-fusion_none, " \
           "ablation-s1-fusion_none" in rows["C9"]
    assert "Partial: the units cv-standard, rcv-fold1, rcv-fold2, rcv-fold3 are pending" in text
    assert "| 3-fold CV, plain random folds | pending |" in text
    # each done unit shows its own held-out accuracy, naming the images, before its experiment is whole
    table = {line.split(" | ")[0][2:]: line.split(" | ") for line in text.split("## Units of the paper budget")[1]
             .split("\n## ")[0].splitlines() if line.startswith("| ") and not line.startswith("| unit ")}
    f6 = json.loads((out / "paper" / f"fig6-{edge}.json").read_text())
    assert table[f"fig6-{edge}"][5] == f"{100 * f6['final']['accuracy']:.2f}% (the mix's test part)"
    assert table["cv-fold2"][5].endswith("% (held-out fold 2)")
    assert table[f"fig5-{edge}"][5].endswith("% (held-out fold 1)")
    assert table["fig6-rcnn"][4:6] == ["pending", "–"] and table["table1"][4] == "pending"


def test_estimates_scale_to_the_machine_at_hand(data_root, tmp_path):
    """A plan made on another kind of machine keeps its estimates, but the runner times the edge
    CNN here and scales them, so that --hours holds on a slower machine: with the plan's machine
    a thousand times faster, a unit estimated at 1 minute there no longer fits in 10 hours here."""
    from edgefer.results import write_json
    out = tmp_path / "results"
    plan = units.make_plan("paper", out=out, data_root=data_root, repeats=1)
    assert units.speed_factors(plan, "paper") == ({plan["edge_model"]: 1.0}, f"estimates from this kind of machine "
                                                  f"({machine_label(plan['provenance']['machine'])})")
    edge = plan["edge_model"]
    there = {**plan["provenance"]["machine"], "cpu": "Faster CPU"}
    plan = {**plan, "provenance": {**plan["provenance"], "machine": there},
            "units": [{**u, "est_minutes": 1.0} for u in plan["units"]]}
    plan["ms_per_batch"][edge]["train_ms_per_batch"] = 1e-3
    write_json(units.unit_dir(out, "paper") / units.PLAN, plan)
    said = []
    done = units.run_units("paper", out=out, data_root=data_root, hours=10, only=["table1", f"fig5-{edge}"],
                           commit=False, announce=said.append)
    assert done == []  # neither fits: nothing starts, and the runner says what would
    assert "on the plan's Faster CPU" in said[0] and "estimates scaled on this" in said[0]
    assert f"units started here train in {units._precision(units.budget_for('fig5', 'paper'))};" in said[0]
    assert [s.split(" is ")[0] for s in said if s.startswith("skip:")] == ["skip: table1", f"skip: fig5-{edge}"]
    assert said[-1].startswith("no pending unit fits in 10 h here; the shortest is table1 (")
    assert said[-1].endswith("run it with --only table1 (a killed unit resumes from its checkpoint)")
    # the plan itself is left as it was made
    assert json.loads((units.unit_dir(out, "paper") / units.PLAN).read_text())["units"][0]["est_minutes"] == 1.0


def test_hours_skips_a_long_unit_and_counts_what_a_killed_run_left(data_root, tmp_path, monkeypatch):
    """--hours skips a unit that would end past the slot and still runs later, shorter ones; a unit
    that a killed run began is estimated by the iterations it has left (its iterations.csv)."""
    from edgefer.results import write_json
    out = tmp_path / "results"
    plan = units.make_plan("paper", out=out, data_root=data_root, repeats=1)
    edge = plan["edge_model"]
    long_a, long_b, short = f"fig5-{edge}", "fig5-rcnn", "fig5-frrcnn"
    mins = {long_a: 600.0, long_b: 600.0, short: 30.0}
    plan["units"] = [{**u, "est_minutes": mins.get(u["name"], u["est_minutes"]), "iterations": 1000}
                     for u in plan["units"]]
    write_json(units.unit_dir(out, "paper") / units.PLAN, plan)
    # a killed run of long_b got through 950 of its 1,000 iterations: 30 minutes of 600 are left
    begun = units.work_dir(out, "paper", units.Unit(long_b, "fig5", "rcnn", fold=1))
    begun.mkdir(parents=True)
    (begun / "iterations.csv").write_text("epoch,iteration,loss,accuracy,lr\n0,949,0.5,0.5,0.01\n"
                                          "0,950,0.5,0.5,0.01\n")
    assert units.iterations_done(out, "paper", long_b) == 950
    assert units.iterations_done(out, "paper", long_a) == 0
    ran = []
    monkeypatch.setattr(units, "run_unit", lambda u, *a, **kw: ran.append(u.name) or
                        {"unit": u.name, "time": {"wall_hours": 0.0}})
    said = []
    units.run_units("paper", out=out, data_root=data_root, hours=1.5, only=[long_a, long_b, short],
                    commit=False, announce=said.append)
    assert ran == [long_b, short]  # in run order, the long one skipped
    assert f"skip: {long_a} is estimated at 600 min here" in " ".join(said)
    assert not any("no pending unit fits" in s for s in said)
    # --list says how far the begun unit got
    from edgefer.cli.main import app
    res = CliRunner().invoke(app, ["units", "--list", "--out", str(out), "--data-root", str(data_root)])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if line.startswith(long_b + " "))
    assert row.endswith("pending (950 it done; resumes from its checkpoint)")


def test_speed_factors_time_each_model_in_the_precision_units_train_in_here(monkeypatch):
    """A plan made in bf16 on an AMX Xeon, read on a CPU without native bf16: units there train in
    fp32 (emulated bf16 is tens of times slower), so the factors are timed in fp32, not the plan's
    bf16, and the sentence names both precisions. Each model gets its own factor (a 96x96 net slows
    more than a 48x48 one between those machines), timed once however many units train it."""
    import edgefer.bench
    import edgefer.cpu
    from edgefer.results import machine
    timed = []

    def fake_speed(model, *, batch, repeats, precision, **kw):
        timed.append((model, precision))
        ms = {"edgecnn48": 30.0, "edgecnn": 480.0}[model]
        return {"train_ms_per_batch": ms * batch / units.budget_for("fig5", "paper").batch_size}

    monkeypatch.setattr(edgefer.bench, "model_speed", fake_speed)
    monkeypatch.setattr(edgefer.cpu, "native_bf16", lambda *a, **k: False)
    there = {**machine(), "cpu": "Plan CPU"}
    plan = {"edge_model": "edgecnn48", "precision": "bf16", "provenance": {"machine": there},
            "ms_per_batch": {"edgecnn48": {"train_ms_per_batch": 60.0}, "edgecnn": {"train_ms_per_batch": 240.0}}}
    factors, said = units.speed_factors(plan, "paper", models=["edgecnn48", "edgecnn", "edgecnn48"], repeats=1)
    assert timed == [("edgecnn48", "fp32"), ("edgecnn", "fp32")]
    assert factors == {"edgecnn48": 0.5, "edgecnn": 2.0}
    assert f"edgecnn48 x0.5 (30.0 ms a training batch here in fp32, 60 ms on the plan's {machine_label(there)} " \
           f"in bf16); edgecnn x2 (480.0 ms" in said


def test_unknown_unit_is_refused(data_root, tmp_path):
    """--only with a name that is no unit fails naming the available ones."""
    with pytest.raises(ValueError, match="unknown unit.*fig5-nope.*available"):
        units.run_units("paper", out=tmp_path, data_root=data_root, only=["fig5-nope"], commit=False)


def test_commit_file_is_a_no_op_for_a_file_committed_unchanged(tmp_path):
    """A unit's file committed before (the plan, when the runner starts again) commits nothing and
    is no error; a changed one is committed."""
    import subprocess

    from edgefer.experiments.units import commit_file
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True, text=True)  # noqa: E731
    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    f = tmp_path / "plan.json"
    f.write_text("{}")
    assert commit_file(f, "plan")
    assert commit_file(f, "plan again")  # unchanged: no error, no commit
    assert git("rev-list", "--count", "HEAD").stdout.strip() == "1"
    f.write_text('{"a": 1}')
    assert commit_file(f, "plan changed")
    assert git("rev-list", "--count", "HEAD").stdout.strip() == "2"
