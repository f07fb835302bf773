"""``edgefer bench`` refuses a bad --also before timing anything."""
from typer.testing import CliRunner

from edgefer.cli.main import app
from edgefer.recognize import FAST_MODEL

runner = CliRunner()


def test_bench_also_unknown_shipped_model_names_it_and_lists_shipped():
    r = runner.invoke(app, ["bench", "--also", "fernet-nosuch-int8", "--model", "fernet_small"])
    assert r.exit_code == 1
    assert "--also: no shipped model fernet-nosuch-int8; shipped: " in r.output
    assert FAST_MODEL in r.output


def test_bench_also_needs_shipped():
    r = runner.invoke(app, ["bench", "--no-shipped", "--also", FAST_MODEL, "--model", "fernet_small"])
    assert r.exit_code == 1 and "cannot be used with --no-shipped" in r.output
