"""The kept-vs-dropped explorer: one kept and one dropped sample of an epoch side by side.

:func:`kept_vs_dropped_explorer` is the widget; :func:`pick_pair`, :func:`describe_sample` and
:func:`render_pair` are the plain functions its callback calls (and printed copies call directly).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd

from ..._validation import check_choice
from ...data.dataset import ECGData
from ...selection.base import KEPT_DECISIONS, Decision
from .._callbacks import guarded
from ..ecg import plot_ecg
from .common import Explorer, _check_log, _class_of, _epoch_rows, static_requested

__all__ = ["describe_sample", "kept_vs_dropped_explorer", "pick_pair", "render_pair"]

_KEPT_NAMES = tuple(d.name for d in KEPT_DECISIONS)
_DROPPED_NAMES = tuple(d.name for d in Decision if d not in KEPT_DECISIONS)

CamSource = Callable[[int, int], np.ndarray] | np.ndarray | None


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


def _format_info(info: dict[str, Any], side: str | None = None) -> str:
    """One line of a sample's facts; with ``side`` ("KEPT"/"DROPPED") first, the decision only when it adds to it."""
    decision = "" if info["decision"] == side else (f" ({info['decision']})" if side else f" {info['decision']}")
    head = f"{side} #{info['index']}" if side else f"#{info['index']}"
    parts = [head + decision, f"label {info['label']}",
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

    from ...explain import gradcam

    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(data.signals[idx], dtype=np.float32), device=device)
    aux = None if data.aux is None else torch.as_tensor(data.aux[idx : idx + 1], device=device)
    return gradcam(model, x[None], target=target, upsample=True, aux=aux)[0].detach().cpu().numpy()


def render_pair(log_df: pd.DataFrame, data: ECGData, epoch: int, kept_idx: int | None,
                dropped_idx: int | None, model: Any = None, cams: CamSource = None, lead: int = 0) -> Any:
    """Figure with the kept sample (left) and the dropped one (right), Grad-CAM overlaid when available.

    Returns:
        a matplotlib Figure with two axes (then the Grad-CAM colour bars); a side with no sample says so.

    Example:
        >>> d = ECGData(np.zeros((2, 1, 10), np.float32), [0, 1], ["a", "b"], 100)
        >>> log = pd.DataFrame({"epoch": [0, 0], "index": [0, 1], "p_true": 0.5, "focus": 0.5,
        ...                     "combined": 0.25, "decision": ["KEPT", "DROPPED_CONFIDENT"]})
        >>> fig = render_pair(log, d, 0, 0, None, cams=np.ones((2, 5)))
        >>> [(ax.get_title(loc="left") or ax.get_title()).split(",")[0] for ax in fig.axes[:2]]
        ['KEPT #0', 'no dropped sample']
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
                 mask=mask, ax=ax, title=_format_info(info, side))
    return fig


def kept_vs_dropped_explorer(log_df: pd.DataFrame, data: ECGData, model: Any = None, cams: CamSource = None,
                             lead: int = 0, seed: int = 0, static: bool | None = None) -> Explorer:
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
        static: also show the current view as plain output under the widget, for viewers that cannot
            render widgets (None: when ``ERTS_KIT_STATIC_WIDGETS=1``).

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

    def draw(epoch: int, cls: str, decision: str, pair: int) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        kept, dropped = pick_pair(log_df, data, epoch, cls, decision, seed=pair)
        print(f"epoch {epoch}, class {cls}, decision {decision}: kept #{kept}, dropped #{dropped}")
        fig = render_pair(log_df, data, epoch, kept, dropped, model=model, cams=cams, lead=lead)
        display(fig)
        plt.close(fig)

    update = guarded(output)(draw)

    def values() -> tuple[int, str, str, int]:
        return (controls["epoch"].value, controls["class"].value, controls["decision"].value,
                controls["pair"].value)

    def refresh(*_: Any) -> None:
        update(*values())

    for c in controls.values():
        c.observe(refresh, names="value")
    refresh()
    return Explorer(controls, output, refresh, static_view=(lambda: draw(*values())) if static_requested(static) else None)

