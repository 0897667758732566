"""Which names a notebook accepts as parameters, checked before any kernel starts.

papermill overrides a notebook's parameters by writing ``name = value`` lines into a cell after the
one tagged ``parameters``. Values are escaped; *names* are not: a name such as
``"SEED = 1; import os; _X"`` would run as code in the kernel, and a typo (``EPOCH``) would only
warn while the notebook runs on its defaults. So the runner passes a name only when it is a Python
identifier (not a keyword) **and** assigned in the notebook's (first) ``parameters`` cell; otherwise
nothing runs and the error lists the names the notebook knows, closest match first.

``SMOKE`` is the runner's own switch (:data:`RUNNER_NAMES`): it is always passed, every notebook of
the series defines it, and it is never refused.

Example:
    >>> check_parameter_names({"SMOKE": True, "EPOCHS": 2}, ["SMOKE", "SEED", "EPOCHS"], "01_intro")
    >>> check_parameter_names({"EPOCH": 2}, ["SMOKE", "SEED", "EPOCHS"], "01_intro")
    Traceback (most recent call last):
    ...
    ValueError: Unknown parameter 'EPOCH' for notebook 01_intro: expected one of its parameters EPOCHS, SEED, SMOKE (closest first); fix the name in the parameters file.
"""
from __future__ import annotations

import ast
import difflib
import keyword
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["RUNNER_NAMES", "check_parameter_names", "is_parameter_name", "notebook_parameter_names"]

RUNNER_NAMES: tuple[str, ...] = ("SMOKE",)
"""Names the runner itself passes to every notebook; never refused."""

_SHOWN = 80  # characters of a refused name shown in a message


def is_parameter_name(name: Any) -> bool:
    """Whether ``name`` can be written as ``name = value`` safely: a str, an identifier, not a keyword.

    Example:
        >>> is_parameter_name("EPOCHS"), is_parameter_name("SEED = 1; _X"), is_parameter_name("class")
        (True, False, False)
    """
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _targets(node: ast.expr) -> Iterable[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            yield from _targets(elt)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)


def _assigned(body: Sequence[ast.stmt]) -> list[str]:
    """Names assigned at module level (also inside top-level if/try/with blocks), in order."""
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.extend(_targets(target))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names.extend(_targets(node.target))
        elif isinstance(node, ast.If):
            names.extend(_assigned(node.body) + _assigned(node.orelse))
        elif isinstance(node, (ast.With, ast.Try)):
            names.extend(_assigned(node.body))
            for extra in ("handlers", "orelse", "finalbody"):
                for part in getattr(node, extra, []):
                    names.extend(_assigned(part.body) if isinstance(part, ast.ExceptHandler) else _assigned([part]))
    return list(dict.fromkeys(names))


def _parse(source: str, where: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:  # IPython syntax (%magic, !shell): let IPython turn it into Python first
        from IPython.core.inputtransformer2 import TransformerManager
        return ast.parse(TransformerManager().transform_cell(source))
    except Exception as err:  # noqa: BLE001 - any failure: the cell does not parse
        line = getattr(err, "lineno", None)
        raise ValueError(f"Expected the parameters cell of {where} to be Python, got a cell that does not parse"
                         f"{f' (line {line})' if line else ''}: fix that cell.") from None


def notebook_parameter_names(notebook: str | Path | nbformat.NotebookNode) -> list[str] | None:
    """The names a notebook's first cell tagged ``parameters`` assigns, in order (None: no such cell).

    papermill injects its overrides after the *first* tagged cell, so only that cell counts.

    Example:
        >>> nb = nbformat.v4.new_notebook()
        >>> nb.cells = [nbformat.v4.new_code_cell("SMOKE = False\\nEPOCHS = 2 if SMOKE else 30\\nA, B = 1, 2",
        ...                                       metadata={"tags": ["parameters"]})]
        >>> notebook_parameter_names(nb)
        ['SMOKE', 'EPOCHS', 'A', 'B']
        >>> notebook_parameter_names(nbformat.v4.new_notebook()) is None
        True
    """
    where = "the notebook"
    if not isinstance(notebook, nbformat.NotebookNode):
        where = Path(notebook).stem
        notebook = nbformat.read(str(notebook), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return _assigned(_parse(cell.source, where).body)
    return None


def _shown(name: Any) -> str:
    text = repr(name)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 4] + "...'"


def _listing(name: Any, known: Sequence[str]) -> str:
    """``known`` with the closest matches to ``name`` first."""
    close = difflib.get_close_matches(name, known, n=len(known), cutoff=0.5) if isinstance(name, str) else []
    rest = sorted(k for k in known if k not in close)
    return ", ".join(close + rest) + (" (closest first)" if close else "")


def check_parameter_names(params: Mapping[Any, Any], known: Sequence[str] | None, notebook: str) -> None:
    """Raise unless every name of ``params`` is a safe identifier the notebook's parameters cell assigns.

    Args:
        params: the parameters this notebook would receive (name -> value).
        known: the names of its parameters cell (:func:`notebook_parameter_names`); None: it has none.
        notebook: its name, for the message.

    Raises:
        ValueError: one line naming the first bad name, what the notebook accepts and how to fix it.

    Example:
        >>> check_parameter_names({"SEED = 1; _X": 0}, ["SEED"], "01_intro")
        Traceback (most recent call last):
        ...
        ValueError: Parameter name 'SEED = 1; _X' for notebook 01_intro is not a Python identifier: expected one of its parameters SEED (closest first); nothing was run. Fix the name in the parameters file.
    """
    given = [n for n in params if n not in RUNNER_NAMES]
    if not given:
        return
    if known is None:
        raise ValueError(f"Notebook {notebook} has no cell tagged 'parameters', so it takes no parameters, got "
                         f"{', '.join(_shown(n) for n in given)}: tag the cell that assigns them 'parameters' "
                         f"or drop them from the parameters file.")
    for name in given:
        if not is_parameter_name(name):
            raise ValueError(f"Parameter name {_shown(name)} for notebook {notebook} is not a Python identifier: "
                             f"expected one of its parameters {_listing(name, known)}; nothing was run. "
                             f"Fix the name in the parameters file.")
    for name in given:
        if name not in known:
            raise ValueError(f"Unknown parameter {_shown(name)} for notebook {notebook}: expected one of its "
                             f"parameters {_listing(name, known)}; fix the name in the parameters file.")
