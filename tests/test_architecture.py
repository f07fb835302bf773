"""Dependency direction (docs/architecture.md): no import cycles in edgefer, and recognizing a photo
loads nothing from training, experiments, the CLI, the web layer or plotting."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "edgefer"
PHOTO = ROOT / "examples" / "astronaut.jpg"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by their __init__)."""
    out = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its code (inside functions too).

    ``from X import a`` imports ``X.a`` when that is a module, else ``X``; ``import X.Y`` imports
    ``X.Y``. Importing a submodule also runs its parent packages' ``__init__``, which is not an
    edge: Python runs the parent first and it does not cause a partial import.
    """
    mods = modules(package)
    root = package.name

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {m: set() for m in mods}
    for mod, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package
                    pkg = mod.split(".") if is_package else mod.split(".")[:-1]
                    pkg = pkg[:len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([node.module] if node.module else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for name in names:
                target = known(name) if name.split(".")[0] == root else None
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (each holds at least one cycle),
    and modules that import themselves."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_cycle_finder_finds_a_cycle_through_an_import_inside_a_function(tmp_path):
    """The checker sees imports inside functions: a -> b at the top, b -> a inside a function."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n    return a\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.b"]]


def test_edgefer_has_no_import_cycles():
    """No module of edgefer imports, directly or through others, a module that imports it back,
    counting imports inside functions."""
    graph = import_graph()
    assert len(graph) > 50 and "edgefer.recognize" in graph["edgefer.cli.predict"]
    assert cycles(graph) == []


FORBIDDEN = ("edgefer.train", "edgefer.experiments", "edgefer.cli", "edgefer.web", "edgefer.export",
             "fastapi", "starlette", "uvicorn", "matplotlib", "typer")


@pytest.mark.parametrize("model", ["fast", "default", "fernet"])  # fernet: a torch checkpoint
def test_recognizing_a_photo_loads_nothing_from_training_cli_web_or_plots(model):
    """`Recognizer(MODEL).predict(photo)` in a fresh interpreter finds the face and leaves out of
    sys.modules: edgefer's train, experiments, cli, web and export packages, FastAPI, uvicorn,
    typer and matplotlib."""
    code = ("import json, sys; from edgefer.recognize import Recognizer; "
            f"faces = Recognizer({model!r}).predict({str(PHOTO)!r}); "
            "print(json.dumps({'faces': len(faces), 'modules': sorted(sys.modules)}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["faces"] == 1
    loaded = [m for m in out["modules"] if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert loaded == []
    assert "edgefer.recognize" in out["modules"] and "edgefer.classifiers" in out["modules"]
