"""Build the notebooks of the series from their jupytext percent-format sources (``notebooks/_src/NN_name.py``).

Thin wrapper around :mod:`erts_kit.course.build_cli` (jupytext does the parsing). Usage, from the
repository root::

    python notebooks/_src/build.py              # rebuild every notebook (every NN_*.py source)
    python notebooks/_src/build.py 03_gradcam   # rebuild only these (name or prefix)
    python notebooks/_src/build.py --check      # exit 1 if a notebook differs from its source
    python notebooks/_src/build.py --to-source 03  # write a notebook edited in Jupyter back to its source
    python notebooks/_src/build.py --pin v0.2.0    # pin the Colab install and badges to a tag or commit
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # this checkout's erts_kit, not another install

from erts_kit.course.build_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
