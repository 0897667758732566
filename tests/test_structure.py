"""The package's shape: no import cycles (function-level imports counted), short modules, old paths kept.

The import graph is read from the source (``ast``), not from ``sys.modules``: an import inside a
function counts like one at the top, so a lazy import cannot hide a cycle.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from erts_kit._moved import MOVED

PACKAGE = Path(__file__).resolve().parents[1] / "erts_kit"
MAX_LINES = 420   # "a few hundred lines at most": ~400, with a little slack for a docstring


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """erts_kit modules that ``module`` imports anywhere in its source (the deepest known name of each)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            names = subs if subs and len(subs) == len(node.names) else [target, *subs]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: erts_kit modules it imports}`` for every module of the package."""
    mods = _modules()
    return {m: _imported(m, p, set(mods)) for m, p in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_counts_imports_inside_functions():
    graph = import_graph()
    assert "erts_kit.explain" in graph["erts_kit.selection.scoring"]      # imported inside a function there
    assert "erts_kit.training.loop" in graph["erts_kit.training"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_modules_stay_short():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: split them by job"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_paths_import_the_new_modules(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_old_names_stay_importable():
    from erts_kit.experiments import filter_precision_recall, pick_examples, run_grid, summarise
    from erts_kit.report import write_report
    from erts_kit.train import TrainConfig, evaluate, load_checkpoint, train

    from erts_kit import results, training
    assert (run_grid, summarise, filter_precision_recall, pick_examples) == \
        (results.run_grid, results.summarise, results.filter_precision_recall, results.pick_examples)
    assert (train, TrainConfig, evaluate, load_checkpoint, write_report) == \
        (training.train, training.TrainConfig, training.evaluate, training.load_checkpoint, results.write_report)
