"""``edgefer --version``: the package's version (the one pyproject.toml declares) and its
main dependencies', without running a command."""
import tomllib
from importlib import metadata
from pathlib import Path

from typer.testing import CliRunner

import edgefer
from edgefer.cli.main import VERSIONS_OF, app

runner = CliRunner()
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_prints_the_declared_version_and_the_dependencies_then_exits():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert edgefer.__version__ == declared
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0, r.output
    first, second = r.output.splitlines()
    assert first == f"edgefer {declared}"
    for name in VERSIONS_OF:
        assert f"{name} {metadata.version(name)}" in second


def test_version_wins_over_a_command_and_runs_nothing(tmp_path):
    out = tmp_path / "never"
    r = runner.invoke(app, ["--version", "predict", "missing.jpg", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("edgefer ") and not out.exists()
