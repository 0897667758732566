"""One verdict per run: the three cost measures reconciled, and whether the focus filter beat chance.

The papers publish *effective epochs* (EE: training passes only). The kit's ledger also counts
*compute-equivalent epochs* (every pass at nominal unit costs: scoring forward 1, Grad-CAM 2,
training step 3 per sample; a full-data epoch = 1) and the wall-clock seconds of this machine. The
three can disagree, and a notebook that shows all three must say which way and why:
:func:`verdict` writes those sentences from the numbers. :func:`beat_chance` tests the focus filter's
precision (corrupted among the samples it dropped) against the base rate (corrupted among its
candidates, the precision of dropping at random).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy.stats import binomtest

__all__ = ["COST_COLUMNS", "Verdict", "beat_chance", "cost_table", "grid_verdicts", "verdict"]

COST_COLUMNS = ("macro_f1", "effective_epochs", "compute_equivalent_epochs", "wall_seconds")
"""Columns :func:`verdict` reads, one row per policy (the names of :data:`erts_kit.results.RESULT_COLUMNS`)."""


@dataclass
class Verdict:
    """The sentences of a verdict, and the ratios they were written from.

    Attributes:
        lines: the sentences, in reading order.
        ratios: ``ee``, ``compute``, ``wall`` (policy / reference) and ``delta_macro_f1``.
        filter_beat_chance: True / False, or None when the policy has no focus filter or no ground truth.
    """

    lines: list[str]
    ratios: dict[str, float] = field(default_factory=dict)
    filter_beat_chance: bool | None = None

    def __str__(self) -> str:
        return "\n".join(self.lines)

    __repr__ = __str__


def cost_table(runs: Mapping[str, Any], n_train: int) -> pd.DataFrame:
    """The :data:`COST_COLUMNS` of trained runs (``erts_kit.train.train`` results), one row per name.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> run = NS(test_metrics={"macro_f1": 0.5}, history=pd.DataFrame({"seconds": [1.0, 2.0]}),
        ...          ledger=NS(effective_epochs=lambda n: 2.0, compute_equivalent_epochs=lambda n: 2.0))
        >>> cost_table({"full": run}, n_train=10).loc["full"].tolist()
        [0.5, 2.0, 2.0, 3.0]
    """
    rows = {name: {"macro_f1": float((r.test_metrics or {}).get("macro_f1", float("nan"))),
                   "effective_epochs": float(r.ledger.effective_epochs(n_train)),
                   "compute_equivalent_epochs": float(r.ledger.compute_equivalent_epochs(n_train)),
                   "wall_seconds": float(r.history["seconds"].sum())} for name, r in runs.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(COST_COLUMNS))


def beat_chance(n_true_positive: int, n_dropped: int, base_rate: float, alpha: float = 0.05) -> dict[str, Any]:
    """Did "dropped for low focus" hit corrupted samples more often than dropping at random would?

    A one-sided exact binomial test of ``n_true_positive`` corrupted among ``n_dropped`` drops against
    the base rate, in both directions. Sample-epochs are counted, and one sample dropped in several
    epochs is not an independent draw, so the p-values are optimistic: read "beat chance" as "at
    least not explained by chance under independence".

    Returns:
        dict with ``precision``, ``base_rate``, ``p_better`` (precision above the base rate),
        ``p_worse`` (below it) and ``answer``: ``"beat chance"``, ``"worse than chance"``,
        ``"no better than chance"`` or ``"undefined"`` (nothing dropped, or no base rate).

    Example:
        >>> beat_chance(40, 50, 0.4)["answer"]
        'beat chance'
        >>> beat_chance(20, 50, 0.4)["answer"]
        'no better than chance'
    """
    if n_dropped < 0 or not 0 <= n_true_positive <= max(n_dropped, 0):
        raise ValueError(f"Expected 0 <= n_true_positive <= n_dropped, got {n_true_positive} and {n_dropped}.")
    if n_dropped == 0 or not 0.0 <= base_rate <= 1.0:      # NaN fails the comparison too
        return {"precision": float("nan"), "base_rate": base_rate, "p_better": float("nan"),
                "p_worse": float("nan"), "answer": "undefined"}
    better = binomtest(n_true_positive, n_dropped, base_rate, alternative="greater").pvalue
    worse = binomtest(n_true_positive, n_dropped, base_rate, alternative="less").pvalue
    answer = ("beat chance" if better < alpha else "worse than chance" if worse < alpha
              else "no better than chance")
    return {"precision": n_true_positive / n_dropped, "base_rate": base_rate, "p_better": float(better),
            "p_worse": float(worse), "answer": answer}


_FILTER_WORDS = {"beat chance": "beat chance", "no better than chance": "did no better than chance",
                 "worse than chance": "did worse than chance"}


def _ratio_words(r: float) -> str:
    if not math.isfinite(r):
        return "undefined"
    return f"{r:.2f}x ({'saves' if r < 1 else 'costs'} {abs(1 - r):.0%}{'' if r < 1 else ' more'})"


def _check_table(table: pd.DataFrame, names: list[str]) -> None:
    missing = [c for c in COST_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"Expected a cost table with columns {list(COST_COLUMNS)}, missing {missing}: "
                         "build it with erts_kit.results.cost_table(runs, n_train).")
    absent = [n for n in names if n not in table.index]
    if absent:
        raise ValueError(f"Expected rows {names} in the cost table, missing {absent}; it has {list(table.index)}.")


def verdict(table: pd.DataFrame, policy: str, reference: str, *, filter_stats: Mapping[str, Any] | None = None,
            smoke: bool = False, n_seeds: int = 1) -> Verdict:
    """Reconcile EE, compute-equivalent epochs and wall-clock of ``policy`` against ``reference``.

    Args:
        table: one row per policy with :data:`COST_COLUMNS` (:func:`cost_table`, or a grid summary).
        policy: the run judged (e.g. ``"xai_dbpd"``).
        reference: what it is compared with (its PDD base for ERTS, ``"full"`` for PDD).
        filter_stats: :func:`erts_kit.results.filter_precision_recall` of the ERTS run (needs
            ``n_true_positive``, ``n_dropped``, ``base_rate``, ``precision``); None: no filter verdict.
        smoke: the notebook's ``SMOKE``: the first line then says the numbers test mechanics only.
        n_seeds: seeds behind each row (1: the macro-F1 difference is not a claim).

    Returns:
        A :class:`Verdict`; ``print`` it.

    Example:
        >>> t = pd.DataFrame({"macro_f1": [0.735, 0.641], "effective_epochs": [10.0, 9.6],
        ...                   "compute_equivalent_epochs": [12.0, 15.2], "wall_seconds": [100.0, 90.0]},
        ...                  index=["dbpd", "xai_dbpd"])
        >>> v = verdict(t, "xai_dbpd", "dbpd")
        >>> print(v.lines[0])
        xai_dbpd against dbpd: EE 0.96x (saves 4%); compute-equivalent epochs 1.27x (costs 27% more); wall-clock 0.90x (saves 10%).
    """
    _check_table(table, [policy, reference])
    a, b = table.loc[policy], table.loc[reference]
    ratios = {"ee": float(a.effective_epochs / b.effective_epochs) if b.effective_epochs else float("nan"),
              "compute": (float(a.compute_equivalent_epochs / b.compute_equivalent_epochs)
                          if b.compute_equivalent_epochs else float("nan")),
              "wall": float(a.wall_seconds / b.wall_seconds) if b.wall_seconds else float("nan"),
              "delta_macro_f1": float(a.macro_f1 - b.macro_f1)}
    lines = [(f"{policy} against {reference}: EE {_ratio_words(ratios['ee'])}; compute-equivalent epochs "
              f"{_ratio_words(ratios['compute'])}; wall-clock {_ratio_words(ratios['wall'])}.")]
    cheaper = {k: ratios[k] < 1 for k in ("ee", "compute", "wall") if math.isfinite(ratios[k])}
    if len(set(cheaper.values())) <= 1:
        lines.append("The three measures agree on the direction: " +
                     ("cheaper." if all(cheaper.values()) else "not cheaper."))
    else:
        lines.append("They disagree. EE counts only training passes; compute-equivalent epochs add the scoring "
                     "forward (1 unit) and Grad-CAM passes (2 units) at nominal cost against 3 for a training "
                     "step; wall-clock is what this machine actually spent, including validation and data "
                     "loading, which every policy pays alike.")
        if cheaper.get("ee") and not cheaper.get("compute", True):
            lines.append("EE's saving is smaller than the cost of the extra passes it leaves out.")
        if "wall" in cheaper and "compute" in cheaper and cheaper["wall"] != cheaper["compute"]:
            lines.append("Wall-clock and compute-equivalent epochs point opposite ways: the nominal unit costs do "
                         "not match this machine's seconds per pass (see the seconds per phase), and a single "
                         "timing varies with the machine's load.")
    seeds = "one seed" if n_seeds == 1 else f"mean of {n_seeds} seeds"
    lines.append(f"Test macro-F1 {a.macro_f1:.3f} vs {b.macro_f1:.3f} ({ratios['delta_macro_f1']:+.3f}, {seeds}): "
                 + ("a single seed shows the direction of one run, not a difference between methods "
                    "(notebook 08: paired seeds and an interval)." if n_seeds == 1 else
                    "compare the difference with the spread over seeds before calling it real."))
    beat: bool | None = None
    if filter_stats is not None:
        tp, n_drop = int(filter_stats["n_true_positive"]), int(filter_stats["n_dropped"])
        test = beat_chance(tp, n_drop, float(filter_stats["base_rate"]))
        if test["answer"] == "undefined":
            lines.append("Focus filter: nothing was dropped for low focus, so there is nothing to judge.")
        else:
            beat = test["answer"] == "beat chance"
            lines.append(f"Focus filter: precision {test['precision']:.3f} against a base rate of "
                         f"{test['base_rate']:.3f} over {n_drop} dropped sample-epochs (one-sided binomial p = "
                         f"{test['p_better']:.3g}): it {_FILTER_WORDS[test['answer']]} at finding corrupted samples in this run.")
    if smoke:
        lines.insert(0, "[smoke: mechanics only] tiny data and 2-3 epochs: the sentences below test the "
                        "pipeline; they say nothing about the methods.")
    return Verdict(lines, ratios, beat)


def grid_verdicts(results: pd.DataFrame, policy: str, reference: str, *, smoke: bool = False
                  ) -> dict[tuple[str, str], Verdict]:
    """One :func:`verdict` per (dataset, model) of a :func:`erts_kit.results.run_grid` results table.

    Costs and macro-F1 are means over seeds; the filter's counts are summed over the seeds of ``policy``
    (``filter_precision`` x ``filter_n_dropped`` gives each seed's true positives); without a base rate
    (a real database has no ground truth) there is no filter verdict.

    Example:
        >>> rows = [dict(dataset="d", model="m", policy=p, seed=s, macro_f1=f, effective_epochs=ee,
        ...              compute_equivalent_epochs=ce, wall_seconds=w, filter_precision=fp, filter_base_rate=0.4,
        ...              filter_n_dropped=nd)
        ...         for s in (1, 2) for p, f, ee, ce, w, fp, nd in (("dbpd", 0.7, 10, 12, 100, float("nan"), 0),
        ...                                                          ("xai_dbpd", 0.6, 9, 15, 80, 0.4, 50))]
        >>> v = grid_verdicts(pd.DataFrame(rows), "xai_dbpd", "dbpd")[("d", "m")]
        >>> v.ratios["compute"], v.filter_beat_chance
        (1.25, False)
    """
    need = ["dataset", "model", "policy", *COST_COLUMNS]
    missing = [c for c in need if c not in results.columns]
    if missing:
        raise ValueError(f"Expected a run_grid results table with columns {need}, missing {missing}.")
    out: dict[tuple[str, str], Verdict] = {}
    for (dataset, model), g in results.groupby(["dataset", "model"], sort=False):
        table = g.groupby("policy", sort=False)[list(COST_COLUMNS)].mean()
        mine = g[g["policy"] == policy]
        stats = None
        has_truth = "filter_base_rate" in g.columns and mine["filter_base_rate"].notna().any()
        if has_truth and {"filter_precision", "filter_n_dropped"} <= set(g.columns):
            n_drop = mine["filter_n_dropped"].fillna(0).astype(int)
            tp = (mine["filter_precision"].fillna(0) * n_drop).round().astype(int)
            base = float((mine["filter_base_rate"] * n_drop).sum() / n_drop.sum()) if n_drop.sum() else float("nan")
            stats = {"n_true_positive": int(tp.sum()), "n_dropped": int(n_drop.sum()), "base_rate": base}
        n_seeds = int(mine["seed"].nunique()) if "seed" in mine.columns and len(mine) else 1
        out[(str(dataset), str(model))] = verdict(table, policy, reference, filter_stats=stats, smoke=smoke,
                                                  n_seeds=n_seeds)
    return out
