"""Plots (ECG on ECG paper, Grad-CAM overlays, focus histograms) and the ipywidgets explorers.

The widgets live in :mod:`erts_kit.viz.widgets` (imported on demand: it needs ipywidgets).

Example:
    >>> from erts_kit.viz import plot_ecg, plot_ecg_grid
"""
from .ecg import plot_ecg, plot_ecg_grid, resample_cam
from .explain import plot_cam, plot_cam_grid, plot_focus_hist, plot_sample_cam, plot_separation

__all__ = ["plot_cam", "plot_cam_grid", "plot_ecg", "plot_ecg_grid", "plot_focus_hist", "plot_sample_cam",
           "plot_separation", "resample_cam"]
