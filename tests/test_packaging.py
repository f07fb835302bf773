"""pyproject.toml tells the truth: every dependency is used by the package, every package the
package imports is declared (the web server's in the `web` extra), package data matches files."""
import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
IMPORT_NAME = {"opencv-python-headless": "cv2", "pillow": "PIL", "python-multipart": "multipart",
               "scikit-image": "skimage", "swagger-ui-bundle-v2": "swagger_ui_bundle"}
WEB_ONLY = ("edgefer/web/", "edgefer/cli/serve.py")
"""What may import the `web` extra's packages (`edgefer serve` says what to install without them)."""


def dist_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()


def import_name(requirement: str) -> str:
    name = dist_name(requirement)
    return IMPORT_NAME.get(name, name.replace("-", "_"))


def third_party_imports(paths) -> set[str]:
    """Top-level names of the non-stdlib, non-edgefer modules imported anywhere in ``paths``."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            found |= {n.split(".")[0] for n in names}
    return {n for n in found if n and n != "edgefer" and n not in sys.stdlib_module_names}


def package_files(web: bool) -> list[Path]:
    files = sorted((ROOT / "edgefer").rglob("*.py"))
    is_web = [any(str(p.relative_to(ROOT)).startswith(w) for w in WEB_ONLY) for p in files]
    return [p for p, w in zip(files, is_web) if w == web]


def test_every_dependency_is_imported_by_the_package():
    """No hard dependency is there only for a benchmark or a test: the package imports each one."""
    used = third_party_imports(package_files(web=False))
    unused = [r for r in PYPROJECT["project"]["dependencies"] if import_name(r) not in used]
    assert unused == []


def test_every_imported_package_is_declared():
    """What the package imports is a dependency; the web server may also import the `web` extra."""
    hard = {import_name(r) for r in PYPROJECT["project"]["dependencies"]}
    web = {import_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["web"]}
    assert third_party_imports(package_files(web=False)) - hard == set()
    assert third_party_imports(package_files(web=True)) - hard - web == set()
    assert {"fastapi", "uvicorn"} <= web and not {"fastapi", "uvicorn", "skimage"} & hard


def test_extras_named_in_messages_exist_and_tests_get_the_web_packages():
    """`edgefer serve`'s message names the `web` extra, which exists; the `test` extra holds what the
    web tests import."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    serve = (ROOT / "edgefer" / "cli" / "serve.py").read_text()
    for extra in re.findall(r"edgefer\[(\w+)\]", serve):
        assert extra in extras
    assert {dist_name(r) for r in extras["web"]} <= {dist_name(r) for r in extras["test"]}


def test_package_data_patterns_match_files():
    """Each package-data pattern matches at least one file in the package."""
    for package, patterns in PYPROJECT["tool"]["setuptools"]["package-data"].items():
        base = ROOT / package.replace(".", "/")
        for pattern in patterns:
            assert [p for p in base.glob(pattern) if p.is_file()], f"{package}: {pattern} matches nothing"


def test_serve_without_the_web_extra_says_what_to_install(monkeypatch):
    """`edgefer serve` where uvicorn cannot be imported exits 1 with one line naming the extra."""
    from typer.testing import CliRunner

    from edgefer.cli.main import app
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` raises ImportError
    r = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert r.exit_code == 1 and "pip install 'edgefer[web]'" in r.output and "Traceback" not in r.output
