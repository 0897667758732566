"""Helpers for the notebook tests: where the series lives and the conventions every notebook follows.

Conventions of the numbered series ``notebooks/NN_name.ipynb`` (checked by :func:`lint_notebook`):

1. The first code cell installs the kit on Colab only::

       import sys
       if "google.colab" in sys.modules:
           %pip install -q "erts-kit @ git+https://github.com/erts-kit/erts-kit"

2. Exactly one code cell is tagged ``parameters`` (papermill injects its overrides after it) and
   assigns at least :data:`REQUIRED_PARAMETERS`, ``SMOKE`` as a literal ``True``/``False``. The
   default is the notebook's choice (the series uses ``SMOKE = False``: a student's run is the real
   one); the runner and the tests always pass ``SMOKE`` explicitly. Cost knobs derive from it
   (``EPOCHS = 2 if SMOKE else 30``) in the parameters cell or the cell after it.
3. No committed outputs or execution counts (executed copies go to ``notebooks/_executed/``).
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FIXTURE_DIR = ROOT / "tests" / "nb_fixtures"
REQUIRED_PARAMETERS = ("SMOKE", "SEED", "DATASET", "DATA_DIR", "MODEL", "POLICY", "EPOCHS")


def series_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks of a folder, sorted (empty while none is written)."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def assigned_names(source: str) -> dict[str, object]:
    """Names a cell assigns at top level, with their literal value (``None`` when not a literal).

    >>> assigned_names("SMOKE = True\\nEPOCHS = 2 if SMOKE else 30")
    {'SMOKE': True, 'EPOCHS': None}
    """
    out: dict[str, object] = {}
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(node.value) if node.value is not None else None
                except ValueError:
                    out[t.id] = None
    return out


def lint_notebook(nb: nbformat.NotebookNode) -> list[str]:
    """Every way a notebook departs from the series conventions (empty list: it follows them)."""
    problems: list[str] = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        return ["no code cells"]
    first = code[0].source
    if not ('"google.colab" in sys.modules' in first or "'google.colab' in sys.modules" in first) \
            or "%pip install" not in first:
        problems.append('first code cell must install the kit on Colab only: '
                        'if "google.colab" in sys.modules: %pip install ...')
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        problems.append(f"expected exactly one cell tagged 'parameters', found {len(params)}")
    else:
        names = assigned_names(params[0].source)
        missing = [n for n in REQUIRED_PARAMETERS if n not in names]
        if missing:
            problems.append(f"parameters cell does not define {missing}")
        if "SMOKE" in names and not isinstance(names["SMOKE"], bool):
            problems.append(f"parameters cell must set SMOKE to True or False, got SMOKE = {names['SMOKE']!r}")
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None):
            problems.append(f"cell {i} has committed outputs or an execution count: clear them before committing")
    return problems


# Smoke notebooks take 10-35 s in all; a cell still running after this long is stuck. Well below
# pytest-timeout's 600 s, so a stuck cell fails with the runner's message naming it, not a bare timeout.
CELL_TIMEOUT_S = 120


def run_smoke(path, output_dir, parameters=None):
    """Run one notebook with :func:`run_notebooks` in smoke mode under :data:`CELL_TIMEOUT_S` per cell."""
    from erts_kit.course.runner import run_notebooks

    return run_notebooks(path, parameters={"SMOKE": True, **(parameters or {})}, output_dir=output_dir,
                         progress=False, timeout=CELL_TIMEOUT_S)
