"""The threshold explorer: what DBPD + the ERTS filter would keep per class at other ``tau`` / ``phi``.

:func:`threshold_explorer` is the widget; :func:`would_keep_counts` and :func:`render_threshold`
are the plain functions its callback calls, recomputing from the logged scores without retraining.
"""
from __future__ import annotations

from typing import Any

import ipywidgets
import numpy as np
import pandas as pd

from ..._validation import check_choice, check_range
from ...data.dataset import ECGData
from .._callbacks import guarded
from .common import Explorer, _check_log, _epoch_rows, static_requested

__all__ = ["render_threshold", "threshold_explorer", "would_keep_counts"]


def _filter_epoch(log_df: pd.DataFrame, labels: np.ndarray, epoch: int, tau: float,
                  phi: float) -> tuple[np.ndarray, ...]:
    """DBPD + ERTS filter on one epoch's logged scores, the epoch taken as one batch.

    Returns ``(y, p_true, focus, candidate_mask, kept_mask, rescued_mask)``, one entry per log row of
    the epoch; ``kept_mask`` includes the rescued samples.
    """
    import torch

    from ...selection.rules import dbpd_candidates, erts_filter

    log_df = _check_log(log_df)
    check_range("tau", tau, 0.0, 1.0, low_inclusive=False)
    check_range("phi", phi, 0.0, 1.0, low_inclusive=False)
    lab = np.asarray(labels)
    lab = lab.argmax(axis=1) if lab.ndim == 2 else lab.astype(np.int64)
    rows = _epoch_rows(log_df, epoch)
    idx = rows["index"].to_numpy(np.int64)
    if idx.max() >= len(lab):
        raise ValueError(f"Expected labels for every dataset index (at least {idx.max() + 1}), got {len(lab)}: "
                         f"pass the labels of the whole dataset (data.labels), not of one split.")
    y = lab[idx]
    p = rows["p_true"].to_numpy(np.float32, copy=True)
    f = rows["focus"].to_numpy(np.float32, copy=True)
    cand = dbpd_candidates(torch.from_numpy(p), tau=tau)
    kept, rescued = erts_filter(cand, torch.from_numpy(p), torch.from_numpy(f)[cand], torch.from_numpy(y), phi=phi)
    cand_mask = np.zeros(len(y), bool)
    cand_mask[cand.numpy()] = True
    keep_mask = np.zeros(len(y), bool)
    keep_mask[np.concatenate([kept.numpy(), rescued.numpy()])] = True
    rescued_mask = np.zeros(len(y), bool)
    rescued_mask[rescued.numpy()] = True
    return y, p, f, cand_mask, keep_mask, rescued_mask


def would_keep_counts(log_df: pd.DataFrame, labels: np.ndarray, epoch: int, tau: float = 0.3, phi: float = 0.7,
                      class_names: list[str] | None = None) -> pd.DataFrame:
    """Per class: how many samples of an epoch DBPD + the ERTS filter would keep at ``tau``, ``phi``.

    Recomputed from the logged ``p_true`` and ``focus`` with :func:`erts_kit.selection.rules.dbpd_candidates`
    and :func:`erts_kit.selection.rules.erts_filter`, without retraining. Approximations, because
    the log stores scores, not the run's batches or its counterfactual passes:

    * the log does not record batch membership, so the filter (top ``max(1, int(phi * n))`` by
      ``(1 - p_true) * focus`` and class-aware rescue) is applied to the whole epoch's candidates as
      one batch. Per batch the count rounds down once per batch and rescue acts per batch, so the
      run itself keeps slightly more;
    * focus was computed only for the run's own candidates (and only from ERTS's CAM start on): a
      sample that becomes a candidate at a larger ``tau`` has no focus, ranks last and is counted in
      ``unscored``; samples without a logged ``p_true`` (SRD, warm-up without scoring) are never
      candidates and are counted in ``no_p_true``;
    * ``tau == 0`` ("keep the misclassified") needs the predicted class, which the log lacks: use tau > 0.

    Args:
        log_df: the selection log's DataFrame.
        labels: (N,) class ids of the whole dataset (``data.labels``; multi-hot: first positive class).
        epoch: which epoch's scores.
        tau: DBPD threshold in (0, 1].
        phi: ERTS kept fraction in (0, 1].
        class_names: names of the classes (default ``"0"``, ``"1"``, ...).

    Returns:
        DataFrame indexed by class: ``seen``, ``candidates`` (p_true < tau), ``kept`` (after the
        filter and rescue), ``rescued``, ``unscored``, ``no_p_true``, ``kept_frac`` (kept / seen).

    Example:
        >>> log = pd.DataFrame({"epoch": 9, "index": [0, 1, 2, 3], "p_true": [0.0, 0.2, 0.0, 0.5],
        ...                     "focus": [0.9, 0.5, 0.1, float("nan")], "combined": float("nan"),
        ...                     "decision": "KEPT"})
        >>> would_keep_counts(log, np.array([0, 0, 1, 0]), 9, tau=0.3, phi=0.5,
        ...                   class_names=["a", "b"])  # doctest: +NORMALIZE_WHITESPACE
               seen  candidates  kept  rescued  unscored  no_p_true  kept_frac
        class
        a         3           2     1        0         0          0   0.333333
        b         1           1     1        1         0          0   1.000000
    """
    y, p, f, cand, kept, rescued = _filter_epoch(log_df, labels, epoch, tau, phi)
    lab = np.asarray(labels)
    n_classes = len(class_names) if class_names is not None else lab.shape[1] if lab.ndim == 2 else int(lab.max()) + 1
    names = list(class_names) if class_names is not None else [str(c) for c in range(n_classes)]

    def per_class(mask: np.ndarray) -> np.ndarray:
        return np.bincount(y[mask], minlength=n_classes)

    out = pd.DataFrame({
        "seen": per_class(np.ones(len(y), bool)),
        "candidates": per_class(cand),
        "kept": per_class(kept),
        "rescued": per_class(rescued),
        "unscored": per_class(cand & np.isnan(f)),
        "no_p_true": per_class(np.isnan(p)),
    }, index=pd.Index(names, name="class"))
    out["kept_frac"] = out["kept"] / out["seen"].where(out["seen"] > 0)
    return out


def render_threshold(log_df: pd.DataFrame, labels: np.ndarray, epoch: int, tau: float = 0.3, phi: float = 0.7,
                     class_names: list[str] | None = None) -> tuple[pd.DataFrame, Any]:
    """The counts of :func:`would_keep_counts` and a figure: kept per class and the focus histogram.

    The histogram shows the logged focus of the epoch's candidates at ``tau``, split into those the
    filter would keep and those it would drop.

    Example:
        >>> log = pd.DataFrame({"epoch": 9, "index": [0, 1], "p_true": [0.1, 0.2], "focus": [0.9, 0.5],
        ...                     "combined": float("nan"), "decision": "KEPT"})
        >>> counts, fig = render_threshold(log, np.array([0, 1]), 9, tau=0.3, phi=0.5)
        >>> counts["kept"].tolist(), len(fig.axes)
        ([1, 1], 2)
    """
    import matplotlib.pyplot as plt

    counts = would_keep_counts(log_df, labels, epoch, tau, phi, class_names)
    _, _, f, cand_mask, keep_mask, _ = _filter_epoch(log_df, labels, epoch, tau, phi)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3), layout="constrained")
    x = np.arange(len(counts))
    ax0.bar(x - 0.2, counts["seen"], 0.4, label="seen", color="0.75")
    ax0.bar(x + 0.2, counts["kept"], 0.4, label="would keep", color="C0")
    ax0.set_xticks(x, counts.index, rotation=45 if len(x) > 6 else 0)
    ax0.set_title(f"epoch {epoch}: tau={tau:.2f}, phi={phi:.2f}")
    ax0.set_ylabel("samples")
    ax0.set_ylim(0, 1.25 * max(1, int(counts["seen"].max())))     # head room: the legend sits above the bars
    ax0.legend(fontsize=8, loc="upper center", ncols=2, frameon=False)
    bins = np.linspace(0, 1, 21)
    for mask, name, color in ((cand_mask & keep_mask, "kept", "C0"), (cand_mask & ~keep_mask, "filtered out", "C3")):
        vals = f[mask & ~np.isnan(f)]
        ax1.hist(vals, bins=bins, alpha=0.6, label=f"{name} ({len(vals)})", color=color)
    ax1.set_xlabel("focus (logged)")
    ax1.set_ylabel("candidates")
    ax1.set_title("focus of the candidates")
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return counts, fig


def threshold_explorer(log_df: pd.DataFrame, data: ECGData, epoch: int | None = None, tau: float = 0.3,
                       phi: float = 0.7, static: bool | None = None) -> Explorer:
    """Widget: tau and phi sliders recompute, from the logged scores, what DBPD + ERTS would keep per class.

    See :func:`would_keep_counts` for what is exact and what is approximated (no retraining; the
    whole epoch is filtered as one batch; samples without logged focus rank last).

    Args:
        log_df: ``SelectionLog.to_dataframe()`` of a run (a SelectionLog is accepted too).
        data: the ECGData the run trained on (its labels and class names are used).
        epoch: initial epoch (default: the last one with logged focus, else the last one).
        tau: initial DBPD threshold; phi: initial ERTS kept fraction.
        static: also show the current view as plain output under the widget, for viewers that cannot
            render widgets (None: when ``ERTS_KIT_STATIC_WIDGETS=1``).

    Returns:
        an :class:`Explorer` (VBox); its callback ran once already (errors fail the calling cell).

    Example:
        >>> d = ECGData(np.zeros((2, 1, 10), np.float32), [0, 1], ["a", "b"], 100)
        >>> log = pd.DataFrame({"epoch": 9, "index": [0, 1], "p_true": [0.1, 0.2], "focus": [0.9, 0.5],
        ...                     "combined": float("nan"), "decision": "KEPT"})
        >>> w = threshold_explorer(log, d)  # doctest: +ELLIPSIS
        epoch 9, tau 0.30, phi 0.70: would keep 2 of 2 ...
        >>> sorted(w.controls)
        ['epoch', 'phi', 'tau']
    """
    log_df = _check_log(log_df)
    epochs = sorted(int(e) for e in log_df["epoch"].unique())
    with_focus = sorted(int(e) for e in log_df.loc[log_df["focus"].notna(), "epoch"].unique())
    if epoch is None:
        epoch = with_focus[-1] if with_focus else epochs[-1]
    check_choice("epoch", epoch, epochs)
    slider = {"continuous_update": False, "readout_format": ".2f"}
    controls: dict[str, ipywidgets.Widget] = {
        "epoch": ipywidgets.SelectionSlider(options=epochs, value=epoch, description="epoch",
                                            continuous_update=False),
        "tau": ipywidgets.FloatSlider(value=tau, min=0.01, max=1.0, step=0.01, description="tau", **slider),
        "phi": ipywidgets.FloatSlider(value=phi, min=0.05, max=1.0, step=0.05, description="phi", **slider),
    }
    output = ipywidgets.Output()

    def draw(epoch: int, tau: float, phi: float) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        counts, fig = render_threshold(log_df, data.labels, epoch, tau, phi, list(data.class_names))
        print(f"epoch {epoch}, tau {tau:.2f}, phi {phi:.2f}: would keep {int(counts['kept'].sum())} of "
              f"{int(counts['seen'].sum())} ({int(counts['candidates'].sum())} candidates, "
              f"{int(counts['unscored'].sum())} without logged focus)")
        display(counts)
        display(fig)
        plt.close(fig)

    update = guarded(output)(draw)

    def values() -> tuple[int, float, float]:
        return controls["epoch"].value, controls["tau"].value, controls["phi"].value

    def refresh(*_: Any) -> None:
        update(*values())

    for c in controls.values():
        c.observe(refresh, names="value")
    refresh()
    return Explorer(controls, output, refresh, static_view=(lambda: draw(*values())) if static_requested(static) else None)
