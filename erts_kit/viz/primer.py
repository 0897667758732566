"""Figures of the primer (notebook 00): one heartbeat with its waves and intervals named.

A beat's landmarks are found by peak search around an R peak, which is enough on a clean lead II
(the synthetic generator with ``noise_scale=0``, or a normal MIT-BIH beat): R is the tallest peak,
Q and S the minima just before and after it, P the largest deflection 80-300 ms before R, T the
largest 120-450 ms after it. Onsets are not detected: the PR interval is drawn from 40 ms before
the P peak to 10 ms before Q, and labelled as approximate.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from scipy.signal import find_peaks

from .ecg import plot_ecg, signal_units

__all__ = ["beat_landmarks", "find_r_peaks", "plot_labelled_beat"]


def find_r_peaks(y: Any, fs: float) -> np.ndarray:
    """Indices of the R peaks of one lead: peaks above 60 % of the tallest, at least 300 ms apart.

    Example:
        >>> y = np.zeros(300); y[[50, 150, 250]] = 1.0
        >>> find_r_peaks(y, fs=100).tolist()
        [50, 150, 250]
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.size == 0 or not np.isfinite(y).all():
        raise ValueError(f"Expected a finite 1-D lead, got {y.size} samples with non-finite values or none.")
    base = np.median(y)
    peaks, _ = find_peaks(y - base, height=0.6 * float(np.max(y - base)), distance=max(1, int(0.3 * fs)))
    return peaks


def beat_landmarks(y: Any, fs: float, r: int) -> dict[str, int]:
    """Sample indices of P, Q, R, S and T around the R peak at index ``r`` (see the module docstring).

    Example:
        >>> fs = 100; t = np.arange(100) / fs
        >>> bump = lambda c, w, a: a * np.exp(-0.5 * ((t - c) / w) ** 2)
        >>> y = bump(0.2, 0.02, 0.15) + bump(0.36, 0.01, -0.1) + bump(0.4, 0.01, 1.0) + bump(0.44, 0.01, -0.3) \\
        ...     + bump(0.7, 0.04, 0.3)
        >>> beat_landmarks(y, fs, 40)
        {'P': 20, 'Q': 36, 'R': 40, 'S': 44, 'T': 70}
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    n = y.size
    if not 0 <= r < n:
        raise ValueError(f"Expected the R index in [0, {n - 1}], got {r}.")

    def window(a: float, b: float) -> slice:
        lo, hi = max(0, r + round(a * fs)), min(n, r + round(b * fs) + 1)
        if hi <= lo:
            raise ValueError(f"The beat at index {r} is too close to the edge of a {n}-sample lead: give at "
                             f"least 0.3 s before and 0.45 s after the R peak.")
        return slice(lo, hi)

    q, s, p, t = window(-0.06, -0.005), window(0.005, 0.08), window(-0.30, -0.08), window(0.12, 0.45)
    base = float(np.median(y))
    return {"P": p.start + int(np.argmax(np.abs(y[p] - base))), "Q": q.start + int(np.argmin(y[q])), "R": int(r),
            "S": s.start + int(np.argmin(y[s])), "T": t.start + int(np.argmax(np.abs(y[t] - base)))}


def _bracket(ax: Axes, t0: float, t1: float, level: float, text: str) -> None:
    ax.annotate("", xy=(t0, level), xytext=(t1, level), arrowprops=dict(arrowstyle="<->", color="#1f4e79", lw=1))
    ax.text((t0 + t1) / 2, level, text, ha="center", va="bottom", fontsize=8, color="#1f4e79")


def plot_labelled_beat(y: Any, fs: float, ax: Axes | None = None, title: str | None = None,
                       units: str = "auto") -> tuple[Axes, dict[str, float]]:
    """Draw about 1.6 s of one lead with P, Q, R, S, T named and the PR, QRS, QT and RR intervals bracketed.

    Args:
        y: one lead (T,) holding at least two full beats.
        fs: sampling rate in Hz.
        ax: axes to draw on (default: a new figure).
        title: axes title.
        units: ``"mV"``, ``"z-score"`` or ``"auto"`` (see :func:`erts_kit.viz.ecg.signal_units`).

    Returns:
        The Axes and the measured intervals in seconds: ``PR`` (approximate, P peak - 40 ms to Q - 10 ms),
        ``P_to_R`` (P peak to R peak), ``QRS`` (Q to S), ``QT`` (Q to T peak + 80 ms, approximate) and
        ``RR`` (R to the next R).

    Raises:
        ValueError: fewer than two R peaks with room for a whole beat around the first.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from erts_kit.data.synthetic import make_synthetic
        >>> d = make_synthetic(n_samples=6, n_leads=12, fs=250, seed=0, noise_scale=0.0)
        >>> i = int((d.meta.class_true == "NORM").to_numpy().argmax())
        >>> ax, iv = plot_labelled_beat(d.signals[i][1], d.fs)
        >>> 0.1 < iv["P_to_R"] < 0.3 and 0.3 < iv["RR"] < 1.2
        True
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    peaks = find_r_peaks(y, fs)
    ok = [k for k in range(len(peaks) - 1) if peaks[k] >= 0.4 * fs and peaks[k + 1] + 0.5 * fs < y.size]
    if not ok:
        raise ValueError(f"Expected a lead with two whole beats (R peaks 0.4 s from the start, 0.5 s from the end), "
                         f"found {len(peaks)} R peaks in {y.size / fs:.1f} s: pass a longer or cleaner lead.")
    r, r_next = int(peaks[ok[0]]), int(peaks[ok[0] + 1])
    marks = beat_landmarks(y, fs, r)
    lo, hi = r - int(0.4 * fs), r_next + int(0.45 * fs)
    seg = y[lo:hi]
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
    plot_ecg(seg, fs, ax=ax, title=title, units=signal_units(y, units))
    ax.set_xlim(0, seg.size / fs)
    sec = {k: (v - lo) / fs for k, v in marks.items()}
    for name, i in marks.items():
        ax.plot(sec[name], y[i], "o", color="#c0392b", ms=4, zorder=4)
        offset = (9, -4) if name == "R" else (0, 8 if y[i] >= np.median(y) else -14)
        ax.annotate(name, (sec[name], y[i]), xytext=offset, textcoords="offset points", ha="center",
                    fontsize=11, fontweight="bold", color="#c0392b")
    top, span = float(np.max(seg)), float(np.ptp(seg))
    intervals = {"PR": (marks["Q"] - marks["P"]) / fs + 0.03, "P_to_R": (r - marks["P"]) / fs,
                 "QRS": (marks["S"] - marks["Q"]) / fs, "QT": (marks["T"] - marks["Q"]) / fs + 0.08,
                 "RR": (r_next - r) / fs}
    low = float(np.min(seg)) - 0.1 * span
    ax.set_ylim(low - 0.25 * span, top + 0.35 * span)
    _bracket(ax, sec["P"] - 0.04, sec["Q"] - 0.01, low, f"PR ~{intervals['PR']:.2f} s")
    _bracket(ax, sec["Q"], sec["S"], low - 0.17 * span, f"QRS {intervals['QRS']:.2f} s")
    _bracket(ax, sec["R"], (r_next - lo) / fs, top + 0.06 * span, f"RR {intervals['RR']:.2f} s")
    _bracket(ax, sec["Q"], sec["T"] + 0.08, top + 0.2 * span, f"QT ~{intervals['QT']:.2f} s")
    return ax, intervals
