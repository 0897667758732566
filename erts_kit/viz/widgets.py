"""Interactive explorers of a training run's selection log (ipywidgets), built on plain, tested functions.

Both explorers read the DataFrame of a :class:`~erts_kit.selection.SelectionLog`
(``log.to_dataframe()``: columns ``epoch, index, p_true, focus, combined, decision`` and optionally
``kept``) and an :class:`~erts_kit.data.dataset.ECGData`; neither retrains anything.

* :func:`kept_vs_dropped_explorer`: one kept and one dropped sample of an epoch side by side, with
  their Grad-CAM maps, scores, labels and (synthetic data) corruption.
* :func:`threshold_explorer`: how many samples per class DBPD + the ERTS filter would keep at other
  ``tau`` / ``phi`` values, recomputed from the logged scores, and the focus histogram.

The callback logic is in plain functions (:func:`pick_pair`, :func:`describe_sample`,
:func:`render_pair`, :func:`would_keep_counts`, :func:`render_threshold`) that tests call
directly. Every widget callback is wrapped with :func:`erts_kit.viz._callbacks.guarded` and run
once while the builder runs, so a broken callback fails the notebook cell instead of showing a
traceback nobody checks.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd

from .._validation import check_choice, check_range
from ..data.dataset import ECGData
from ..selection.base import KEPT_DECISIONS, Decision
from ._callbacks import guarded
from .ecg import plot_ecg

__all__ = [
    "Explorer",
    "describe_sample",
    "kept_vs_dropped_explorer",
    "pick_pair",
    "render_pair",
    "render_threshold",
    "threshold_explorer",
    "would_keep_counts",
]

_LOG_COLUMNS = ("epoch", "index", "p_true", "focus", "combined", "decision")
_KEPT_NAMES = tuple(d.name for d in KEPT_DECISIONS)
_DROPPED_NAMES = tuple(d.name for d in Decision if d not in KEPT_DECISIONS)

CamSource = Callable[[int, int], np.ndarray] | np.ndarray | None


class Explorer(ipywidgets.VBox):
    """A VBox of controls above an Output, with handles for code and tests.

    Attributes:
        controls: the control widgets by name (``"epoch"``, ``"tau"``, ...).
        output: the Output the guarded callback draws into.
        refresh: calls the guarded callback with the controls' current values.
    """

    def __init__(self, controls: dict[str, ipywidgets.Widget], output: ipywidgets.Output,
                 refresh: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(children=[ipywidgets.HBox(list(controls.values())), output], **kwargs)
        self.controls = controls
        self.output = output
        self.refresh = refresh


# -- log helpers ---------------------------------------------------------------------------------
def _check_log(log_df: pd.DataFrame) -> pd.DataFrame:
    """Validate a selection-log DataFrame and return it with ``decision`` as upper-case names."""
    if hasattr(log_df, "to_dataframe") and not isinstance(log_df, pd.DataFrame):
        log_df = log_df.to_dataframe()
    if not isinstance(log_df, pd.DataFrame):
        raise TypeError(f"Expected the selection log as a DataFrame (SelectionLog.to_dataframe()), "
                        f"got {type(log_df).__name__}.")
    missing = [c for c in _LOG_COLUMNS if c not in log_df.columns]
    if missing:
        raise ValueError(f"Expected selection-log columns {list(_LOG_COLUMNS)}, missing {missing}: "
                         f"pass SelectionLog.to_dataframe().")
    if log_df.empty:
        raise ValueError("The selection log is empty: train with a policy first (train(..., policy=...)).")
    dec = log_df["decision"]
    if pd.api.types.is_integer_dtype(dec):
        names = [Decision(int(v)).name for v in dec]
    else:
        names = [str(v).upper() for v in dec]
    unknown = sorted(set(names) - {d.name for d in Decision})
    if unknown:
        raise ValueError(f"Unknown decisions {unknown}: expected names of erts_kit.selection.base.Decision.")
    out = log_df.copy()
    out["decision"] = names
    return out


def _class_of(data: ECGData, idx: np.ndarray) -> np.ndarray:
    """One class id per dataset index (multi-label: the first positive class, as the log does)."""
    lab = np.asarray(data.labels)[np.asarray(idx, dtype=np.int64)]
    return lab.argmax(axis=1) if lab.ndim == 2 else lab.astype(np.int64)


def _epoch_rows(log_df: pd.DataFrame, epoch: int) -> pd.DataFrame:
    rows = log_df[log_df["epoch"] == epoch]
    if rows.empty:
        raise ValueError(f"No log rows for epoch {epoch}: the log holds epochs "
                         f"{sorted(int(e) for e in log_df['epoch'].unique())}.")
    return rows


# -- kept vs dropped -----------------------------------------------------------------------------
def pick_pair(log_df: pd.DataFrame, data: ECGData, epoch: int, cls: str | int | None = None,
              decision: str = "any", seed: int = 0) -> tuple[int | None, int | None]:
    """Pick one kept and one dropped sample of an epoch (dataset indices; None where there is none).

    Args:
        log_df: the selection log's DataFrame.
        data: the ECG set the log's indices refer to.
        epoch: which epoch.
        cls: only samples of this class (name or id); ``None``/``"all"``: any class.
        decision: ``"any"``, or a :class:`Decision` name: a kept decision restricts the kept sample
            (e.g. ``"RESCUED"``), a dropped one restricts the dropped sample (e.g. ``"DROPPED_LOW_FOCUS"``).
        seed: which pair (the same seed gives the same pair).

    Returns:
        ``(kept_idx, dropped_idx)``.

    Example:
        >>> d = ECGData(np.zeros((4, 1, 10), np.float32), [0, 1, 0, 1], ["a", "b"], 100)
        >>> log = pd.DataFrame({"epoch": [8] * 4, "index": [0, 1, 2, 3], "p_true": 0.1, "focus": 0.5,
        ...                     "combined": 0.45, "decision": ["KEPT", "DROPPED_LOW_FOCUS", "RESCUED",
        ...                                                    "DROPPED_CONFIDENT"]})
        >>> pick_pair(log, d, 8, cls="b", decision="DROPPED_CONFIDENT")
        (None, 3)
        >>> pick_pair(log, d, 8, cls="a", decision="RESCUED")
        (2, None)
    """
    log_df = _check_log(log_df)
    check_choice("decision", decision, ["any", *(d.name for d in Decision)])
    rows = _epoch_rows(log_df, epoch)
    if cls is not None and cls != "all":
        if isinstance(cls, str):
            cid = data.class_names.index(check_choice("class", cls, ["all", *data.class_names]))
        else:
            cid = check_choice("class id", cls, range(data.n_classes))
        rows = rows[_class_of(data, rows["index"].to_numpy()) == cid]
    rng = np.random.default_rng(seed)
    picks: list[int | None] = []
    for allowed in (_KEPT_NAMES, _DROPPED_NAMES):
        wanted = (decision,) if decision in allowed else allowed
        pool = np.sort(rows.loc[rows["decision"].isin(wanted), "index"].unique())
        picks.append(int(rng.choice(pool)) if len(pool) else None)
    return picks[0], picks[1]


def describe_sample(log_df: pd.DataFrame, data: ECGData, epoch: int, idx: int) -> dict[str, Any]:
    """Scores, decision, label and (when ``data.meta`` records it) corruption of one sample in one epoch.

    Example:
        >>> meta = pd.DataFrame({"flipped": [False, True], "artifact_kind": ["none", "baseline_wander"]})
        >>> d = ECGData(np.zeros((2, 1, 10), np.float32), [0, 1], ["a", "b"], 100, meta=meta)
        >>> log = pd.DataFrame({"epoch": [3, 3], "index": [0, 1], "p_true": [0.25, 0.5],
        ...                     "focus": [0.75, float("nan")], "combined": [0.5625, float("nan")],
        ...                     "decision": ["KEPT", "DROPPED_CONFIDENT"]})
        >>> info = describe_sample(log, d, 3, 1)
        >>> info["label"], info["decision"], info["flipped"], info["artifact_kind"]
        ('b', 'DROPPED_CONFIDENT', True, 'baseline_wander')
    """
    log_df = _check_log(log_df)
    rows = _epoch_rows(log_df, epoch)
    row = rows[rows["index"] == idx]
    if row.empty:
        raise ValueError(f"Sample {idx} has no log row in epoch {epoch}: pick an index the run trained on.")
    r = row.iloc[0]
    info: dict[str, Any] = {"index": int(idx), "epoch": int(epoch),
                            "label": data.class_names[int(_class_of(data, np.array([idx]))[0])],
                            "decision": r["decision"], "p_true": float(r["p_true"]),
                            "focus": float(r["focus"]), "combined": float(r["combined"])}
    for col in ("flipped", "artifact_kind", "label_true", "corrupted"):
        if data.meta is not None and col in data.meta.columns:
            v = data.meta[col].iloc[idx]
            info[col] = v.item() if hasattr(v, "item") else v
    if "label_true" in info and isinstance(info["label_true"], (int, np.integer)):
        info["label_true"] = data.class_names[int(info["label_true"])]
    return info


def _format_info(info: dict[str, Any]) -> str:
    parts = [f"#{info['index']} {info['decision']}", f"label {info['label']}",
             f"p_true {info['p_true']:.3f}", f"focus {info['focus']:.3f}"]
    if info.get("flipped"):
        parts.append(f"FLIPPED (true {info.get('label_true', '?')})")
    kind = info.get("artifact_kind")
    if kind not in (None, "", "none") and not (isinstance(kind, float) and np.isnan(kind)):
        parts.append(f"artefact {kind}")
    return ", ".join(parts)


def _cam_for(cams: CamSource, model: Any, data: ECGData, idx: int) -> np.ndarray | None:
    """The Grad-CAM map of a sample for its (given) label, from a callable, an array, or the model."""
    target = int(_class_of(data, np.array([idx]))[0])
    if cams is not None:
        cam = cams(idx, target) if callable(cams) else np.asarray(cams)[idx]
        return np.asarray(cam, dtype=np.float32).reshape(-1)
    if model is None:
        return None
    import torch

    from ..explain import gradcam

    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(data.signals[idx], dtype=np.float32), device=device)
    return gradcam(model, x[None], target=target, upsample=True)[0].detach().cpu().numpy()


def render_pair(log_df: pd.DataFrame, data: ECGData, epoch: int, kept_idx: int | None,
                dropped_idx: int | None, model: Any = None, cams: CamSource = None, lead: int = 0) -> Any:
    """Figure with the kept sample (left) and the dropped one (right), Grad-CAM overlaid when available.

    Returns:
        a matplotlib Figure with two axes; a side with no sample says so.

    Example:
        >>> d = ECGData(np.zeros((2, 1, 10), np.float32), [0, 1], ["a", "b"], 100)
        >>> log = pd.DataFrame({"epoch": [0, 0], "index": [0, 1], "p_true": 0.5, "focus": 0.5,
        ...                     "combined": 0.25, "decision": ["KEPT", "DROPPED_CONFIDENT"]})
        >>> fig = render_pair(log, d, 0, 0, None, cams=np.ones((2, 5)))
        >>> [(ax.get_title(loc="left") or ax.get_title()).split(",")[0] for ax in fig.axes]
        ['KEPT #0 KEPT', 'no dropped sample']
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 3), layout="constrained")
    for ax, idx, side in ((axes[0], kept_idx, "KEPT"), (axes[1], dropped_idx, "DROPPED")):
        if idx is None:
            ax.set_title(f"no {side.lower()} sample")
            ax.set_axis_off()
            continue
        info = describe_sample(log_df, data, epoch, idx)
        mask = None if data.evidence_mask is None else data.evidence_mask[idx]
        plot_ecg(np.asarray(data.signals[idx]), data.fs, lead=lead, cam=_cam_for(cams, model, data, idx),
                 mask=mask, ax=ax, title=f"{side} {_format_info(info)}")
    return fig


def kept_vs_dropped_explorer(log_df: pd.DataFrame, data: ECGData, model: Any = None, cams: CamSource = None,
                             lead: int = 0, seed: int = 0) -> Explorer:
    """Widget: an epoch's kept and dropped samples side by side, with Grad-CAM, scores and corruption.

    Controls: epoch slider, class filter, decision filter, pair number (another random pair).

    Args:
        log_df: ``SelectionLog.to_dataframe()`` of a run (a SelectionLog is accepted too).
        data: the ECGData the run trained on (dataset indices of the log refer to it).
        model: optional trained ECGModel; maps are computed with :func:`erts_kit.explain.gradcam`
            for the sample's given label, upsampled to the signal length.
        cams: instead of ``model``: an array (N, W) of precomputed maps, or ``cams(idx, target) -> (W,)``.
        lead: which lead to plot.
        seed: initial pair number.

    Returns:
        an :class:`Explorer` (VBox); its callback ran once already (errors fail the calling cell).

    Example:
        >>> d = ECGData(np.zeros((2, 1, 10), np.float32), [0, 1], ["a", "b"], 100)
        >>> log = pd.DataFrame({"epoch": [0, 0], "index": [0, 1], "p_true": 0.5, "focus": 0.5,
        ...                     "combined": 0.25, "decision": ["KEPT", "DROPPED_CONFIDENT"]})
        >>> w = kept_vs_dropped_explorer(log, d)  # doctest: +ELLIPSIS
        epoch 0, class all, decision any: kept #0, dropped #1
        Figure(...)
        >>> sorted(w.controls)
        ['class', 'decision', 'epoch', 'pair']
    """
    log_df = _check_log(log_df)
    epochs = sorted(int(e) for e in log_df["epoch"].unique())
    present = [d.name for d in Decision if d.name in set(log_df["decision"])]
    controls: dict[str, ipywidgets.Widget] = {
        "epoch": ipywidgets.SelectionSlider(options=epochs, value=epochs[-1], description="epoch"),
        "class": ipywidgets.Dropdown(options=["all", *data.class_names], value="all", description="class"),
        "decision": ipywidgets.Dropdown(options=["any", *present], value="any", description="decision"),
        "pair": ipywidgets.BoundedIntText(value=int(seed), min=0, max=10**6, description="pair #",
                                          layout=ipywidgets.Layout(width="150px")),
    }
    output = ipywidgets.Output()

    @guarded(output)
    def update(epoch: int, cls: str, decision: str, pair: int) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        kept, dropped = pick_pair(log_df, data, epoch, cls, decision, seed=pair)
        print(f"epoch {epoch}, class {cls}, decision {decision}: kept #{kept}, dropped #{dropped}")
        fig = render_pair(log_df, data, epoch, kept, dropped, model=model, cams=cams, lead=lead)
        display(fig)
        plt.close(fig)

    def refresh(*_: Any) -> None:
        update(controls["epoch"].value, controls["class"].value, controls["decision"].value,
               controls["pair"].value)

    for c in controls.values():
        c.observe(refresh, names="value")
    refresh()
    return Explorer(controls, output, refresh)


# -- thresholds ----------------------------------------------------------------------------------
def _filter_epoch(log_df: pd.DataFrame, labels: np.ndarray, epoch: int, tau: float,
                  phi: float) -> tuple[np.ndarray, ...]:
    """DBPD + ERTS filter on one epoch's logged scores, the epoch taken as one batch.

    Returns ``(y, p_true, focus, candidate_mask, kept_mask, rescued_mask)``, one entry per log row of
    the epoch; ``kept_mask`` includes the rescued samples.
    """
    import torch

    from ..selection.rules import dbpd_candidates, erts_filter

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
        >>> would_keep_counts(log, np.array([0, 0, 1, 0]), 9, tau=0.3, phi=0.5, class_names=["a", "b"])
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
    ax0.legend(fontsize=8)
    bins = np.linspace(0, 1, 21)
    for mask, name, color in ((cand_mask & keep_mask, "kept", "C0"), (cand_mask & ~keep_mask, "filtered out", "C3")):
        vals = f[mask & ~np.isnan(f)]
        ax1.hist(vals, bins=bins, alpha=0.6, label=f"{name} ({len(vals)})", color=color)
    ax1.set_xlabel("focus (logged)")
    ax1.set_title("focus of the candidates")
    ax1.legend(fontsize=8)
    return counts, fig


def threshold_explorer(log_df: pd.DataFrame, data: ECGData, epoch: int | None = None, tau: float = 0.3,
                       phi: float = 0.7) -> Explorer:
    """Widget: tau and phi sliders recompute, from the logged scores, what DBPD + ERTS would keep per class.

    See :func:`would_keep_counts` for what is exact and what is approximated (no retraining; the
    whole epoch is filtered as one batch; samples without logged focus rank last).

    Args:
        log_df: ``SelectionLog.to_dataframe()`` of a run (a SelectionLog is accepted too).
        data: the ECGData the run trained on (its labels and class names are used).
        epoch: initial epoch (default: the last one with logged focus, else the last one).
        tau: initial DBPD threshold; phi: initial ERTS kept fraction.

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

    @guarded(output)
    def update(epoch: int, tau: float, phi: float) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        counts, fig = render_threshold(log_df, data.labels, epoch, tau, phi, list(data.class_names))
        print(f"epoch {epoch}, tau {tau:.2f}, phi {phi:.2f}: would keep {int(counts['kept'].sum())} of "
              f"{int(counts['seen'].sum())} ({int(counts['candidates'].sum())} candidates, "
              f"{int(counts['unscored'].sum())} without logged focus)")
        display(counts)
        display(fig)
        plt.close(fig)

    def refresh(*_: Any) -> None:
        update(controls["epoch"].value, controls["tau"].value, controls["phi"].value)

    for c in controls.values():
        c.observe(refresh, names="value")
    refresh()
    return Explorer(controls, output, refresh)
