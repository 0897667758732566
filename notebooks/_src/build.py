"""Build the notebooks of the series from their percent-format sources (``notebooks/_src/NN_name.py``).

Source format (a small subset of jupytext's "percent" format)::

    # %% [markdown]
    # # Title
    # Text, each line prefixed by "# ".

    # %% tags=["parameters"]
    SMOKE = False

    # %%
    print("a code cell")

A cell runs from its ``# %%`` line to the next one; trailing blank lines are dropped. The notebooks are
written with nbformat, without outputs or execution counts, with a Python 3 kernelspec.

Usage (from the repository root)::

    python notebooks/_src/build.py            # rebuild every notebook
    python notebooks/_src/build.py 03_gradcam # rebuild only these (name or prefix)
    python notebooks/_src/build.py --check    # exit 1 if a committed notebook differs from its source
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

SRC = Path(__file__).resolve().parent
OUT = SRC.parent
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> nbformat.NotebookNode:
    """Turn percent-format text into a notebook (no outputs)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    cells: list[tuple[bool, list[str], list[str]]] = []   # (markdown?, tags, lines)
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            cells.append((bool(m["md"]), json.loads(m["tags"]) if m["tags"] else [], []))
        elif cells:
            cells[-1][2].append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"Text before the first '# %%' cell marker: {line!r}")
    for is_md, tags, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if is_md:
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in lines)
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if tags:
            cell.metadata["tags"] = tags
        cell.pop("id", None)
        nb.cells.append(cell)
    return nb


def render(src: Path) -> str:
    """The .ipynb JSON text of one source file (deterministic: no random cell ids)."""
    nb = parse(src.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{src.stem[:2]}-{i:02d}"
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare, write nothing")
    ap.add_argument("names", nargs="*", help="sources to build, by name or prefix (default: all)")
    args = ap.parse_args(argv)
    stale = []
    for src in sorted(SRC.glob("[0-9][0-9]_*.py")):
        if args.names and not any(src.stem.startswith(n) for n in args.names):
            continue
        dest = OUT / f"{src.stem}.ipynb"
        text = render(src)
        if args.check:
            if not dest.exists() or dest.read_text(encoding="utf-8") != text:
                stale.append(dest.name)
        else:
            dest.write_text(text, encoding="utf-8")
            print(f"wrote {dest.relative_to(OUT.parent)}")
    if stale:
        print("out of date (run python notebooks/_src/build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
