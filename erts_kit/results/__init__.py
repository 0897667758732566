"""Results: grids of runs, the filter's ground-truth statistics, comparison tables, reports, the paper's table.

- :mod:`.grid`: :func:`run_grid` (policies x seeds, resumable) and its :class:`ExperimentConfig`;
- :mod:`.filters`: did the focus filter drop the corrupted samples (precision, recall, base rate);
- :mod:`.tables`: mean ± std over seeds, the comparison table, Markdown;
- :mod:`.examples`: kept and dropped samples with their Grad-CAM maps;
- :mod:`.report`: a Markdown + HTML report with figures;
- :mod:`.paper`: the published ERTS results beside the kit's;
- :mod:`.stats`: differences vs full paired by seed, with 95% intervals, and the wall-clock ratio;
- :mod:`.detectors` / :mod:`.detect_signals`: which per-sample signal finds the corrupted samples
  (``detect_signals`` trains models and needs cleanlab; import it explicitly).
"""
from .detectors import detector_table, detector_verdicts
from .examples import Example, pick_examples
from .filters import filter_precision_recall, filter_table
from .grid import RESULT_COLUMNS, ExperimentConfig, build_policy, plan_grid, run_grid, run_name
from .paper import (
    BACKBONE_MODELS,
    COMPARE_COLUMNS,
    ERTS_CITATION,
    PDD_CITATION,
    PUBLISHED_RESULTS,
    compare_with_published,
    published_results,
)
from .report import write_report
from .stats import paired_differences, paired_interval, paired_table, verdict
from .tables import COLUMN_HELP, comparison_table, load_histories, markdown_table, summarise

__all__ = [
    "BACKBONE_MODELS", "COLUMN_HELP", "COMPARE_COLUMNS", "ERTS_CITATION", "PDD_CITATION", "PUBLISHED_RESULTS",
    "RESULT_COLUMNS", "Example", "ExperimentConfig", "build_policy", "compare_with_published", "comparison_table",
    "detector_table", "detector_verdicts", "filter_precision_recall", "filter_table", "load_histories",
    "markdown_table", "paired_differences", "paired_interval", "paired_table", "pick_examples", "plan_grid",
    "published_results", "run_grid", "run_name", "summarise", "verdict", "write_report",
]
