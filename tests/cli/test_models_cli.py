"""``edgefer models``: the architectures and the shipped models, with their roles marked."""
import json

from typer.testing import CliRunner

from edgefer.cli.main import app
from edgefer.recognize import DEFAULT_MODEL, FAST_MODEL, SMALL_MODEL

runner = CliRunner()


def test_models_json_marks_one_default_one_fast_and_one_small_model():
    r = runner.invoke(app, ["models", "--json"])
    assert r.exit_code == 0, r.output
    shipped = json.loads(r.output)["shipped"]
    for role, name in (("default", DEFAULT_MODEL), ("fast", FAST_MODEL), ("small", SMALL_MODEL)):
        assert [n for n, s in shipped.items() if s[role]] == [name]
    assert shipped[SMALL_MODEL]["architecture"] == "fernet" and shipped[SMALL_MODEL]["kind"] == "onnx"


def test_models_text_names_each_role_once():
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0, r.output
    shipped = [line.split()[0] for line in r.output.split("shipped models", 1)[1].splitlines()[1:] if line.strip()]
    for role, name in (("default", DEFAULT_MODEL), ("fast", FAST_MODEL), ("small", SMALL_MODEL)):
        marked = [line for line in r.output.splitlines() if line.strip().startswith(name + " (")]
        assert len(marked) == 1 and role in marked[0].split("(", 1)[1], r.output  # fast and small may share a file
        assert name in shipped


def test_models_lists_roles_first_with_cost_and_scores():
    """`edgefer models` starts with the roles, each with its passes per face, size and scores, and
    says where the scores come from; --json holds the same under "roles"."""
    from edgefer.recognize import ROLES
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("roles")
    for i, (role, name) in enumerate(ROLES.items(), start=1):
        assert lines[i].split()[:2] == [role, name] and "passes per face" in lines[i] and "MB" in lines[i]
    roles = json.loads(runner.invoke(app, ["models", "--json"]).output)["roles"]
    assert list(roles) == list(ROLES)
    assert roles["fast"]["passes"] <= 1.0 and roles["small"]["passes"] <= 0.2  # the role budgets
    assert roles["default"]["passes"] > roles["fast"]["passes"] and roles["default"]["bytes"] > roles["fast"]["bytes"]
    assert all(r["scores"] and r["scores_from"] for r in roles.values())


def test_models_reads_role_scores_from_the_model_choice_results(tmp_path, monkeypatch):
    """When results/model-choice.json gives a role's scores, `edgefer models` shows those and says
    so; roles it does not name keep the scores in their model files."""
    import edgefer.cli.models as models
    choice = tmp_path / "model-choice.json"
    choice.write_text(json.dumps({"roles": {"fast": {"model": "x", "scores": {"lfw_choose_balanced": 0.51}}}}))
    monkeypatch.setattr(models, "MODEL_CHOICE", choice)
    roles = json.loads(runner.invoke(app, ["models", "--json"]).output)["roles"]
    assert roles["fast"]["scores"] == {"lfw_choose_balanced": 0.51}
    assert roles["fast"]["scores_from"] == "results/model-choice.json"
    assert roles["small"]["scores_from"].endswith("(the model's metadata)")
