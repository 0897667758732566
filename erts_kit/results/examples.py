"""Kept and dropped samples of an ERTS run, with their Grad-CAM maps, ready to draw in a report.

:func:`pick_examples` reads a finished run folder (``selection_log.npz`` + ``best.pt``) and returns
:class:`Example` items (signal, map, title) for the kept and the dropped-for-low-focus samples of the
last filter epoch.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data import ECGData
from ..explain import gradcam
from ..models import build_model
from .filters import FILTERED, decision_names
from .run_folder import open_run

__all__ = ["Example", "pick_examples"]

@dataclass
class Example:
    """One sample to draw: signal (leads, T) or (T,), its Grad-CAM map (W,) (any length) and a title."""

    signal: np.ndarray
    fs: float
    cam: np.ndarray | None
    title: str
    mask: np.ndarray | None = None
    lead: int = 0


def run_n_aux(run_dir: str | os.PathLike, data: ECGData) -> int:
    """The aux width a run's model was built with (``settings.json``'s ``n_aux``; older runs: the data's).

    Raises:
        ValueError: the run's model took another number of aux features than ``data`` has.
    """
    path = Path(run_dir) / "settings.json"
    saved = json.loads(path.read_text()).get("n_aux") if path.exists() else None
    if saved is None:
        return data.n_aux
    if int(saved) != data.n_aux:
        raise ValueError(f"The run in {run_dir} was trained with {saved} aux features per sample, the data given "
                         f"has {data.n_aux}: load the data as for that run (e.g. load_mitbih(..., context='rr')).")
    return int(saved)


def pick_examples(run_dir: str | os.PathLike, data: ECGData, model: str, n: int = 3,
                  model_kwargs: Mapping[str, Any] | None = None, lead: int | None = None) -> dict[str, list]:
    """Kept and dropped-for-low-focus samples of an ERTS run's last filter epoch, with Grad-CAM maps.

    Takes the ``n`` kept candidates with the highest combined score and the ``n`` dropped ones with
    the lowest, and computes their true-class (observed label) Grad-CAM with the run's best weights
    (``best.pt``): the decision itself was taken with the weights of that epoch.

    Returns:
        ``{"kept": [Example...], "dropped": [Example...]}`` (:class:`Example`); empty
        lists if the run has no filter epoch.

    Raises:
        erts_kit.data.identity.DataMismatch: the run was trained on other data than ``data``.
        FileNotFoundError: ``run_dir`` lacks ``selection_log.npz`` or ``best.pt``.
    """
    log_obj, best = open_run(run_dir, data)   # refuses a run trained on other data
    log = log_obj.to_dataframe()
    dec = decision_names(log["decision"])
    filt = log[np.isin(dec, FILTERED)]
    if filt.empty:
        return {"kept": [], "dropped": []}
    epoch = int(filt["epoch"].max())
    ep = log[log["epoch"] == epoch]
    ep_dec = decision_names(ep["decision"])
    kept = ep[np.isin(ep_dec, ("KEPT", "RESCUED")) & ep["focus"].notna()].sort_values("combined", ascending=False)
    dropped = ep[ep_dec == "DROPPED_LOW_FOCUS"].sort_values("combined")
    net = build_model(model, data.n_leads, data.n_classes, n_aux=run_n_aux(run_dir, data), **dict(model_kwargs or {}))
    net.load_state_dict(best["model"])
    net.eval()
    lead = (1 if data.n_leads > 1 else 0) if lead is None else lead
    out: dict[str, list] = {}
    for kind, rows in (("kept", kept.head(n)), ("dropped", dropped.head(n))):
        idx = rows["index"].to_numpy(np.int64)
        if len(idx) == 0:
            out[kind] = []
            continue
        x = torch.as_tensor(np.asarray(data.signals[idx]), dtype=torch.float32)
        y = torch.as_tensor(data.labels[idx])
        y = (y.float().argmax(1) if y.dim() == 2 else y).long()   # multi-hot: first positive class
        aux = None if data.aux is None else torch.as_tensor(data.aux[idx])
        cams = gradcam(net, x, y, aux=aux).numpy()
        items = []
        for j, r in enumerate(rows.itertuples(index=False)):
            i = int(r.index)
            items.append(Example(signal=np.asarray(data.signals[i]), fs=float(data.fs), cam=cams[j],
                                 title=_example_title(data, i, epoch, float(r.p_true), float(r.focus)),
                                 mask=None if data.evidence_mask is None else data.evidence_mask[i], lead=lead))
        out[kind] = items
    return out


def _example_title(data: ECGData, i: int, epoch: int, p_true: float, focus: float) -> str:
    m = data.meta.iloc[i] if data.meta is not None else pd.Series(dtype=object)
    label = data.class_names[int(data.labels[i])] if data.labels.ndim == 1 else "multi-label"
    parts = [f"#{i} label {label}"]
    if "class_true" in m and str(m["class_true"]) != label:
        parts.append(f"(true {m['class_true']}: FLIPPED)")
    if "artifact_kind" in m and str(m["artifact_kind"]) != "none":
        parts.append(f"artefact: {m['artifact_kind']}")
    parts.append(f"| epoch {epoch}, p_true {p_true:.2f}, focus {focus:.2f}")
    return " ".join(parts)
