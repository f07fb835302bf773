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
    for role, name in (("default", DEFAULT_MODEL), ("fast", FAST_MODEL), ("small", SMALL_MODEL)):
        assert r.output.count(f"({role})") == 1 and f"{name} ({role})" in r.output
