"""Plots (ECG on ECG paper, Grad-CAM overlays, focus histograms) and the ipywidgets explorers.

Example:
    >>> from erts_kit.viz import plot_ecg, plot_ecg_grid, kept_vs_dropped_explorer
"""
from ._callbacks import guarded, raise_widget_errors
from .ecg import plot_ecg, plot_ecg_grid, resample_cam
from .explain import (
           plot_cam,
           plot_cam_grid,
           plot_focus_hist,
           plot_sample_cam,
           plot_separation,
)
from .widgets import kept_vs_dropped_explorer, threshold_explorer

__all__ = ["guarded", "kept_vs_dropped_explorer", "plot_cam", "plot_cam_grid", "plot_ecg", "plot_ecg_grid",
           "plot_focus_hist", "plot_sample_cam", "plot_separation", "raise_widget_errors", "resample_cam",
           "threshold_explorer"]
