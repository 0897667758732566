"""A self-contained comparison report: Markdown + PNG figures, and one HTML file with the PNGs embedded.

:func:`write_report` takes the results table of :func:`erts_kit.results.run_grid`, the per-epoch
histories of the runs and, optionally, kept/dropped examples with their Grad-CAM maps, and writes
into ``out_dir``:

- ``report.md`` (links ``fig_*.png`` in the same folder),
- ``report.html`` (the same content; figures embedded as base64, so the file travels alone),
- ``fig_cost.png``: validation macro-F1 per epoch against effective epochs (as published) and against
  compute-equivalent epochs (scoring + Grad-CAM counted), one line per run;
- ``fig_filter.png``: share of the ERTS filter's candidates dropped for low focus, per kind of sample
  (clean, flipped label, each artefact), when the data has ground truth;
- ``fig_kept_by_class.png``: the share of each class's samples trained on per epoch, per policy (when
  some policy drops samples);
- ``fig_examples.png``: kept vs dropped samples with their Grad-CAM map under the trace.

Example:
    >>> import tempfile
    >>> df = pd.DataFrame({"policy": ["full"], "seed": [0], "macro_f1": [0.5], "effective_epochs": [2.0],
    ...                    "compute_equivalent_epochs": [2.0], "wall_seconds": [1.0]})
    >>> h = {"full_seed0": pd.DataFrame({"epoch": [0, 1], "val_macro_f1": [0.3, 0.5],
    ...                                  "effective_epochs": [1.0, 2.0], "compute_equivalent_epochs": [1.0, 2.0]})}
    >>> p = write_report(df, h, tempfile.mkdtemp())
    >>> p.name, (p.parent / "report.html").exists(), (p.parent / "fig_cost.png").exists()
    ('report.md', True, True)
"""
from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from ..viz.ecg import plot_ecg
from .examples import Example
from .tables import COLUMN_HELP, comparison_table, confusion_tables, counted_note, format_cell, markdown_table, per_class_table

__all__ = ["write_report"]





# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------
def _save_png(fig: Any, path: Path, dpi: int) -> None:
    """``fig.savefig`` through :func:`atomic_write` (a full disk never leaves a torn PNG); closes ``fig``."""
    import matplotlib.pyplot as plt
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    finally:
        plt.close(fig)


def _policy_of(run: str) -> str:
    return run.split("_seed")[0]


def _fig_cost(histories: Mapping[str, pd.DataFrame], path: Path) -> Path | None:
    import matplotlib.pyplot as plt
    usable = {k: h for k, h in histories.items() if {"val_macro_f1", "effective_epochs"} <= set(h.columns)}
    if not usable:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
    colours: dict[str, Any] = {}
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for run, h in usable.items():
        pol = _policy_of(run)
        c = colours.setdefault(pol, cycle[len(colours) % len(cycle)])
        h = h[h["val_macro_f1"].notna()]
        for ax, x in zip(axes, ("effective_epochs", "compute_equivalent_epochs")):
            if x in h.columns:
                ax.plot(h[x], h["val_macro_f1"], "o-", color=c, ms=4, lw=1.5, alpha=0.9,
                        label=pol if run == next(r for r in usable if _policy_of(r) == pol) else None)
    axes[0].set_xlabel("effective epochs (as published: training passes only)")
    axes[1].set_xlabel("compute-equivalent epochs (scoring + Grad-CAM counted)")
    axes[0].set_ylabel("validation macro-F1")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(title="policy", fontsize=8)
    fig.suptitle("Macro-F1 against cost, one point per epoch", fontsize=10)
    _save_png(fig, path, dpi=110)
    plt.close(fig)
    return path


def _fig_filter(results_df: pd.DataFrame, path: Path, column: str = "filter_by_kind",
                title: str = "Does the focus filter drop the corrupted samples? (sample-epochs of the filter epochs)"
                ) -> Path | None:
    import matplotlib.pyplot as plt
    if column not in results_df.columns:
        return None
    per_policy: dict[str, dict[str, list[int]]] = {}
    for pol, bk in results_df[["policy", column]].itertuples(index=False, name=None):
        if not isinstance(bk, Mapping) or not bk:
            continue
        agg = per_policy.setdefault(pol, {})
        for kind, d in bk.items():
            a = agg.setdefault(kind, [0, 0])
            a[0] += int(d.get("n_candidates", 0))
            a[1] += int(d.get("n_dropped", 0))
    if not per_policy:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
    kinds = list(next(iter(per_policy.values())))
    width = 0.8 / len(per_policy)
    for j, (pol, agg) in enumerate(per_policy.items()):
        rates = [agg[k][1] / agg[k][0] if agg.get(k, [0, 0])[0] else np.nan for k in kinds]
        xs = np.arange(len(kinds)) + j * width
        ax.bar(xs, rates, width, label=pol)
        for x, k, r in zip(xs, kinds, rates):
            ax.text(x, (0 if np.isnan(r) else r) + 0.02, f"n={agg.get(k, [0, 0])[0]}", fontsize=7, ha="center",
                    va="bottom")
    ax.set_xticks(np.arange(len(kinds)) + width * (len(per_policy) - 1) / 2, kinds, fontsize=8)
    ax.set_ylabel("dropped for low focus\n(share of candidates)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9, loc="left")
    _save_png(fig, path, dpi=110)
    plt.close(fig)
    return path


def _fig_kept_by_class(histories: Mapping[str, pd.DataFrame], path: Path) -> Path | None:
    """One panel per policy (its first run): the share of each class's samples trained on, per epoch."""
    import matplotlib.pyplot as plt
    first: dict[str, pd.DataFrame] = {}
    for run, h in histories.items():
        if any(str(c).startswith("kept_frac_") for c in h.columns):
            first.setdefault(_policy_of(run), h)
    if not first or all((h.filter(like="kept_frac_").fillna(1.0) == 1.0).all().all() for h in first.values()):
        return None   # every class always kept in full (full data only): nothing to show
    fig, axes = plt.subplots(1, len(first), figsize=(4 * len(first), 3.2), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, (pol, h) in zip(axes[0], first.items()):
        for col in [c for c in h.columns if str(c).startswith("kept_frac_")]:
            ax.plot(h["epoch"], h[col], "o-", ms=3, lw=1.2, label=str(col)[len("kept_frac_"):])
        ax.set_title(pol, fontsize=9)
        ax.set_xlabel("epoch (from 0)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of the class's samples\ntrained on")
    axes[0][-1].legend(title="class", fontsize=7)
    _save_png(fig, path, dpi=110)
    return path


def _fig_examples(examples: Mapping[str, Sequence[Example]], path: Path) -> Path | None:
    import matplotlib.pyplot as plt

    groups = [(k, list(v)) for k, v in examples.items() if v]
    if not groups:
        return None
    n_rows = max(len(v) for _, v in groups)
    fig, axes = plt.subplots(n_rows, len(groups), figsize=(7 * len(groups), 2.0 * n_rows), squeeze=False,
                             layout="constrained")
    for j, (kind, items) in enumerate(groups):
        for i in range(n_rows):
            ax = axes[i][j]
            if i >= len(items):
                ax.axis("off")
                continue
            e = items[i]
            plot_ecg(e.signal, e.fs, lead=e.lead if np.ndim(e.signal) == 2 else 0, cam=e.cam, mask=e.mask, ax=ax,
                     title=f"{kind.upper()}: {e.title}")
    fig.suptitle("Kept vs dropped for low focus: Grad-CAM (true class) under the trace, evidence shaded blue",
                 fontsize=10)
    _save_png(fig, path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------------
def _class_blocks(results_df: pd.DataFrame, note: str | None) -> list[tuple[str, Any]]:
    """The per-class section (EC57 rates, kept share after warm-up) and the summed confusion matrices."""
    per_class = per_class_table(results_df)
    if per_class.empty:
        return []
    blocks: list[tuple[str, Any]] = [
        ("h2", "Per class (AAMI EC57 style, test split)"),
        ("p", "Se: sensitivity TP/(TP+FN); +P: positive predictivity TP/(TP+FP); Sp: specificity; mean ± std over "
              "seeds; – where undefined (a class absent from the test split has no Se, one never predicted no +P). "
              "counted: whether the class enters the macro-F1" + (f" ({note})" if note else "") + ". kept after "
              "warm-up: share of the class's training samples the policy trained on, from its first selection "
              "epoch on (1 for full data)."),
        ("table", per_class)]
    for policy, cm in confusion_tables(results_df).items():
        blocks += [("p", f"Confusion matrix of {policy} (test, summed over seeds; rows = true class, columns = "
                         "predicted)"), ("table", cm.reset_index())]
    return blocks


def _figure_section(heading: str, text: str, image: Path, alt: str) -> list[tuple[str, Any]]:
    """Report blocks of one figure: a heading, the paragraph that says how to read it, the image."""
    return [("h2", heading), ("p", text), ("img", (image, alt))]


def _render_md(blocks: list[tuple[str, Any]]) -> str:
    out = []
    for kind, val in blocks:
        if kind == "h1":
            out.append(f"# {val}\n")
        elif kind == "h2":
            out.append(f"## {val}\n")
        elif kind == "p":
            out.append(f"{val}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {v}" for v in val) + "\n")
        elif kind == "table":
            out.append(markdown_table(val) + "\n")
        elif kind == "img":
            out.append(f"![{val[1]}]({val[0].name})\n")
        elif kind == "pre":
            out.append(f"```\n{val}\n```\n")
    return "\n".join(out)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False, name=None))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _render_html(blocks: list[tuple[str, Any]], title: str) -> str:
    parts = []
    for kind, val in blocks:
        if kind in ("h1", "h2", "p"):
            tag = kind
            parts.append(f"<{tag}>{html.escape(str(val))}</{tag}>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(str(v))}</li>" for v in val) + "</ul>")
        elif kind == "table":
            parts.append(_html_table(val))
        elif kind == "img":
            data = base64.b64encode(val[0].read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(val[1])}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(val[1])}</figcaption></figure>")
        elif kind == "pre":
            parts.append(f"<pre>{html.escape(str(val))}</pre>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
             "img{max-width:100%}figcaption{font-size:13px;color:#555}pre{background:#f6f6f6;padding:8px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(results_df: pd.DataFrame, histories: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike,
                 examples: Mapping[str, Sequence[Example]] | None = None, *, title: str = "erts-kit comparison",
                 notes: Sequence[str] = (), filter_stats: pd.DataFrame | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and the PNG figures into ``out_dir``; return the Markdown path.

    Args:
        results_df: :func:`~erts_kit.results.run_grid`'s table (one row per run).
        histories: ``{run name ('<policy>_seed<k>'): history DataFrame}`` (columns ``val_macro_f1``,
            ``effective_epochs``, ``compute_equivalent_epochs``); lines are coloured by policy.
        out_dir: folder to write into (created).
        examples: ``{"kept": [Example...], "dropped": [Example...]}`` (e.g. from
            :func:`~erts_kit.results.pick_examples`); None: no example figure.
        title: report title.
        notes: sentences shown under the title (set-up, departures from the paper).
        filter_stats: optional per-kind table (:func:`~erts_kit.results.filter_table`) to print.

    Returns:
        Path of ``report.md``.

    Raises:
        ValueError: ``results_df`` is not run_grid's table.
        OSError: a file could not be written (e.g. disk full); the message names it and what to do.
            Every file is written atomically (UTF-8, whatever the locale), so a failure never leaves a
            torn report: the previous file, if any, stays.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not isinstance(results_df, pd.DataFrame) or "policy" not in results_df.columns:
        raise ValueError("Expected results_df as run_grid's DataFrame (with a 'policy' column), got "
                         f"{type(results_df).__name__}.")
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    table = comparison_table(results_df)
    blocks: list[tuple[str, Any]] = [("h1", title)]
    if notes:
        blocks.append(("ul", list(notes)))
    note = counted_note(results_df)
    blocks += [("h2", "Comparison"), ("table", table),
               ("ul", [f"{k}: {v}" for k, v in COLUMN_HELP.items() if k in table.columns] + ([note] if note else []))]
    blocks += _class_blocks(results_df, note)
    cost = _fig_cost(histories, out / "fig_cost.png")
    if cost is not None:
        blocks += _figure_section(
            "Macro-F1 against cost",
            "Left: what the papers report (effective epochs). Right: the same curve once the scoring forwards and "
            "Grad-CAM passes are counted. A policy that looks cheap on the left can cost as much as full-data "
            "training on the right.",
            cost, "validation macro-F1 against effective and compute-equivalent epochs")
    filt = _fig_filter(results_df, out / "fig_filter.png")
    if filt is not None:
        blocks += _figure_section(
            "Ground truth: what the focus filter dropped",
            "Share of the filter's candidates dropped for low focus, by kind of sample. A filter that finds "
            "corrupted samples drops them more often than clean ones; bars of equal height mean it drops at random "
            "with respect to corruption.",
            filt, "drop rate of the focus filter by kind of sample")
        if filter_stats is not None:
            blocks.append(("table", filter_stats.reset_index()))
    by_class = _fig_filter(results_df, out / "fig_filter_by_class.png", column="filter_by_class",
                           title="Clean candidates dropped for low focus, by true class (evidence kind)")
    if by_class is not None:
        blocks += _figure_section(
            "Local vs diffuse evidence: which clean samples the filter drops",
            "Share of the clean candidates of each true class dropped for low focus (summed over seeds). A filter "
            "that is fair to every class drops them at similar rates; the label says whether the class's evidence "
            "is local (one beat) or diffuse (every beat).",
            by_class, "drop rate of clean candidates by true class")
    kept = _fig_kept_by_class(histories, out / "fig_kept_by_class.png")
    if kept is not None:
        blocks += _figure_section(
            "Which classes the policy trains on",
            "Share of each class's training samples that got a training step, per epoch (first seed of each policy). "
            "A policy that drops a minority class far more often than the majority changes the class mix the "
            "model learns from; class_floor sets a lower bound on each class's share of a batch.",
            kept, "kept share per class and epoch")
    ex = _fig_examples(examples or {}, out / "fig_examples.png")
    if ex is not None:
        blocks += _figure_section(
            "Kept vs dropped, with Grad-CAM",
            "Samples of the last filter epoch: the kept candidates with the highest combined score (1 - p_true) x "
            "focus and the dropped ones with the lowest. Maps recomputed with the best checkpoint for the observed "
            "label; the blue band marks where the true class's evidence lies.",
            ex, "kept vs dropped samples with Grad-CAM overlays")
    md = out / "report.md"
    # UTF-8 bytes whatever the locale ("–", "±" break an ASCII/Latin-1 default); atomic: never a torn report
    atomic_write(md, lambda f: f.write(_render_md(blocks).encode("utf-8")))
    atomic_write(out / "report.html", lambda f: f.write(_render_html(blocks, title).encode("utf-8")))
    return md
