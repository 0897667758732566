"""Results: grids of runs, the filter's ground-truth statistics, comparison tables, reports, the paper's table.

- :mod:`.grid`: :func:`run_grid` (policies x seeds, resumable) and its :class:`ExperimentConfig`;
- :mod:`.filters`: did the focus filter drop the corrupted samples (precision, recall, base rate);
- :mod:`.class_stats`: per-class numbers of a run (EC57 rates, confusion, per record, kept share);
- :mod:`.tables`: mean ± std over seeds, the comparison table, the per-class table, Markdown;
- :mod:`.examples`: kept and dropped samples with their Grad-CAM maps;
- :mod:`.report`: a Markdown + HTML report with figures;
- :mod:`.paper`: the published ERTS results beside the kit's;
- :mod:`.verdict`: EE, compute-equivalent epochs and wall-clock reconciled, the filter against chance;
- :mod:`.banner`: the "smoke: mechanics only" banner and claims checked against the numbers.
"""
from .banner import SMOKE_TEXT, ClaimFailed, check_claim, mark_smoke, show_smoke_banner, smoke_banner
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
from .verdict import COST_COLUMNS, Verdict, beat_chance, cost_table, grid_verdicts, verdict

__all__ = [
    "BACKBONE_MODELS", "COLUMN_HELP", "COMPARE_COLUMNS", "COST_COLUMNS", "SMOKE_TEXT", "ClaimFailed", "Verdict",
    "beat_chance", "check_claim", "cost_table", "grid_verdicts", "mark_smoke", "show_smoke_banner", "smoke_banner", "verdict", "ERTS_CITATION", "PDD_CITATION", "PUBLISHED_RESULTS",
    "RESULT_COLUMNS", "Example", "ExperimentConfig", "build_policy", "compare_with_published", "comparison_table",
    "confusion_tables", "filter_precision_recall", "filter_table", "load_histories", "markdown_table",
    "per_class_table", "pick_examples", "plan_grid",
    "published_results", "run_grid", "run_name", "summarise", "write_report",
]
