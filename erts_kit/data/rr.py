"""RR-interval features of annotated beats: the timing cue a single-beat window cannot show.

A supraventricular premature beat (S) has a near-normal shape and comes *early*; a ventricular one
(V) is early and followed by a compensatory pause. Both show in the RR intervals around the beat,
relative to the patient's own pace (de Chazal et al., 2004). :func:`load_mitbih` stores the intervals
in ``meta`` (``pre_rr, post_rr, local_avg_rr, record_avg_rr``, seconds); this module turns them into
model inputs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import ECGData

__all__ = ["RR_AUX", "RR_FEATURES", "rr_aux", "rr_features"]

RR_FEATURES: tuple[str, ...] = ("pre_rr", "post_rr", "local_avg_rr", "pre_rr_ratio")
RR_AUX: tuple[str, ...] = ("pre_rr_rel", "post_rr_rel", "local_rr_rel", "record_rr")
"""Names of the ``aux`` features of ``load_mitbih(context="rr")`` (see :func:`rr_aux`)."""


def _columns(meta: pd.DataFrame, cols: list[str]) -> np.ndarray:
    missing = [c for c in cols if c not in meta.columns]
    if missing:
        raise ValueError(f"Expected meta columns {cols} (from load_mitbih), missing {missing}.")
    return meta[cols].to_numpy(dtype=np.float64)


def rr_features(data: ECGData) -> np.ndarray:
    """RR-interval features per beat, float32 (N, 4): ``pre_rr, post_rr, local_avg_rr, pre_rr_ratio``.

    ``pre_rr_ratio = pre_rr / local_avg_rr`` is below 1 for a premature beat (S and V beats come
    early), the cue a single-beat window cannot show. Intervals are in seconds; see the
    :mod:`~erts_kit.data.mitbih` docstring for how the first/last beat and the local average are defined.

    Args:
        data: an ECGData from :func:`load_mitbih` (any context), whose meta has the RR columns.

    Raises:
        ValueError: when ``data.meta`` lacks the RR columns.

    Example:
        >>> meta = pd.DataFrame({"pre_rr": [0.8, 0.5], "post_rr": [0.5, 1.1], "local_avg_rr": [0.8, 0.65]})
        >>> d = ECGData(np.zeros((2, 1, 4), np.float32), [0, 1], ["N", "S"], 360, meta=meta)
        >>> rr_features(d).astype(float).round(3).tolist()
        [[0.8, 0.5, 0.8, 1.0], [0.5, 1.1, 0.65, 0.769]]
    """
    f = _columns(data.meta, ["pre_rr", "post_rr", "local_avg_rr"])
    ratio = f[:, 0] / np.where(f[:, 2] > 0, f[:, 2], np.nan)
    return np.column_stack([f, ratio]).astype(np.float32)


def rr_aux(meta: pd.DataFrame) -> np.ndarray:
    """The model-ready RR features of ``context="rr"``, float32 (N, 4), named :data:`RR_AUX`.

    Normalised per record: ``pre_rr_rel = pre_rr / record_avg_rr - 1`` (negative: earlier than this
    patient's average beat), likewise ``post_rr_rel`` and ``local_rr_rel``; ``record_rr`` is the
    record's mean RR interval in seconds (the patient's pace). The relative values are clipped to
    [-1, 2] (a gap of more than 3x the average pace, e.g. across an unannotated stretch, says nothing
    more and would swamp a linear layer). So a model sees prematurity relative
    to the patient, as de Chazal et al. (2004) did, and the values stay near 0..1 without any
    statistics taken from other patients (nothing leaks from validation or test records).

    Args:
        meta: ``data.meta`` of :func:`load_mitbih` (columns ``pre_rr, post_rr, local_avg_rr, record_avg_rr``).

    Raises:
        ValueError: missing columns, or a record average that is not positive.

    Example:
        >>> meta = pd.DataFrame({"pre_rr": [0.8, 0.4], "post_rr": [0.4, 1.2], "local_avg_rr": [0.8, 0.8],
        ...                      "record_avg_rr": [0.8, 0.8]})
        >>> rr_aux(meta).astype(float).round(3).tolist()
        [[0.0, -0.5, 0.0, 0.8], [-0.5, 0.5, 0.0, 0.8]]
    """
    f = _columns(meta, ["pre_rr", "post_rr", "local_avg_rr", "record_avg_rr"])
    avg = f[:, 3:4]
    if not (np.isfinite(avg).all() and (avg > 0).all()):
        raise ValueError("Expected a positive record_avg_rr for every beat (a record with at least two beats), "
                         "got a missing or non-positive one: drop records with fewer than two beats.")
    return np.column_stack([np.clip(f[:, :3] / avg - 1.0, -1.0, 2.0), avg]).astype(np.float32)
