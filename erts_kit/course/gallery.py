"""A rendered gallery of the series: execute every notebook, render each as HTML, list them on one page.

Each notebook runs with :func:`erts_kit.course.runner.run_notebooks` (papermill, one kernel each) at
its **default settings where the machine allows it, in smoke mode otherwise**: with a CUDA GPU every
notebook runs at its defaults; on a CPU only those whose measured default runtime (the ``default``
figure of the ``**Runtime**`` line in the notebook's title cell, e.g. ``default 6 min``) fits in
``cpu_budget_min``; ``smoke=True`` forces smoke mode for all. The explorers' static fallback is on
(``ERTS_KIT_STATIC_WIDGETS=1``), so widget views show in the HTML too. Each page starts with a banner
saying how it ran (smoke: mechanics only, the numbers are not results; or default settings), how long
it took and whether it failed; a failed notebook is rendered too, with its error. Pages go to
``out_dir`` (default ``notebooks/_gallery``, git-ignored) with an ``index.html``.

Command line::

    python -m erts_kit.cli gallery [--smoke] [--out DIR] [--dir notebooks] [--cpu-budget-min 10] [names...]

Example:
    >>> runtime_minutes("**Runtime** (2-core CPU): smoke 50 s; default 6 min")
    6.0
    >>> runtime_minutes("no runtime line here") is None
    True
"""
from __future__ import annotations

import argparse
import html
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pandas as pd

from .runner import NotebookFailures, find_notebooks, run_notebooks

__all__ = ["DEFAULT_OUT", "build_gallery", "choose_mode", "main", "runtime_minutes"]

DEFAULT_OUT = "notebooks/_gallery"
BANNER_TAG = "erts-kit-gallery-banner"
_DEFAULT_RE = re.compile(r"default[^0-9\n]{0,40}?(\d+(?:\.\d+)?)\s*(s|sec|min|h)\b", re.I)
_UNIT_MIN = {"s": 1 / 60, "sec": 1 / 60, "min": 1.0, "h": 60.0}


def runtime_minutes(title_markdown: str) -> float | None:
    """The default-settings runtime, in minutes, stated on the title cell's ``**Runtime**`` line (None if none)."""
    for line in title_markdown.splitlines():
        if "runtime" in line.lower():
            m = _DEFAULT_RE.search(line)
            if m:
                return float(m.group(1)) * _UNIT_MIN[m.group(2).lower()]
    return None


def choose_mode(path: Path, smoke: bool | None, gpu: bool, cpu_budget_min: float) -> bool:
    """True (smoke mode) or False (default settings) for one notebook.

    Example:
        >>> choose_mode(Path("x.ipynb"), smoke=True, gpu=True, cpu_budget_min=10)
        True
    """
    if smoke is not None:
        return smoke
    if gpu:
        return False
    nb = nbformat.read(str(path), as_version=4)
    first = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    minutes = runtime_minutes(first)
    return minutes is None or minutes > cpu_budget_min


def _banner(smoke: bool, status: str, seconds: float, error: str, machine: str) -> str:
    mode = ("**Smoke mode** (`SMOKE = True`): tiny data and a scaled-down schedule. This page shows the "
            "mechanics only; its numbers are not results." if smoke else
            "**Default settings** (`SMOKE = False`): the notebook as a student runs it.")
    text = (f"> **Rendered by `erts-kit gallery`** on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{machine}.  \n> {mode}  \n> Ran in {seconds:.0f} s; status: **{status}**.")
    if error:
        text += f"  \n> Error: `{error[:300]}`"
    return text


def _machine() -> str:
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{platform.machine()} with {os.cpu_count()} CPU cores{gpu}, torch {torch.__version__}"


def _render(executed: Path, banner: str, dest: Path) -> None:
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(banner, metadata={"tags": [BANNER_TAG]}))
    body, _ = HTMLExporter().from_notebook_node(nb)
    dest.write_text(body, encoding="utf-8")


def _index(rows: pd.DataFrame, out: Path) -> None:
    items = "\n".join(
        f"<tr><td><a href='{html.escape(r.page)}'>{html.escape(r.name)}</a></td><td>{r.mode}</td>"
        f"<td>{r.seconds:.0f} s</td><td>{r.status}</td></tr>" for r in rows.itertuples())
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>erts-kit notebooks</title><h1>erts-kit notebooks</h1>"
        "<p>Smoke pages show the mechanics only (tiny data): their numbers are not results.</p>"
        f"<table><tr><th>notebook</th><th>mode</th><th>time</th><th>status</th></tr>{items}</table>\n",
        encoding="utf-8")


def build_gallery(notebooks: str | Path = "notebooks", out_dir: str | Path = DEFAULT_OUT, smoke: bool | None = None,
                  names: Sequence[str] | None = None, cpu_budget_min: float = 10.0, timeout: float | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """Execute the notebooks and render each to ``out_dir/<name>.html``, with ``out_dir/index.html``.

    Args:
        notebooks: folder of ``NN_*.ipynb`` notebooks (or one notebook, or a list).
        out_dir: where pages go (created); executed copies go to ``out_dir/_executed``.
        smoke: True: smoke mode for all; False: default settings for all; None: default settings where the
            machine allows (see the module docstring), smoke mode otherwise.
        names: only these notebooks (stems or numbers).
        cpu_budget_min: on a CPU, run at default settings only notebooks whose stated default runtime fits.
        timeout: per-cell timeout in seconds (None: the runner's default for the mode).

    Returns:
        One row per notebook: ``name, mode, status, seconds, error, page``. Failed notebooks are rendered too
        (their page shows the error); the caller decides what a failure means (the command exits 1).
    """
    import torch

    out = Path(out_dir)
    (out / "_executed").mkdir(parents=True, exist_ok=True)
    gpu, machine = torch.cuda.is_available(), _machine()
    rows = []
    previous = os.environ.get("ERTS_KIT_STATIC_WIDGETS")
    os.environ["ERTS_KIT_STATIC_WIDGETS"] = "1"   # kernels inherit it: explorers draw a static view too
    try:
        for path in find_notebooks(notebooks, names):
            mode = choose_mode(path, smoke, gpu, cpu_budget_min)
            try:
                res = run_notebooks(path, output_dir=out / "_executed", smoke=mode, progress=progress, timeout=timeout)
            except NotebookFailures as exc:
                res = exc.results
            row = res.iloc[0].to_dict()
            page = f"{path.stem}.html"
            executed = Path(row["output"])
            if executed.is_file():
                _render(executed, _banner(mode, row["status"], row["seconds"], row["error"], machine), out / page)
            else:
                page = ""
            rows.append({"name": path.stem, "mode": "smoke" if mode else "default", "status": row["status"],
                         "seconds": float(row["seconds"]), "error": row["error"], "page": page})
    finally:
        if previous is None:
            os.environ.pop("ERTS_KIT_STATIC_WIDGETS", None)
        else:
            os.environ["ERTS_KIT_STATIC_WIDGETS"] = previous
    df = pd.DataFrame(rows, columns=["name", "mode", "status", "seconds", "error", "page"])
    _index(df, out)
    return df


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the gallery, print a table; exit 1 if a notebook failed, 2 on bad input.

    Example:
        >>> main(["--dir", "no/such/folder"])
        error: No notebook or folder at no/such/folder: pass a folder of NN_*.ipynb notebooks or a notebook file.
        2
    """
    ap = argparse.ArgumentParser(prog="erts-kit gallery", description="Execute the notebook series and render "
                                 "it as HTML (default settings where the machine allows, smoke mode otherwise).")
    ap.add_argument("names", nargs="*", help="notebooks: stems (03_gradcam) or numbers (03); default: all")
    ap.add_argument("--dir", default="notebooks", help="folder of the notebooks")
    ap.add_argument("--out", default=DEFAULT_OUT, help="folder for the HTML pages (git-ignored by default)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="smoke mode for every notebook (minutes on a CPU)")
    mode.add_argument("--full", action="store_true", help="default settings for every notebook (hours on a CPU)")
    ap.add_argument("--cpu-budget-min", type=float, default=10.0,
                    help="on a CPU, default settings only for notebooks whose stated default runtime fits")
    ap.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds (0: none)")
    args = ap.parse_args(argv)
    try:
        df = build_gallery(args.dir, args.out, smoke=True if args.smoke else False if args.full else None,
                           names=args.names or None, cpu_budget_min=args.cpu_budget_min, timeout=args.timeout,
                           progress=False)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    print(df.drop(columns="error").to_string(index=False))
    print(f"\ngallery: {Path(args.out) / 'index.html'}")
    return 1 if (df["status"] != "ok").any() else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
