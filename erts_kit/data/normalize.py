"""Per-sample, per-lead z-scoring, as in the ERTS paper (every record, every lead: mean 0, std 1).

A flat lead (standard deviation below ``eps``: a disconnected electrode, a zero-filled channel)
becomes all zeros rather than NaN; readers report such leads (see :func:`flat_leads`).
"""
from __future__ import annotations

import numpy as np


def flat_leads(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Which leads are flat (std < ``eps`` along time).

    Args:
        x: array (..., T); typically (leads, T) or (N, leads, T).
        eps: standard-deviation threshold.

    Returns:
        bool array of shape ``x.shape[:-1]``.

    Example:
        >>> flat_leads(np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])).tolist()
        [True, False]
    """
    x = np.asarray(x)
    return np.asarray(x.std(axis=-1, dtype=np.float64) < eps)


def zscore_per_lead(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Z-score every lead of every sample along time; flat leads become zeros (never NaN).

    Args:
        x: array (..., T), e.g. one record (leads, T) or a batch (N, leads, T).
        eps: a lead with standard deviation below ``eps`` counts as flat and is set to 0.

    Returns:
        float32 array of the same shape: each lead has mean 0 and std 1 (or is all zeros).

    Example:
        >>> z = zscore_per_lead(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
        >>> [[round(float(v), 4) for v in lead] for lead in z]
        [[-1.2247, 0.0, 1.2247], [0.0, 0.0, 0.0]]
    """
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"Expected an array (..., T) with T >= 1, got shape {x.shape}.")
    mean = x.mean(axis=-1, keepdims=True, dtype=np.float64)
    std = x.std(axis=-1, keepdims=True, dtype=np.float64)
    flat = std < eps
    out = (x - mean) / np.where(flat, 1.0, std)
    out = np.where(flat, 0.0, out)
    return out.astype(np.float32, copy=False)
