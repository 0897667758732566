"""Tests of the ECG plotting helpers (erts_kit.viz.ecg)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from erts_kit.data.synthetic import make_synthetic
from erts_kit.viz.ecg import plot_ecg, plot_ecg_grid, resample_cam


@pytest.fixture(scope="module")
def rec():
    return make_synthetic(n_samples=6, seed=0)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_resample_cam_hand_checked():
    assert resample_cam(np.array([1.0, 3.0]), 4).tolist() == [0.0, 0.25, 0.75, 1.0]
    assert resample_cam(np.array([5.0, 5.0, 5.0]), 6).tolist() == [0.0] * 6       # flat map -> zeros
    assert resample_cam(torch.tensor([0.0, 1.0, 0.0]), 3).tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="non-empty"):
        resample_cam(np.array([]), 5)


def test_plot_ecg_one_lead_with_cam_and_mask(rec):
    ax = plot_ecg(rec.signals[1], rec.fs, lead=1, cam=np.arange(31.0), mask=rec.evidence_mask[1], title="x")
    assert ax.get_xlim() == (0.0, 10.0)
    assert len(ax.lines) == 1 and np.allclose(ax.lines[0].get_ydata(), rec.signals[1, 1], atol=1e-6)
    assert len(ax.images) == 1                                  # the Grad-CAM band
    assert ax.images[0].get_array().shape == (1, 1000)
    shading = [c for c in ax.collections if c.get_label() == "evidence"]
    assert len(shading) == 1                                    # the evidence shading
    lo, hi = ax.get_ylim()
    assert lo <= rec.signals[1, 1].min() and hi >= rec.signals[1, 1].max()
    assert (hi - lo) % 0.5 == 0                                 # whole 0.5 mV squares


def test_plot_ecg_accepts_1d_and_tensor_and_existing_axes(rec):
    fig, ax = plt.subplots()
    out = plot_ecg(torch.from_numpy(rec.signals[0, 0]), 100, ax=ax)
    assert out is ax and len(fig.axes) == 1 and not ax.images


def test_plot_ecg_grid_axes_per_lead(rec):
    fig = plot_ecg_grid(rec.signals[2], rec.fs, rec.lead_names, cam=np.random.rand(63), mask=rec.evidence_mask[2],
                        title="record 2")
    assert len(fig.axes) == 13                                  # 12 leads and one colour bar
    leads = fig.axes[:12]
    assert [ax.get_ylabel() for ax in leads] == rec.lead_names
    spans = {round(ax.get_ylim()[1] - ax.get_ylim()[0], 6) for ax in leads}
    assert len(spans) == 1                                      # the same mV scale on every row
    assert all(len(ax.images) == 1 for ax in leads)
    assert "dark red = high" in fig.axes[12].get_ylabel()


def test_grid_is_labelled_in_the_signal_units_and_stays_on_one_screen(rec):
    raw = plot_ecg_grid(rec.signals[2], rec.fs, rec.lead_names)
    assert "0.5 mV" in raw.axes[-1].get_xlabel()
    z = (rec.signals[2] - rec.signals[2].mean(-1, keepdims=True)) / rec.signals[2].std(-1, keepdims=True)
    fig = plot_ecg_grid(z, rec.fs, rec.lead_names)
    assert "0.5 z-score" in fig.axes[-1].get_xlabel()
    assert fig.get_size_inches()[1] <= 11.0
    tall = plot_ecg_grid(20 * z, rec.fs, rec.lead_names, units="mV")
    assert tall.get_size_inches()[1] <= 11.0                    # squeezed rows, not a 4,000 px figure
    ax = plot_ecg(z, rec.fs, lead=1, cam=np.random.rand(63))
    assert ax.get_ylabel() == "z-score" and "0.5 z-score" in ax.get_xlabel()
    assert len(ax.figure.axes) == 2                             # the trace and its colour bar
    with pytest.raises(ValueError, match="units 'auto', 'mV' or 'z-score'"):
        plot_ecg(z, rec.fs, units="volts")


def test_plot_ecg_grid_per_lead_cam_and_two_leads():
    d = make_synthetic(n_samples=4, n_leads=2, seed=1)
    fig = plot_ecg_grid(d.signals[0], d.fs, cam=np.random.rand(2, 40))
    assert len(fig.axes) == 3 and fig.axes[0].get_ylabel() == "lead0"     # two leads and the colour bar


def test_bad_inputs_raise(rec):
    with pytest.raises(ValueError, match="mask"):
        plot_ecg(rec.signals[0], rec.fs, mask=np.zeros(10, bool))
    with pytest.raises(ValueError, match="lead"):
        plot_ecg(rec.signals[0], rec.fs, lead=12)
    with pytest.raises(ValueError, match="signals\\[i\\]"):
        plot_ecg(rec.signals, rec.fs)
    with pytest.raises(ValueError, match="lead_names"):
        plot_ecg_grid(rec.signals[0], rec.fs, lead_names=["I"])
    with pytest.raises(ValueError, match="cam"):
        plot_ecg_grid(rec.signals[0], rec.fs, cam=np.zeros((3, 10)))
