"""Build the series' notebooks from their jupytext percent-format sources, and back.

Sources live in ``notebooks/_src/NN_name.py`` (jupytext's ``percent`` format: ``# %%`` starts a code
cell, ``# %% [markdown]`` a markdown cell, ``# %% tags=["parameters"]`` the parameters cell; IPython
magics such as ``%pip`` stay uncommented). :func:`source_to_notebook` reads one with jupytext and keeps
only what the series needs: cell tags, a Python 3 kernelspec, deterministic cell ids ``NN-ii``, no
outputs. :func:`notebook_to_source` is the inverse, so a notebook edited in Jupyter can be written back
to its source. Every ``NN_*.py`` of the folder is picked up, new notebooks included.

Command line: ``python notebooks/_src/build.py [--check] [--to-source] [--pin [REF]] [names...]``
(:mod:`erts_kit.course.build_cli`).

Example:
    >>> nb = source_to_notebook('# %% tags=["parameters"]\\nSMOKE = False\\n', "09_demo")
    >>> nb.cells[0].metadata["tags"], nb.cells[0].id, nb.metadata.kernelspec.name
    (['parameters'], '09-00', 'python3')
    >>> notebook_to_source(nb)
    '# %% tags=["parameters"]\\nSMOKE = False\\n'
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jupytext
import nbformat

__all__ = ["SOURCE_GLOB", "build", "notebook_text", "notebook_to_source", "source_to_notebook"]

SOURCE_GLOB = "[0-9][0-9]_*.py"
FORMAT = "py:percent"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
# Written back into sources: only cell tags, no notebook header, magics as they are.
_WRITE_OPTIONS = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "tags,-all", "comment_magics": False}
DEFAULT_SRC = Path(__file__).resolve().parents[2] / "notebooks" / "_src"


def source_to_notebook(text: str, stem: str) -> nbformat.NotebookNode:
    """The notebook of one percent-format source: tags only, no outputs, ids ``<NN>-<cell index>``.

    Example:
        >>> [c.cell_type for c in source_to_notebook("# %% [markdown]\\n# # Title\\n\\n# %%\\nx = 1\\n", "01_x").cells]
        ['markdown', 'code']
    """
    nb = jupytext.reads(text, fmt=FORMAT)
    nb.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.from_dict({"tags": list(tags)} if tags else {})
        cell["id"] = f"{stem[:2]}-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    return nb


def notebook_text(src: Path) -> str:
    """The ``.ipynb`` JSON text built from one source file.

    Example:
        >>> import tempfile
        >>> src = Path(tempfile.mkdtemp()) / "01_demo.py"
        >>> _ = src.write_text("# %%\\nprint(1)\\n")
        >>> nbformat.reads(notebook_text(src), as_version=4).cells[0].source
        'print(1)'
    """
    return nbformat.writes(source_to_notebook(src.read_text(encoding="utf-8"), src.stem)) + "\n"


def notebook_to_source(nb: nbformat.NotebookNode) -> str:
    """The percent-format source of a notebook (outputs and metadata other than tags dropped).

    Example:
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%pip install x")])
        >>> notebook_to_source(nb)
        '# %%\\n%pip install x\\n'
    """
    copy = nbformat.from_dict(nb)
    copy.metadata = nbformat.from_dict({"jupytext": dict(_WRITE_OPTIONS)})
    for cell in copy.cells:
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.from_dict({"tags": list(tags)} if tags else {})
    return jupytext.writes(copy, fmt=FORMAT)


def _selected(src_dir: Path, names: Sequence[str]) -> list[Path]:
    sources = sorted(src_dir.glob(SOURCE_GLOB))
    if not sources:
        raise FileNotFoundError(f"No notebook sources {SOURCE_GLOB} in {src_dir}.")
    chosen = [s for s in sources if not names or any(s.stem.startswith(n) for n in names)]
    if names and not chosen:
        raise FileNotFoundError(f"No source matches {list(names)}: expected names or prefixes of "
                                f"{[s.stem for s in sources]}.")
    return chosen


def build(src_dir: Path = DEFAULT_SRC, names: Sequence[str] = (), check: bool = False,
          to_source: bool = False) -> list[str]:
    """Write (or with ``check`` only compare) each notebook from its source; ``to_source``: the reverse.

    Notebooks go to the source folder's parent (``notebooks/``). Returns the names written, or with
    ``check`` the names out of date (source and notebook differ in either direction).

    Example:
        >>> import tempfile
        >>> src = Path(tempfile.mkdtemp()) / "_src"; src.mkdir()
        >>> _ = (src / "01_demo.py").write_text("# %%\\nprint(1)\\n")
        >>> build(src, check=True), build(src), build(src, check=True)
        (['01_demo.ipynb'], ['01_demo.ipynb'], [])
    """
    out_dir = src_dir.parent
    done: list[str] = []
    for src in _selected(src_dir, names):
        dest = out_dir / f"{src.stem}.ipynb"
        if to_source:
            if not dest.is_file():
                raise FileNotFoundError(f"No notebook {dest} to write {src.name} from.")
            src.write_text(notebook_to_source(nbformat.read(str(dest), as_version=4)), encoding="utf-8")
            done.append(src.name)
            continue
        text = notebook_text(src)
        if check:
            stale = not dest.is_file() or dest.read_text(encoding="utf-8") != text
            if stale or notebook_to_source(nbformat.reads(text, as_version=4)) != src.read_text(encoding="utf-8"):
                done.append(dest.name)
        else:
            dest.write_text(text, encoding="utf-8")
            done.append(dest.name)
    return done
