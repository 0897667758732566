"""Where widgets cannot render, an explorer can show its current view as plain output under the widget."""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.pylabtools import select_figure_formats
from IPython.utils.capture import capture_output

from erts_kit.data.dataset import ECGData
from erts_kit.viz.widgets import (
    STATIC_ENV,
    kept_vs_dropped_explorer,
    threshold_explorer,
)

matplotlib.use("Agg")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture()
def run():
    shell = InteractiveShell.instance()   # display() publishes to a shell, as in a kernel
    select_figure_formats(shell, {"png"})  # figures as PNG, as with %matplotlib inline
    data = ECGData(np.zeros((4, 1, 20), np.float32), [0, 1, 0, 1], ["a", "b"], 10)
    log = pd.DataFrame({"epoch": [2] * 4, "index": [0, 1, 2, 3], "p_true": [0.1, 0.2, 0.6, 0.9],
                        "focus": [0.9, 0.4, 0.7, 0.2], "combined": [0.8, 0.3, 0.3, 0.02],
                        "decision": ["KEPT", "DROPPED_LOW_FOCUS", "KEPT", "DROPPED_CONFIDENT"]})
    yield log, data
    InteractiveShell.clear_instance()     # later tests (doctests) expect display() without a shell


def _shown(explorer) -> tuple[list[set[str]], str]:
    with capture_output() as cap:
        explorer._ipython_display_()
    return [set(o.data) for o in cap.outputs], cap.stdout


@pytest.mark.parametrize("build", [kept_vs_dropped_explorer, threshold_explorer], ids=["kept_vs_dropped", "threshold"])
def test_static_fallback_draws_the_current_view_under_the_widget(run, build, monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    log, data = run
    with capture_output():
        plain, static = build(log, data), build(log, data, static=True)
    kinds, text = _shown(plain)
    assert len(kinds) == 1 and WIDGET_MIME in kinds[0] and text == ""
    kinds, text = _shown(static)
    assert WIDGET_MIME in kinds[0]
    assert any("image/png" in k for k in kinds[1:]), kinds     # the figure, as an image
    assert text.startswith("epoch 2")                          # the callback's text line


def test_static_fallback_follows_the_controls_and_the_environment(run, monkeypatch):
    log, data = run
    monkeypatch.setenv(STATIC_ENV, "1")
    with capture_output():
        thr = threshold_explorer(log, data)
    thr.controls["tau"].value = 0.15
    _, text = _shown(thr)
    assert "tau 0.15" in text
    monkeypatch.setenv(STATIC_ENV, "0")
    with capture_output():
        assert threshold_explorer(log, data).static_view is None
