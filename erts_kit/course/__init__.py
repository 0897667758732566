"""Course tooling: executing the notebook series with papermill, and checking notebook parameters.

- :mod:`.runner`: :func:`run_notebooks` (every failure reported together, per-cell timeout);
- :mod:`.engine`: the papermill engine without the widget-cell stall;
- :mod:`.params`: :func:`check_params`, the validation cell every notebook runs.
"""
from .params import check_params, check_value
from .runner import NotebookFailures, notebook_errors, run_notebooks

__all__ = ["NotebookFailures", "check_params", "check_value", "notebook_errors", "run_notebooks"]
