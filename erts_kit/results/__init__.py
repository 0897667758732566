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
- :mod:`.run_folder`: a run folder's files; :func:`open_run` refuses a run trained on other data.
- :mod:`.stats`: differences vs full paired by seed, with 95% intervals, and the wall-clock ratio
  (its ``verdict`` is exported here as ``paired_verdict``);
- :mod:`.paired_grid`: :func:`run_paired_grid` (policies and their variants, seed by seed, over
  folds, with CPU seconds) and :func:`average_folds` (one row per policy and seed);
- :mod:`.detectors` / :mod:`.detect_signals`: which per-sample signal finds the corrupted samples
  (``detect_signals`` trains models and needs cleanlab; import it explicitly).
"""
from .banner import (
    SMOKE_TEXT,
    ClaimFailed,
    check_claim,
    mark_smoke,
    show_smoke_banner,
    smoke_banner,
)
from .detectors import detector_table, detector_verdicts
from .examples import Example, pick_examples
from .filters import filter_precision_recall, filter_table
from .grid import (
    RESULT_COLUMNS,
    ExperimentConfig,
    build_policy,
    plan_grid,
    run_grid,
    run_name,
)
from .paired_grid import average_folds, parse_variant, run_paired_grid
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
from .run_folder import DataMismatch, open_run
from .stats import paired_differences, paired_interval, paired_table
from .stats import verdict as paired_verdict
from .tables import (
    COLUMN_HELP,
    comparison_table,
    confusion_tables,
    load_histories,
    markdown_table,
    per_class_table,
    summarise,
)
from .verdict import (
    COST_COLUMNS,
    Verdict,
    beat_chance,
    cost_table,
    grid_verdicts,
    verdict,
)

__all__ = [
    "BACKBONE_MODELS", "COLUMN_HELP", "COMPARE_COLUMNS", "COST_COLUMNS", "ERTS_CITATION", "PDD_CITATION",
    "PUBLISHED_RESULTS", "RESULT_COLUMNS", "SMOKE_TEXT", "ClaimFailed", "DataMismatch", "Example", "ExperimentConfig",
    "Verdict", "average_folds", "beat_chance", "build_policy", "check_claim", "compare_with_published", "comparison_table",
    "confusion_tables", "cost_table", "detector_table", "detector_verdicts", "filter_precision_recall",
    "filter_table", "grid_verdicts", "load_histories", "mark_smoke", "markdown_table", "open_run",
    "paired_differences", "paired_interval", "paired_table", "paired_verdict", "parse_variant", "per_class_table",
    "pick_examples", "plan_grid", "published_results", "run_grid", "run_paired_grid", "run_name", "show_smoke_banner", "smoke_banner", "summarise",
    "verdict", "write_report",
]
