"""ECG plots on pink ECG paper, with optional Grad-CAM band and evidence shading.

The paper follows the clinical convention: minor squares 0.04 s x 0.1 mV, major squares
0.2 s x 0.5 mV (25 mm/s, 10 mm/mV). A Grad-CAM map of any length is linearly resampled to the
signal length, min-max scaled to [0, 1] and drawn as a coloured band along the bottom of the
lead, with a colour bar (pale yellow = low, dark red = high); an evidence mask (e.g.
``ECGData.evidence_mask[i]``) is shaded over the full height. A z-scored signal (every lead with mean 0
and standard deviation 1, as ``load_dataset`` returns them) is drawn on the same grid, labelled in
z-score units instead of mV (``units="auto"`` tells them apart).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

__all__ = ["plot_ecg", "plot_ecg_grid", "resample_cam", "signal_units"]

PAPER = "#fff6f6"
MAJOR = "#f2a3a3"
MINOR = "#fbd6d6"
MASK_COLOR = "#3b7dd8"
CAM_CMAP = "YlOrRd"
CAM_LABEL = "Grad-CAM (min-max):\npale = low, dark red = high"
MAX_GRID_HEIGHT = 11.0      # inches: a 12-lead figure stays on one screen (about 1,100 px at 100 dpi)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):                 # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def signal_units(signal: Any, units: str = "auto") -> str:
    """``"mV"`` or ``"z-score"``: the unit of the y grid for this signal.

    ``"auto"`` says ``"z-score"`` when every lead has mean 0 and standard deviation 1 (to 1e-2), as
    per-lead z-scoring leaves it, and ``"mV"`` otherwise.

    Example:
        >>> signal_units(np.array([[-1.0, 1.0, -1.0, 1.0]]))
        'z-score'
        >>> signal_units(np.array([[0.1, 1.2, 0.0, 0.1]]))
        'mV'
    """
    if units in ("mV", "z-score"):
        return units
    if units != "auto":
        raise ValueError(f"Expected units 'auto', 'mV' or 'z-score', got {units!r}.")
    x = _to_numpy(signal).astype(np.float64)
    x = x.reshape(-1, x.shape[-1])
    mean, std = np.nanmean(x, axis=-1), np.nanstd(x, axis=-1)
    return "z-score" if np.all(np.abs(mean) < 1e-2) and np.all(np.abs(std - 1) < 1e-2) else "mV"


def _grid_text(units: str) -> str:
    return f"grid: 0.2 s x 0.5 {units}"


def _is_bottom(ax: Axes) -> bool:
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    return spec is None or spec.is_last_row()


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
          ylim: tuple[float, float] | None = None, minor: bool = True) -> Any:
    n = y.shape[0]
    t = np.arange(n) / fs
    ylim = _ylim(y) if ylim is None else ylim
    _paper(ax, n / fs, ylim, show_minor=minor and n / fs <= 20)
    if mask is not None:
        ax.fill_between(t, 0, 1, where=mask, step="mid", color=MASK_COLOR, alpha=0.18, linewidth=0,
                        transform=ax.get_xaxis_transform(), label="evidence")
    image = None
    if cam is not None:
        band = 0.12 * (ylim[1] - ylim[0])
        image = ax.imshow(cam[None, :], extent=(0, n / fs, ylim[0], ylim[0] + band), aspect="auto", cmap=CAM_CMAP,
                  vmin=0, vmax=1, alpha=0.9, interpolation="nearest", zorder=1)
        ax.set_ylim(*ylim)
    ax.plot(t, y, color="black", linewidth=0.8, zorder=3)
    return image


def _check_1d(name: str, a: Any, n: int, dtype: type | None = None) -> np.ndarray:
    arr = _to_numpy(a)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"Expected {name} of shape ({n},) to match the signal length, got {arr.shape}.")
    return arr.astype(dtype) if dtype is not None else arr


def plot_ecg(signal: Any, fs: float, lead: int = 0, cam: Any = None, mask: Any = None,
             ax: Axes | None = None, title: str | None = None, units: str = "auto",
             colorbar: bool = True) -> Axes:
    """Plot one ECG lead on ECG paper.

    Args:
        signal: (T,) one lead or (leads, T) a record (then ``lead`` picks the row); mV or z-scored.
        fs: sampling rate in Hz (the x axis is in seconds).
        lead: row of a (leads, T) signal to draw.
        cam: optional Grad-CAM map (W,) of any length (or (leads, W): row ``lead`` is used),
            resampled to T and drawn as a coloured band under the trace (pale yellow = low, dark red = high).
        mask: optional bool (T,) evidence mask, shaded in blue over the full height.
        ax: axes to draw on (default: a new 10 x 2.2 inch figure).
        title: optional axes title.
        units: ``"mV"``, ``"z-score"`` or ``"auto"`` (:func:`signal_units` of the record): labels the grid.
        colorbar: draw the Grad-CAM colour bar next to the axes (when ``cam`` is given).

    Returns:
        The matplotlib Axes.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from erts_kit.data.synthetic import make_synthetic
        >>> d = make_synthetic(n_samples=4, n_leads=1, seed=0)
        >>> ax = plot_ecg(d.signals[0], d.fs, cam=np.arange(32.0), mask=d.evidence_mask[0])
        >>> float(ax.get_xlim()[1]), ax.get_ylabel()
        (10.0, 'mV')
    """
    x = _to_numpy(signal).astype(np.float64)
    unit = signal_units(x, units)
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
    image = _draw(ax, y, float(fs), c, m)
    ax.set_ylabel(unit, fontsize=8)
    if _is_bottom(ax):
        ax.set_xlabel(f"time (s)   [{_grid_text(unit)}]", fontsize=8)
    if image is not None and colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.025, pad=0.01, ticks=[0, 1])
        bar.set_label(CAM_LABEL, fontsize=7)
        bar.ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return ax


def plot_ecg_grid(signal: Any, fs: float, lead_names: Sequence[str] | None = None, cam: Any = None,
                  mask: Any = None, title: str | None = None, units: str = "auto") -> Figure:
    """Plot every lead of one record, one row per lead, on ECG paper with a shared time axis.

    Args:
        signal: (leads, T) record.
        fs: sampling rate in Hz.
        lead_names: one name per lead, written at the left of each row (default lead0, lead1, ...).
        cam: optional map (W,) shared by all leads (1-D models, lead-reduced 2-D maps) or (leads, W)
            one per lead; any W, resampled to T, shown as a coloured band under each trace.
        mask: optional bool (T,) evidence mask shaded on every lead.
        title: optional figure title.
        units: ``"mV"``, ``"z-score"`` or ``"auto"`` (:func:`signal_units`): labels the grid.

    Returns:
        The matplotlib Figure, with one Axes per lead (the same scale on every row; at most
        ``MAX_GRID_HEIGHT`` inches tall, so rows of a tall record are squeezed, not the figure stretched)
        and a colour bar when ``cam`` is given.

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
    unit = signal_units(x, units)
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
                             figsize=(min(16.0, 2.0 + 1.4 * duration),
                                      min(MAX_GRID_HEIGHT, 0.25 + 0.45 * span * n_leads / 1.5)))
    # Minor squares under about 4 px (rows squeezed to fit the height cap) would paint the rows pink.
    minor = fig.get_size_inches()[1] / (span * n_leads) * 0.1 * fig.dpi >= 4
    images = []
    for i, ax in enumerate(axes[:, 0]):
        lo, hi = lims[i]
        lo -= np.floor((span - (hi - lo)) / 2 / 0.5) * 0.5     # centre the trace, stay on the 0.5 mV grid
        hi = lo + span
        images.append(_draw(ax, x[i], float(fs), cams[i], m, ylim=(lo, hi), minor=minor))
        ax.set_ylabel(names[i], rotation=0, ha="right", va="center", fontsize=9)
        if i < n_leads - 1:
            ax.tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel(f"time (s)   [{_grid_text(unit)}]", fontsize=8)
    if images[0] is not None:
        bar = fig.colorbar(images[0], ax=list(axes[:, 0]), fraction=0.02, pad=0.01, ticks=[0, 1], shrink=0.5)
        bar.set_label(CAM_LABEL, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    return fig

