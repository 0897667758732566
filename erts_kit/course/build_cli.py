"""The command behind ``python notebooks/_src/build.py``: build, check, write back, or pin the notebooks.

::

    python notebooks/_src/build.py              # every notebooks/NN_*.ipynb from notebooks/_src/NN_*.py
    python notebooks/_src/build.py 03_gradcam   # only these (name or prefix)
    python notebooks/_src/build.py --check      # exit 1 if a notebook differs from its source
    python notebooks/_src/build.py --to-source 03   # a notebook edited in Jupyter back into its source
    python notebooks/_src/build.py --pin v0.2.0 # pin the Colab install + badges to a tag or commit, rebuild
    python notebooks/_src/build.py --pin        # re-apply the current pin (e.g. to a new notebook)

Example:
    >>> main(["--check", "no_such_notebook"])  # doctest: +ELLIPSIS
    error: No source matches ['no_such_notebook']...
    2
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import colab
from .notebook_build import DEFAULT_SRC, SOURCE_GLOB, build

__all__ = ["main"]


def _pin(src_dir: Path, ref: str, repo: str) -> None:
    ref = colab.check_pinned_ref(ref or colab.PINNED_REF)
    if ref != colab.PINNED_REF or repo != colab.REPOSITORY:
        colab.set_pinned_ref(ref)
        print(f"pinned {ref} in {Path(colab.__file__).name}" + ("" if repo == colab.REPOSITORY else
              f" (repository {repo} used for this run; change REPOSITORY there to keep it)"))
    for name in colab.pin_sources(src_dir, repo, ref):
        print(f"pinned {name}")
    readme = src_dir.parent / "README.md"
    if readme.is_file() and colab.pin_readme(readme, [p.stem for p in sorted(src_dir.glob(SOURCE_GLOB))], repo, ref):
        print(f"pinned {readme.name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; exit 0 (done), 1 (``--check``: out of date), 2 (bad arguments or sources)."""
    ap = argparse.ArgumentParser(prog="python notebooks/_src/build.py",
                                 description="Build notebooks/NN_name.ipynb from notebooks/_src/NN_name.py "
                                             "(jupytext percent format).")
    ap.add_argument("names", nargs="*", help="sources by name or prefix (default: every NN_*.py)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook differs from its source")
    ap.add_argument("--to-source", action="store_true", help="the reverse: rewrite sources from their notebooks")
    ap.add_argument("--pin", nargs="?", const="", default=None, metavar="REF",
                    help="write the Colab setup cell and badges pinned to REF (a tag or commit; default: the "
                         f"current pin, {colab.PINNED_REF}) into every source, then build")
    ap.add_argument("--repo", default=colab.REPOSITORY, help=f"GitHub owner/name (default: {colab.REPOSITORY})")
    ap.add_argument("--src", default=str(DEFAULT_SRC), help="folder of the sources (default: notebooks/_src)")
    args = ap.parse_args(argv)
    src = Path(args.src)
    try:
        if args.pin is not None:
            _pin(src, args.pin, args.repo)
        done = build(src, args.names, check=args.check, to_source=args.to_source)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 2
    if args.check:
        if done:
            print("out of date (run python notebooks/_src/build.py):", ", ".join(done))
            return 1
        return 0
    for name in done:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
