"""The primer's labelled beat finds the textbook landmarks on synthetic beats whose intervals are known."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from erts_kit.data.synthetic import make_synthetic
from erts_kit.viz.primer import beat_landmarks, find_r_peaks, plot_labelled_beat


@pytest.fixture(scope="module")
def clean():
    return make_synthetic(n_samples=24, seed=3, fs=250, noise_scale=0.0)


def _first(data, name):
    return int((data.meta.class_true == name).to_numpy().argmax())


def test_landmarks_come_in_order_around_the_r_peak(clean):
    y = clean.signals[_first(clean, "NORM")][clean.lead_names.index("II")]
    r = int(find_r_peaks(y, clean.fs)[1])
    m = beat_landmarks(y, clean.fs, r)
    assert m["P"] < m["Q"] < m["R"] < m["S"] < m["T"]
    assert y[m["R"]] == y[max(0, r - 10): r + 10].max()


def test_av_block_has_the_longer_pr_and_a_normal_beat_a_short_one(clean):
    ii = clean.lead_names.index("II")
    _, norm = plot_labelled_beat(clean.signals[_first(clean, "NORM")][ii], clean.fs)
    _, avb = plot_labelled_beat(clean.signals[_first(clean, "AVB1")][ii], clean.fs)
    plt.close("all")
    assert norm["PR"] < 0.2 < avb["PR"]
    assert 0.04 < norm["QRS"] < 0.12
    heart_rate = clean.meta.heart_rate[_first(clean, "NORM")]
    assert 60 / norm["RR"] == pytest.approx(heart_rate, rel=0.25)


def test_too_short_a_lead_says_what_is_needed():
    with pytest.raises(ValueError, match="two whole beats"):
        plot_labelled_beat(np.sin(np.linspace(0, 3, 100)), fs=100)
    with pytest.raises(ValueError, match="R index"):
        beat_landmarks(np.zeros(10), 100, 20)
    with pytest.raises(ValueError, match="finite 1-D lead"):
        find_r_peaks(np.array([0.0, np.nan]), 100)
