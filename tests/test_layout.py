"""The package layout is the pipeline: a stage imports only the stages before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "splitter"

# What each stage may import of ours; the face (cli, api, ...) may import anything.
ALLOWED = {
    "campaign": {"campaign", "errors"},
    "store": {"store", "campaign", "errors"},
    "run": {"run", "store", "campaign", "errors", "version"},
    "merge": {"merge", "store", "campaign", "errors"},
    "report": {"report", "merge", "store", "campaign", "errors", "version"},
}
# The run command plans a rescue from a merged report.json: the one way up.
EXCEPTIONS = {("run/command.py", "merge")}
STAGES = tuple(ALLOWED)
FACE = {"__init__", "__main__", "cli", "api", "errors", "version", "frozen"}


def _imported_stages(path: Path) -> set[str]:
    """The first component under `splitter` of every module the file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "splitter" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules(stage: str) -> list[Path]:
    return sorted((PACKAGE / stage).rglob("*.py"))


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_later_stage(stage: str) -> None:
    wrong = {}
    for path in _modules(stage):
        where = path.relative_to(PACKAGE / stage).as_posix()
        bad = {
            imported
            for imported in _imported_stages(path) - ALLOWED[stage]
            if (f"{stage}/{where}", imported) not in EXCEPTIONS
        }
        if bad:
            wrong[f"{stage}/{where}"] = sorted(bad)
    assert wrong == {}


def test_the_top_level_holds_only_the_face() -> None:
    top = {path.stem for path in PACKAGE.glob("*.py")}
    folders = {
        path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__"
    }
    assert top == FACE
    assert folders == set(STAGES)


def test_every_stage_says_what_it_takes_and_hands_on() -> None:
    for stage in STAGES:
        docstring = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert docstring is not None and "hands on" in docstring.lower(), stage


def test_the_runner_imports_no_concrete_engine() -> None:
    imported = set()
    tree = ast.parse((PACKAGE / "run" / "runner.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    engines = {
        name for name in imported if name.startswith(("splitter.run.local", "splitter.run.dask"))
    }
    assert engines == set()
    assert not {name for name in imported if name.split(".")[0] in ("distributed", "dask")}


def test_the_import_walk_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from splitter.run.runner import run_share\nimport splitter.merge.rules\n")
    assert _imported_stages(module) == {"run", "merge"}
