"""Results: grids of runs, the filter's ground-truth statistics, comparison tables, reports, the paper's table.

- :mod:`.grid`: :func:`run_grid` (policies x seeds, resumable) and its :class:`ExperimentConfig`;
- :mod:`.filters`: did the focus filter drop the corrupted samples (precision, recall, base rate);
- :mod:`.class_stats`: per-class numbers of a run (EC57 rates, confusion, per record, kept share);
- :mod:`.tables`: mean ± std over seeds, the comparison table, the per-class table, Markdown;
- :mod:`.examples`: kept and dropped samples with their Grad-CAM maps;
- :mod:`.report`: a Markdown + HTML report with figures;
- :mod:`.paper`: the published ERTS results beside the kit's.
"""
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
from .tables import (
    COLUMN_HELP,
    comparison_table,
    confusion_tables,
    load_histories,
    markdown_table,
    per_class_table,
    summarise,
)

__all__ = [
    "BACKBONE_MODELS", "COLUMN_HELP", "COMPARE_COLUMNS", "ERTS_CITATION", "PDD_CITATION", "PUBLISHED_RESULTS",
    "RESULT_COLUMNS", "Example", "ExperimentConfig", "build_policy", "compare_with_published", "comparison_table",
    "confusion_tables", "per_class_table",
    "filter_precision_recall", "filter_table", "load_histories", "markdown_table", "pick_examples", "plan_grid",
    "published_results", "run_grid", "run_name", "summarise", "write_report",
]
