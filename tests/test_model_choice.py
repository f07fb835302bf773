"""The shipped roles are the winners of the committed choice (scripts/choose_models.py, issue #37).

``results/model-choice.json`` holds every scored choice; these tests re-derive each role's winner
from its rows by the rule the script states, and check that the package ships exactly that.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgefer.classifiers import read_manifest
from edgefer.recognize import ROLES, WEIGHTS_DIR, shipped_path

CHOICE = Path(__file__).resolve().parents[1] / "results" / "model-choice.json"


@pytest.fixture(scope="module")
def choice():
    return json.loads(CHOICE.read_text())


def _winner(rows, role, budget):
    pool = [r for r in rows if r["passes"] <= budget
            and (role == "default" or (len(r["members"]) == 1 and r["views"] == "face"))]
    return max(pool, key=lambda r: (r["objective"], -r["passes"], -len(r["members"])))


@pytest.mark.parametrize("role", ["default", "fast", "small"])
def test_rule_winner_is_recorded(choice, role):
    """The winner written in the file is the best row by the rule (objective, then fewer passes)."""
    budget = choice["rule"]["budgets"][role]
    best = _winner(choice["choices"], role, budget)
    assert choice["winners"][role]["members"] == best["members"]
    assert choice["winners"][role]["views"] == best["views"]
    for r in choice["choices"]:
        assert r["objective"] == pytest.approx((r["ferplus_publictest"] + r["lfw_choose_balanced"]) / 2, abs=1e-4)


@pytest.mark.parametrize("role", ["default", "fast", "small"])
def test_shipped_role_is_the_winner(choice, role):
    """The package's file for each role holds the winning members, views and bytes."""
    win = choice["winners"][role]
    path = shipped_path(ROLES[role])
    assert path is not None, f"role {role}: {ROLES[role]} is not in {WEIGHTS_DIR}"
    if path.suffix == ".json":
        manifest = read_manifest(path)
        members, tta = manifest["members"], manifest["tta"]
        assert [m.name for m in members] == win["members"]
        assert tuple(tta) == tuple(choice["reported"][role]["tta"])
    else:
        assert win["views"] == "face" and len(win["members"]) == 1
        members = [path]
        assert path.name == win["members"][0]
    import hashlib
    for m in members:
        assert hashlib.sha256(Path(m).read_bytes()).hexdigest() == choice["candidates"][Path(m).name]["sha256"]


def test_reported_measures_are_complete(choice):
    """Every shipped role is reported on FER+ PrivateTest, LFW's reporting half and FER-2013
    PrivateTest, with per-class recall and a confusion matrix, and the two LFW halves share no person."""
    for role in ("default", "fast", "small"):
        reports = choice["reported"][role]["reports"]
        for measure in ("ferplus_privatetest", "lfw_report", "fer2013_privatetest"):
            rep = reports[measure]
            assert {"accuracy", "balanced_accuracy", "per_class", "confusion", "n"} <= rep.keys()
            assert all("recall" in v for v in rep["per_class"].values())
        assert reports["lfw_report"]["n"] + reports["lfw_choose"]["n"] == choice["lfw"]["photos"]
