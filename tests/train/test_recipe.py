"""Recipes: each shipped model's recipe file gives the run its old shell command gave."""
from pathlib import Path

import pytest
import typer
from typer.main import get_command

from edgefer.checkpoint import load_checkpoint
from edgefer.cli.main import app
from edgefer.cli.train import plan_run, resolve_params
from edgefer.cpu import run_precision
from edgefer.recognize import WEIGHTS_DIR
from edgefer.train.recipe import KEYS, read_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
DATA = "../shared/datasets/fer2013"

OLD_COMMANDS = {
    # name: (OUT, EPOCHS, LR, EXTRA) of `OUT=… EPOCHS=… LR=… EXTRA="…" scripts/train_shipped.sh`, as
    # README.md's training table gave them (`fernet-kdx`: "as fernet-kdw4 with --seed 14 and
    # --arg widths=(64,128,256,512)", fernet-kdw4 being fernet-kdw with EPOCHS=50 and --seed 10).
    "fernet": ("runs/fernet", "20", "0.1", "--arg fusion=none"),
    "fernet-fusion": ("runs/fernet-fusion", "20", "0.1", ""),
    "fernet32-fer2013": ("runs/fernet-kd2", "40", "0.1", "--seed 3 --teacher fer2013-ensemble --soft-labels 0.7 --arg fusion=none"),
    "fernet64-fer2013": ("runs/fernet-kdx", "50", "0.1", "--seed 14 --teacher fer2013-ensemble --soft-labels 0.7 --arg fusion=none "
                   "--arg widths=(48,96,192,384) --arg widths=(64,128,256,512)"),
    "fernet16-ferplus": ("runs/fernet16-fp1", "40", "0.1", "--seed 31 --teacher default --soft-labels 0.9 --ferplus 0.5 "
                         "--val-labels ferplus --arg fusion=none --arg widths=(16,32,64,128) --arg depths=(1,1,2,2)"),
    "fernet32-ferplus": ("runs/fernet-s1-soft", "40", "0.1", "--seed 1 --soft-labels 0.5 --arg fusion=none"),
    "fernet32-kirsch-ferplus": ("runs/fernet-fusion-s1-soft", "40", "0.1", "--seed 1 --soft-labels 0.5"),
}


def old_args(out: str, epochs: str, lr: str, extra: str) -> list[str]:
    """scripts/train_shipped.sh's argument list (before this change) for those variables."""
    return ["--data", DATA, "--model", "fernet", "--epochs", epochs, "--batch-size", "128", "--lr", lr,
            "--warmup", "1", "--label-smoothing", "0.1", "--augment", "standard",
            "--precision", run_precision(out), "--weight-decay", "5e-4", "--checkpoint-every", "100",
            "--out", out, *extra.split()]


def plan(args: list[str]) -> dict:
    """What `edgefer train ARGS` would run (options checked, nothing read or trained)."""
    command = get_command(app).commands["train"]
    with command.make_context("train", list(args)) as ctx:
        return plan_run(resolve_params(ctx))


def comparable(run: dict) -> dict:
    return {"config": run["config"].to_dict(), **{k: run[k] for k in ("data", "split", "val_split", "out", "init", "teacher")}}


def test_every_shipped_model_has_a_recipe():
    """recipes/ holds one file per shipped model trained with `edgefer train`, and nothing else."""
    assert sorted(p.stem for p in RECIPES.glob("*.toml")) == sorted(OLD_COMMANDS)


@pytest.mark.parametrize("name", sorted(OLD_COMMANDS))
def test_recipe_gives_the_run_of_the_old_command(name):
    """`edgefer train --recipe recipes/NAME.toml --data DATA` plans the same TrainConfig (teacher and
    starting weights hashed alike), data, splits and output folder as the old shell command."""
    new = plan(["--recipe", str(RECIPES / f"{name}.toml"), "--data", DATA])
    old = plan(old_args(*OLD_COMMANDS[name]))
    assert comparable(new) == comparable(old)
    assert new["config"].model == "fernet" and new["out"] == Path(OLD_COMMANDS[name][0])


def test_fernet_recipe_matches_the_config_saved_in_the_shipped_checkpoint():
    """recipes/fernet.toml gives the config that edgefer/weights/fernet.pt was trained with (its
    precision was the machine's choice, bf16, which the recipe's `auto` also picks there)."""
    saved = load_checkpoint(WEIGHTS_DIR / "fernet.pt")["config"]
    planned = plan(["--recipe", str(RECIPES / "fernet.toml"), "--data", DATA])["config"].to_dict()
    planned["model_kwargs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in planned["model_kwargs"].items()}
    assert {k: planned[k] for k in saved if k != "precision"} == {k: v for k, v in saved.items() if k != "precision"}


def test_command_line_overrides_the_recipe(tmp_path):
    """Options on the command line win over the recipe's; --arg items are added to its [args]."""
    run = plan(["--recipe", str(RECIPES / "fernet16-ferplus.toml"), "--data", DATA, "--epochs", "3",
                "--arch", "fernet", "--arg", "depths=(1,1,1,1)", "--out", str(tmp_path / "o"),
                "--precision", "fp32"])
    cfg = run["config"]
    assert (cfg.epochs, cfg.seed, cfg.precision) == (3, 31, "fp32")
    assert cfg.model_kwargs == {"fusion": "none", "widths": (16, 32, 64, 128), "depths": (1, 1, 1, 1)}
    assert run["out"] == tmp_path / "o"


@pytest.mark.parametrize("text, match", [
    ("epochs = 3\nlearning_rate = 0.1\n", r"bad\.toml: unknown key\(s\) learning_rate"),
    ("epochs = \"three\"\n", r"bad\.toml: `epochs` must be a int; got 'three'"),
    ("epochs = [3\n", r"bad\.toml: not a TOML recipe"),
    ("[args]\nfusion = {a = 1}\n", r"bad\.toml: \[args\] values .* fusion is a table"),
])
def test_read_recipe_bad_file_names_it_and_the_problem(tmp_path, text, match):
    """A recipe with an unknown key, a wrong type or bad TOML raises ValueError naming the file."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_recipe(path)


def test_train_with_a_bad_recipe_is_one_error_line(tmp_path):
    """`edgefer train --recipe` with a missing file exits 1 with one error line naming it."""
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["train", "--recipe", str(tmp_path / "none.toml"), "--data", DATA,
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "--recipe" in r.output and "none.toml" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()


def test_recipe_keys_are_train_options():
    """Every key a recipe may hold is one of `edgefer train`'s long options (``[args]``: --arg)."""
    command = get_command(app).commands["train"]
    longs = {o[2:].replace("-", "_") for p in command.params for o in p.opts if o.startswith("--")}
    assert set(KEYS) - {"args"} <= longs and "arg" in longs


def test_arch_and_its_old_name_model_disagreeing_is_refused():
    """--arch with a different --model (its old name) is a clean exit, not a silent choice."""
    with pytest.raises(typer.Exit):
        plan(["--data", DATA, "--arch", "fernet", "--model", "edgecnn48"])
    assert plan(["--data", DATA, "--model", "fernet_small"])["config"].model == "fernet_small"
