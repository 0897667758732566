"""ECG plots on pink ECG paper, with optional Grad-CAM band and evidence shading.

The paper follows the clinical convention: minor squares 0.04 s x 0.1 mV, major squares
0.2 s x 0.5 mV (25 mm/s, 10 mm/mV). A Grad-CAM map of any length is linearly resampled to the
signal length, min-max scaled to [0, 1] and drawn as a coloured band along the bottom of the
lead; an evidence mask (e.g. ``ECGData.evidence_mask[i]``) is shaded over the full height.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

__all__ = ["plot_ecg", "plot_ecg_grid", "resample_cam"]

PAPER = "#fff6f6"
MAJOR = "#f2a3a3"
MINOR = "#fbd6d6"
MASK_COLOR = "#3b7dd8"
CAM_CMAP = "YlOrRd"


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):                 # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def resample_cam(cam: Any, n_timesteps: int) -> np.ndarray:
    """Resample a map (W,) to (T,) by linear interpolation of bin centres, then min-max to [0, 1].

    A flat map becomes all zeros.

    Example:
        >>> resample_cam(np.array([0.0, 2.0]), 4).round(2).tolist()
        [0.0, 0.25, 0.75, 1.0]
    """
    c = _to_numpy(cam).astype(np.float64).ravel()
    if c.size == 0:
        raise ValueError("Expected a non-empty cam map, got an empty array.")
    if c.size == n_timesteps:
        r = c
    else:
        src = (np.arange(c.size) + 0.5) / c.size
        dst = (np.arange(n_timesteps) + 0.5) / n_timesteps
        r = np.interp(dst, src, c)
    lo, hi = r.min(), r.max()
    return (r - lo) / (hi - lo) if hi > lo else np.zeros(n_timesteps)


def _paper(ax: Axes, duration: float, ylim: tuple[float, float], show_minor: bool) -> None:
    """Draw ECG-paper grid lines on ``ax``.

    The grid is two line collections (``vlines``/``hlines``), not minor ticks: a 12-lead figure would
    otherwise hold thousands of tick artists and take many seconds to render.
    """
    ax.set_facecolor(PAPER)
    ax.set_xlim(0, duration)
    ax.set_ylim(*ylim)
    lo, hi = ylim
    if show_minor:
        xs = np.arange(0.0, duration + 1e-9, 0.04)
        ys = np.arange(np.ceil(lo / 0.1) * 0.1, hi + 1e-9, 0.1)
        ax.vlines(xs, lo, hi, colors=MINOR, linewidth=0.4, zorder=0)
        ax.hlines(ys, 0, duration, colors=MINOR, linewidth=0.4, zorder=0)
    ax.vlines(np.arange(0.0, duration + 1e-9, 0.2), lo, hi, colors=MAJOR, linewidth=0.8, zorder=0)
    ax.hlines(np.arange(np.ceil(lo / 0.5) * 0.5, hi + 1e-9, 0.5), 0, duration, colors=MAJOR, linewidth=0.8,
              zorder=0)
    ax.xaxis.set_major_locator(MultipleLocator(1.0 if duration > 2 else 0.2))
    ax.set_yticks([])
    ax.tick_params(which="both", length=0, labelsize=7, colors="#888888")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if abs(v - round(v)) < 1e-6 else ""))
    for spine in ax.spines.values():
        spine.set_color(MAJOR)


def _ylim(y: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    lo, hi = np.floor((lo - 0.15) / 0.5) * 0.5, np.ceil((hi + 0.15) / 0.5) * 0.5
    if hi - lo < 1.5:                         # at least three major squares high
        pad = (1.5 - (hi - lo)) / 2
        lo, hi = np.floor((lo - pad) / 0.5) * 0.5, np.ceil((hi + pad) / 0.5) * 0.5
    return lo, hi


def _draw(ax: Axes, y: np.ndarray, fs: float, cam: np.ndarray | None, mask: np.ndarray | None,
          ylim: tuple[float, float] | None = None) -> None:
    n = y.shape[0]
    t = np.arange(n) / fs
    ylim = _ylim(y) if ylim is None else ylim
    _paper(ax, n / fs, ylim, show_minor=n / fs <= 20)
    if mask is not None:
        ax.fill_between(t, 0, 1, where=mask, step="mid", color=MASK_COLOR, alpha=0.18, linewidth=0,
                        transform=ax.get_xaxis_transform(), label="evidence")
    if cam is not None:
        band = 0.12 * (ylim[1] - ylim[0])
        ax.imshow(cam[None, :], extent=(0, n / fs, ylim[0], ylim[0] + band), aspect="auto", cmap=CAM_CMAP,
                  vmin=0, vmax=1, alpha=0.9, interpolation="nearest", zorder=1)
        ax.set_ylim(*ylim)
    ax.plot(t, y, color="black", linewidth=0.8, zorder=3)


def _check_1d(name: str, a: Any, n: int, dtype: type | None = None) -> np.ndarray:
    arr = _to_numpy(a)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"Expected {name} of shape ({n},) to match the signal length, got {arr.shape}.")
    return arr.astype(dtype) if dtype is not None else arr


def plot_ecg(signal: Any, fs: float, lead: int = 0, cam: Any = None, mask: Any = None,
             ax: Axes | None = None, title: str | None = None) -> Axes:
    """Plot one ECG lead on ECG paper.

    Args:
        signal: (T,) one lead or (leads, T) a record (then ``lead`` picks the row); mV-like units.
        fs: sampling rate in Hz (the x axis is in seconds).
        lead: row of a (leads, T) signal to draw.
        cam: optional Grad-CAM map (W,) of any length (or (leads, W): row ``lead`` is used),
            resampled to T and drawn as a coloured band under the trace (bright = high).
        mask: optional bool (T,) evidence mask, shaded in blue over the full height.
        ax: axes to draw on (default: a new 10 x 2.2 inch figure).
        title: optional axes title.

    Returns:
        The matplotlib Axes.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from erts_kit.data.synthetic import make_synthetic
        >>> d = make_synthetic(n_samples=4, n_leads=1, seed=0)
        >>> ax = plot_ecg(d.signals[0], d.fs, cam=np.arange(32.0), mask=d.evidence_mask[0])
        >>> float(ax.get_xlim()[1])
        10.0
    """
    x = _to_numpy(signal).astype(np.float64)
    if x.ndim == 2:
        if not 0 <= lead < x.shape[0]:
            raise ValueError(f"Expected lead in [0, {x.shape[0] - 1}], got {lead}.")
        y = x[lead]
    elif x.ndim == 1:
        y = x
    else:
        raise ValueError(f"Expected signal of shape (T,) or (leads, T), got {x.shape}: pick one record, "
                         "e.g. data.signals[i].")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(10, 2.2), layout="constrained")
    c = None
    if cam is not None:
        c_arr = _to_numpy(cam)
        c_arr = c_arr[lead] if c_arr.ndim == 2 else c_arr
        c = resample_cam(c_arr, y.shape[0])
    m = None if mask is None else _check_1d("mask", mask, y.shape[0], bool)
    _draw(ax, y, float(fs), c, m)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return ax


def plot_ecg_grid(signal: Any, fs: float, lead_names: Sequence[str] | None = None, cam: Any = None,
                  mask: Any = None, title: str | None = None) -> Figure:
    """Plot every lead of one record, one row per lead, on ECG paper with a shared time axis.

    Args:
        signal: (leads, T) record.
        fs: sampling rate in Hz.
        lead_names: one name per lead, written at the left of each row (default lead0, lead1, ...).
        cam: optional map (W,) shared by all leads (1-D models, lead-reduced 2-D maps) or (leads, W)
            one per lead; any W, resampled to T, shown as a coloured band under each trace.
        mask: optional bool (T,) evidence mask shaded on every lead.
        title: optional figure title.

    Returns:
        The matplotlib Figure, with one Axes per lead (same mV scale on every row).

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from erts_kit.data.synthetic import make_synthetic
        >>> d = make_synthetic(n_samples=4, n_leads=2, seed=0)
        >>> fig = plot_ecg_grid(d.signals[1], d.fs, d.lead_names, mask=d.evidence_mask[1])
        >>> len(fig.axes)
        2
    """
    import matplotlib.pyplot as plt

    x = _to_numpy(signal).astype(np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"Expected signal of shape (leads, T), got {x.shape}: pick one record, e.g. data.signals[i].")
    n_leads, n = x.shape
    names = [f"lead{i}" for i in range(n_leads)] if lead_names is None else list(lead_names)
    if len(names) != n_leads:
        raise ValueError(f"Expected {n_leads} lead_names, got {len(names)}.")
    cams: list[np.ndarray | None] = [None] * n_leads
    if cam is not None:
        c_arr = _to_numpy(cam)
        if c_arr.ndim == 2 and c_arr.shape[0] != n_leads:
            raise ValueError(f"Expected cam of shape (W,) or ({n_leads}, W), got {c_arr.shape}.")
        cams = [resample_cam(c_arr[i] if c_arr.ndim == 2 else c_arr, n) for i in range(n_leads)]
    m = None if mask is None else _check_1d("mask", mask, n, bool)
    # The same height for every row, so amplitudes compare across leads as on paper.
    lims = [_ylim(row) for row in x]
    span = max(hi - lo for lo, hi in lims)
    duration = n / float(fs)
    fig, axes = plt.subplots(n_leads, 1, sharex=True, squeeze=False, layout="constrained",
                             figsize=(min(16.0, 2.0 + 1.4 * duration), 0.25 + 0.45 * span * n_leads / 1.5))
    for i, ax in enumerate(axes[:, 0]):
        lo, hi = lims[i]
        lo -= np.floor((span - (hi - lo)) / 2 / 0.5) * 0.5     # centre the trace, stay on the 0.5 mV grid
        hi = lo + span
        _draw(ax, x[i], float(fs), cams[i], m, ylim=(lo, hi))
        ax.set_ylabel(names[i], rotation=0, ha="right", va="center", fontsize=9)
        if i < n_leads - 1:
            ax.tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel("time (s)   [grid: 0.2 s x 0.5 mV]", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    return fig

