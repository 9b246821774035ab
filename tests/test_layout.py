"""The architecture holds: data flows one way through the engine's packages, Whoosh stays in
storage and the query parser, no import circles, no engine module reaches up into the web
layer or the CLI, faiss stays in the nearest-neighbour graph, and no class or function grows
past what one reads at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENGINE = ROOT / "indexer"
# What each package of the engine may import from the others (config is everyone's).
MAY_IMPORT = {
    "corpus": set(),
    "text": set(),
    "storage": {"corpus", "text"},
    "query": {"storage", "text", "corpus"},
    "ranking": {"query", "storage", "text", "corpus"},
    "search": {"ranking", "query", "storage", "text", "corpus"},
    "build": {"ranking", "storage", "text", "corpus"},
}
# Modules of the engine that may import Whoosh: the storage package, the query parser, and
# text analysis for Whoosh's Porter stemmer and accent table (every index term was made by
# them; see indexer.text.analysis).
WHOOSH_ALLOWED = ("indexer/storage/", "indexer/query/parser.py", "indexer/text/analysis.py")
MAX_WHOOSH_MODULES = 6
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80


def _modules(root: Path) -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in sorted(root.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


ENGINE_MODULES = _modules(ENGINE)


def _engine_imports(name: str) -> set[str]:
    return {m for m in _imports(ENGINE_MODULES[name]) if m in ENGINE_MODULES and m != name}


def test_no_engine_module_imports_the_web_layer_or_the_cli():
    offenders = {name: sorted(m for m in _imports(path)
                              if m.split(".")[0] in ("webapp", "healthsearch"))
                 for name, path in ENGINE_MODULES.items()}
    assert {n: m for n, m in offenders.items() if m} == {}


def test_whoosh_is_imported_only_by_storage_and_the_parser():
    importing = sorted(str(path.relative_to(ROOT)) for path in ENGINE_MODULES.values()
                       if any(m.split(".")[0] == "whoosh" for m in _imports(path)))
    assert len(importing) <= MAX_WHOOSH_MODULES, importing
    assert [p for p in importing if not p.startswith(WHOOSH_ALLOWED)] == []


def test_faiss_is_imported_only_by_the_nearest_neighbour_graph():
    importing = sorted(str(path.relative_to(ROOT)) for path in ENGINE_MODULES.values()
                       if any(m.split(".")[0] == "faiss" for m in _imports(path)))
    assert importing == ["indexer/storage/neighbours.py"]


def test_packages_import_only_the_layers_below_them():
    wrong = []
    for name in ENGINE_MODULES:
        parts = name.split(".")
        if len(parts) < 3 or parts[1] not in MAY_IMPORT:
            continue
        for other in _engine_imports(name):
            package = other.split(".")[1] if other.count(".") >= 1 else ""
            if package in MAY_IMPORT and package != parts[1] \
                    and package not in MAY_IMPORT[parts[1]]:
                wrong.append(f"{name} -> {other}")
    assert wrong == []


def test_no_module_imports_itself_back_in_a_circle():
    # A module importing its own package (indexer.storage.reader -> indexer.storage, for a
    # sibling module) is how a package is read, not a circle.
    graph = {name: {m for m in _engine_imports(name) if not name.startswith(m + ".")}
             for name in ENGINE_MODULES}
    visiting, done, circles = set(), set(), []

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        if name in visiting:
            circles.append(path[path.index(name):] + [name])
            return
        visiting.add(name)
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        visit(name, [])
    assert circles == []


def _spans(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield node, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("folder", ["indexer", "webapp", "healthsearch"])
def test_no_class_or_function_is_too_long_to_read(folder):
    too_long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node, lines in _spans(path):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if lines > limit:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {lines}")
    assert too_long == []
