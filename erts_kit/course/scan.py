"""Errors an executed notebook shows: error outputs, stderr tracebacks, and tracebacks inside widgets.

ipywidgets callbacks swallow exceptions: the widget shows a traceback (saved in the notebook's widget
state), the cell succeeds. :func:`notebook_errors` reads both the cells and that saved state.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["WIDGET_STATE_KEY", "notebook_errors"]

WIDGET_STATE_KEY = "application/vnd.jupyter.widget-state+json"


_TRACEBACK = "Traceback (most recent call last)"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _output_problem(out: dict[str, Any]) -> str | None:
    """A one-line description of an error output (error, or stderr holding a traceback), else None."""
    if out.get("output_type") == "error":
        return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    if out.get("output_type") == "stream" and out.get("name") == "stderr":
        text = _ANSI.sub("", "".join(out.get("text", "")))
        if _TRACEBACK in text:
            last = [ln for ln in text.strip().splitlines() if ln.strip()]
            return last[-1].strip() if last else "traceback on stderr"
    return None


def notebook_errors(nb: nbformat.NotebookNode | str | Path) -> list[str]:
    """Every error an executed notebook shows: error outputs, stderr tracebacks, and widget tracebacks.

    Widgets are read from the saved widget state (``nb.metadata.widgets``): an Output widget whose
    outputs hold an error or a traceback (a guarded callback's, or ``interact``'s) counts.

    Returns:
        one line per problem, ``"cell 3: ValueError: ..."`` or ``"widget <id>: ValueError: ..."``.

    Example:
        >>> nb = nbformat.v4.new_notebook()
        >>> nb.cells = [nbformat.v4.new_code_cell("1/0")]
        >>> nb.cells[0].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError",
        ...                                              evalue="division by zero", traceback=[])]
        >>> notebook_errors(nb)
        ['cell 0: ZeroDivisionError: division by zero']
    """
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(str(nb), as_version=4)
    problems: list[str] = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            msg = _output_problem(out)
            if msg:
                problems.append(f"cell {i}: {msg}")
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE_KEY, {}).get("state", {})
    for model_id, model in state.items():
        for out in model.get("state", {}).get("outputs", []) or []:
            msg = _output_problem(out)
            if msg:
                problems.append(f"widget {model_id}: {msg}")
    return problems
