"""Course tooling: executing the notebook series with papermill, and checking notebook parameters.

- :mod:`.runner`: :func:`run_notebooks` (every failure reported together, per-cell timeout);
- :mod:`.engine`: the papermill engine without the widget-cell stall;
- :mod:`.params`: :func:`check_params`, the validation cell every notebook runs;
- :mod:`.notebook_build`: notebooks built from their jupytext percent-format sources (and back);
- :mod:`.colab`: the pinned Colab setup cell and Open-in-Colab badges; :mod:`.build_cli`: ``notebooks/_src/build.py``;
- :mod:`.gallery`: the series executed and rendered as HTML (``erts-kit gallery``).
"""
from .params import check_params, check_value
from .runner import NotebookFailures, notebook_errors, run_notebooks

__all__ = ["NotebookFailures", "check_params", "check_value", "notebook_errors", "run_notebooks"]
