"""The notebooks' Colab setup: one pinned install source, the setup cell, the Open-in-Colab badges.

:data:`REPOSITORY` and :data:`PINNED_REF` (a tag or a commit, never a branch) are the one place the
install source is set. :func:`setup_cell` is the first code cell of every notebook of the series: on
Colab only (``google.colab`` in ``sys.modules``) it installs ``erts-kit`` from
``git+https://github.com/<REPOSITORY>.git@<PINNED_REF>`` (the ``ERTS_KIT_SOURCE`` environment variable
overrides it: the Colab test installs a local wheel), prints what it installed, enables Colab's custom
widget manager (ipywidgets 8 widgets do not render on Colab without it) and says whether a GPU is present.
:func:`pin_sources` writes that cell and the badge into every ``notebooks/_src/NN_*.py``;
``python notebooks/_src/build.py --pin [REF]`` runs it (and rewrites :data:`PINNED_REF` here).

Example:
    >>> 'git+https://github.com/erts-kit/erts-kit.git@v0.1.0' in setup_cell("erts-kit/erts-kit", "v0.1.0")
    True
    >>> badge("erts-kit/erts-kit", "v0.1.0", "01_data")  # doctest: +ELLIPSIS
    '[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/01_data.ipynb)'
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from .notebook_build import SOURCE_GLOB, notebook_to_source, source_to_notebook

__all__ = ["PINNED_REF", "REPOSITORY", "badge", "check_pinned_ref", "first_code_cell", "pin_readme", "pin_sources",
           "set_pinned_ref", "setup_cell"]

#: GitHub repository the notebooks install from and open in (``owner/name``), and the tag or commit pinned.
REPOSITORY = "erts-kit/erts-kit"
PINNED_REF = "v0.1.0"

_BRANCH_NAMES = {"main", "master", "HEAD", "dev", "develop", "trunk"}
_BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")
_SETUP = '''\
# Setup. On Colab: install the kit from ERTS_KIT_SOURCE (pinned to a release; the one place it is set),
# turn on widget support and check for a GPU. Anywhere else this cell does nothing.
ERTS_KIT_SOURCE = "erts-kit @ git+https://github.com/@REPO@.git@@REF@"
import os, sys
if "google.colab" in sys.modules:
    ERTS_KIT_SOURCE = os.environ.get("ERTS_KIT_SOURCE", ERTS_KIT_SOURCE)  # the Colab test installs a local wheel
    %pip install -q "{ERTS_KIT_SOURCE}"
    from importlib.metadata import version
    print(f"Installed erts-kit {version('erts-kit')} from {ERTS_KIT_SOURCE}")
    from google.colab import output
    output.enable_custom_widget_manager()  # Colab draws ipywidgets 8 widgets only with this
    import torch
    print(f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else
          "No GPU. For full runs choose Runtime > Change runtime type > a GPU (e.g. T4), then run all cells "
          "again; SMOKE = True runs on a CPU.")'''


def check_pinned_ref(ref: str) -> str:
    """``ref`` if it names a tag or a commit; a branch name (moves under the notebooks) is refused.

    Example:
        >>> check_pinned_ref("main")
        Traceback (most recent call last):
        ...
        ValueError: Expected a tag or a commit to pin the Colab install to, got the branch name 'main': a branch moves, so a notebook would install code it was not written for.
    """
    if ref in _BRANCH_NAMES:
        raise ValueError(f"Expected a tag or a commit to pin the Colab install to, got the branch name {ref!r}: "
                         "a branch moves, so a notebook would install code it was not written for.")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", ref):
        raise ValueError(f"Expected a tag (e.g. v0.1.0) or a commit hash, got {ref!r}.")
    return ref


def setup_cell(repo: str = REPOSITORY, ref: str = PINNED_REF) -> str:
    """The source of every notebook's first code cell, pinned to ``repo`` at ``ref``."""
    return _SETUP.replace("@REPO@", repo).replace("@REF@", check_pinned_ref(ref))


def badge(repo: str, ref: str, stem: str) -> str:
    """The Open-in-Colab badge (Markdown) of ``notebooks/<stem>.ipynb`` at ``ref``."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repo}/blob/{ref}/notebooks/{stem}.ipynb)")


def _with_badge(markdown: str, line: str) -> str:
    if _BADGE_RE.search(markdown):
        return _BADGE_RE.sub(line, markdown, count=1)
    title, _, rest = markdown.partition("\n")
    return f"{title}\n\n{line}\n" + (rest if rest.startswith("\n") else f"\n{rest}" if rest else "")


def pin_sources(src_dir: Path, repo: str = REPOSITORY, ref: str = PINNED_REF) -> list[str]:
    """Write :func:`setup_cell` as the first code cell and the badge under the title of every source.

    Returns the names of the sources changed. A source whose first cell is not a markdown title, or that
    has no code cell, is a ValueError naming it.

    Example:
        >>> import tempfile
        >>> src = Path(tempfile.mkdtemp())
        >>> _ = (src / "01_demo.py").write_text("# %% [markdown]\\n# # 01 · Demo\\n\\n# %%\\nimport sys\\n")
        >>> pin_sources(src, "me/kit", "v1"), pin_sources(src, "me/kit", "v1")
        (['01_demo.py'], [])
    """
    setup = setup_cell(repo, ref)
    changed = []
    for path in sorted(Path(src_dir).glob(SOURCE_GLOB)):
        text = path.read_text(encoding="utf-8")
        nb = source_to_notebook(text, path.stem)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not nb.cells or nb.cells[0].cell_type != "markdown" or not code:
            raise ValueError(f"{path}: expected a markdown title cell first and a setup code cell; write them, "
                             "then rerun.")
        nb.cells[0].source = _with_badge(nb.cells[0].source, badge(repo, ref, path.stem))
        code[0].source = setup
        new = notebook_to_source(nb)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path.name)
    return changed


def pin_readme(readme: Path, stems: list[str], repo: str = REPOSITORY, ref: str = PINNED_REF) -> bool:
    """Point every Open-in-Colab badge of ``readme`` (one per notebook, matched by its stem) at ``ref``.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "README.md"
        >>> _ = p.write_text(badge("a/b", "v0", "01_x") + "\\n")
        >>> pin_readme(p, ["01_x"], "a/b", "v1"), "blob/v1/" in p.read_text()
        (True, True)
    """
    text = readme.read_text(encoding="utf-8")
    new = text
    for stem in stems:
        pattern = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/"
                             rf"[^)]*/notebooks/{re.escape(stem)}\.ipynb\)")
        new = pattern.sub(badge(repo, ref, stem).replace("\\", "\\\\"), new)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def set_pinned_ref(ref: str, module: Path = Path(__file__)) -> None:
    """Rewrite :data:`PINNED_REF` in this module's file (what ``build.py --pin REF`` records)."""
    text = module.read_text(encoding="utf-8")
    module.write_text(re.sub(r'^PINNED_REF = ".*"$', f'PINNED_REF = "{check_pinned_ref(ref)}"', text, count=1,
                             flags=re.M), encoding="utf-8")


def first_code_cell(path: Path) -> str:
    """The source of a notebook's (``.ipynb``) first code cell.

    Example:
        >>> first_code_cell(Path("tests/nb_fixtures/01_good.ipynb")).startswith("import sys")
        True
    """
    nb = nbformat.read(str(path), as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")
