"""Widget callbacks cannot fail silently; the explorers' logic gives hand-checkable answers."""
from __future__ import annotations

import ipywidgets
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from erts_kit.data.dataset import ECGData
from erts_kit.models.base import ECGModel
from erts_kit.selection.base import Decision
from erts_kit.selection.log import SelectionLog
from erts_kit.viz._callbacks import (
    ERROR_MARKER,
    WidgetCallbackError,
    clear_widget_errors,
    guarded,
    raise_widget_errors,
    widget_errors,
)
from erts_kit.viz.widgets import (
    describe_sample,
    kept_vs_dropped_explorer,
    pick_pair,
    render_pair,
    render_threshold,
    threshold_explorer,
    would_keep_counts,
)

matplotlib.use("Agg")
NAN = float("nan")


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_widget_errors()
    yield
    clear_widget_errors()


@pytest.fixture
def data():
    meta = pd.DataFrame({"flipped": [False, True, False, False, False, False],
                         "artifact_kind": ["none", "none", "muscle", "none", "none", "flat_lead"],
                         "label_true": [0, 1, 0, 1, 1, 1]})
    rng = np.random.default_rng(0)
    return ECGData(rng.standard_normal((6, 2, 40)).astype(np.float32), [0, 0, 0, 1, 1, 1], ["A", "B"], fs=20,
                   meta=meta)


@pytest.fixture
def log_df():
    """Epoch 3: hand-made decisions; epoch 9: scores for the threshold recomputation."""
    d = Decision
    e3 = pd.DataFrame({"epoch": 3, "index": range(6), "p_true": 0.5, "focus": 0.5, "combined": 0.25,
                       "decision": [d.KEPT, d.RESCUED, d.DROPPED_LOW_FOCUS, d.KEPT, d.DROPPED_CONFIDENT,
                                    d.DROPPED_LOW_FOCUS]})
    e9 = pd.DataFrame({"epoch": 9, "index": range(6), "p_true": [0.1, 0.2, 0.6, 0.0, 0.4, 0.9],
                       "focus": [0.5, 1.0, NAN, 0.2, 0.5, NAN], "combined": NAN, "decision": d.KEPT})
    log = SelectionLog()
    for df in (e3, e9):
        log.add_arrays(int(df["epoch"][0]), df["index"], decision=np.array(df["decision"], dtype=np.int8),
                       p_true=df["p_true"], focus=df["focus"], combined=df["combined"])
    return log.to_dataframe()


# -- guarded callbacks ---------------------------------------------------------------------------
def test_guarded_reraises_at_build_time_then_records_without_raising():
    out = ipywidgets.Output()
    calls = []

    @guarded(out)
    def cb(v):
        calls.append(v)
        if v < 0:
            raise ValueError(f"negative {v}")
        return v + 1

    with pytest.raises(ValueError, match="negative -1"):
        cb(-1)                                   # first call = build time: the cell fails
    assert cb(-2) is None                        # a slider move: no exception escapes
    assert cb(5) == 6 and calls == [-1, -2, 5] and cb.calls == 3
    assert [str(e.exception) for e in widget_errors()] == ["negative -1", "negative -2"]
    with pytest.raises(WidgetCallbackError) as info:
        raise_widget_errors()
    assert len(info.value.errors) == 2 and "negative -2" in str(info.value)
    raise_widget_errors()                        # the registry was emptied: no error now


def test_guarded_shows_the_traceback_in_the_output_and_clears_it_next_time():
    out = ipywidgets.Output()
    cb = guarded(out, reraise_first=False)(lambda: {}["missing"])
    cb()
    assert len(out.outputs) == 1
    shown = out.outputs[0]
    assert shown["name"] == "stderr" and shown["text"].startswith(ERROR_MARKER)
    assert "Traceback (most recent call last)" in shown["text"] and "KeyError: 'missing'" in shown["text"]
    guarded(out)(lambda: None)()
    assert out.outputs == ()


def test_guarded_needs_an_output_widget():
    with pytest.raises(TypeError, match="ipywidgets.Output"):
        guarded(ipywidgets.IntSlider())


# -- kept vs dropped -----------------------------------------------------------------------------
def test_pick_pair_filters_by_class_and_decision(log_df, data):
    assert pick_pair(log_df, data, 3, "A", "RESCUED") == (1, 2)
    assert pick_pair(log_df, data, 3, "B", "DROPPED_CONFIDENT") == (3, 4)
    assert pick_pair(log_df, data, 3, 0, "WARMUP") == (None, 2)       # no WARMUP sample in epoch 3
    pairs = {pick_pair(log_df, data, 3, "B", "any", seed=s) for s in range(20)}
    assert pairs == {(3, 4), (3, 5)}
    assert pick_pair(log_df, data, 3, seed=11) == pick_pair(log_df, data, 3, seed=11)


def test_pick_pair_errors_say_what_is_valid(log_df, data):
    with pytest.raises(ValueError, match="expected one of 'all', 'A', 'B'"):
        pick_pair(log_df, data, 3, "C")
    with pytest.raises(ValueError, match="Unknown decision 'kept'"):
        pick_pair(log_df, data, 3, decision="kept")
    with pytest.raises(ValueError, match=r"holds epochs \[3, 9\]"):
        pick_pair(log_df, data, 4)
    with pytest.raises(ValueError, match="missing \\['decision'\\]"):
        pick_pair(log_df.drop(columns="decision"), data, 3)


def test_describe_sample_reports_scores_label_and_corruption(log_df, data):
    info = describe_sample(log_df, data, 9, 1)
    assert info["label"] == "A" and info["label_true"] == "B" and info["flipped"] is True
    assert (info["p_true"], info["focus"], info["decision"]) == (pytest.approx(0.2), 1.0, "KEPT")
    assert describe_sample(log_df, data, 3, 5)["artifact_kind"] == "flat_lead"


class _Tiny(ECGModel):
    cam_layer_name = "conv"

    def __init__(self):
        super().__init__(n_leads=2, n_classes=2)
        self.conv = nn.Conv1d(2, 3, 5, stride=4)
        self.fc = nn.Linear(3, 2)

    def forward_features(self, x):
        return self.conv(x)

    def forward_head(self, a):
        return self.fc(a.mean(-1))


def test_render_pair_draws_both_sides_with_model_gradcam(log_df, data):
    torch.manual_seed(0)
    fig = render_pair(log_df, data, 3, 1, 4, model=_Tiny())
    titles = [ax.get_title(loc="left") for ax in fig.axes[:2]]
    assert titles[0].startswith("KEPT #1 (RESCUED), label A") and "FLIPPED (true B)" in titles[0]
    assert titles[1].startswith("DROPPED #4 (DROPPED_CONFIDENT), label B")


def test_render_pair_says_kept_once(log_df, data):
    fig = render_pair(log_df, data, 3, 0, 4, cams=np.ones((len(data.labels), 5)))
    title = fig.axes[0].get_title(loc="left")
    assert title.count("KEPT") == 1 and title.startswith("KEPT #0,")


def test_kept_vs_dropped_explorer_rerenders_on_change_and_routes_late_errors(log_df, data, capsys):
    seen = []

    def cams(idx, target):
        seen.append((idx, target))
        if len(seen) > 2:
            raise RuntimeError("cam source broke")
        return np.ones(8)

    w = kept_vs_dropped_explorer(log_df, data, cams=cams)
    assert w.controls["epoch"].value == 9 and len(seen) == 1     # epoch 9 kept everything: no dropped side
    assert "epoch 9, class all, decision any: kept #5, dropped #None" in capsys.readouterr().out
    w.controls["epoch"].value = 3                        # a slider move: 2nd map fine, 3rd raises
    assert "cam source broke" in w.output.outputs[-1]["text"]
    with pytest.raises(WidgetCallbackError, match="cam source broke"):
        raise_widget_errors()


def test_builder_fails_its_cell_when_the_first_render_fails(log_df, data):
    with pytest.raises(ZeroDivisionError):
        kept_vs_dropped_explorer(log_df, data, cams=lambda i, t: 1 / 0)
    assert len(widget_errors()) == 1


# -- thresholds ----------------------------------------------------------------------------------
def test_would_keep_counts_matches_a_hand_computation(log_df, data):
    # epoch 9, tau 0.5: candidates 0, 1 (A) and 3, 4 (B); combined 0.45, 0.8, 0.2, 0.3.
    # phi 0.5 keeps max(1, int(0.5 * 4)) = 2: samples 1, 0 (both A); B is rescued with its best, 4.
    c = would_keep_counts(log_df, data.labels, 9, tau=0.5, phi=0.5, class_names=data.class_names)
    assert c.loc["A"].tolist()[:6] == [3, 2, 2, 0, 0, 0]
    assert c.loc["B"].tolist()[:6] == [3, 2, 1, 1, 0, 0]
    assert c["kept_frac"].tolist() == pytest.approx([2 / 3, 1 / 3])
    # tau 0.7 adds sample 2 (A), whose focus the run never computed: it ranks last, counted unscored
    c = would_keep_counts(log_df, data.labels, 9, tau=0.7, phi=0.5, class_names=data.class_names)
    assert c["candidates"].tolist() == [3, 2] and c["kept"].tolist() == [2, 1] and c["unscored"].tolist() == [1, 0]
    # phi 1 keeps every candidate
    c = would_keep_counts(log_df, data.labels, 9, tau=0.5, phi=1.0)
    assert c["kept"].tolist() == [2, 2] and list(c.index) == ["0", "1"]


def test_would_keep_counts_counts_missing_p_true_and_checks_inputs(log_df, data):
    df = log_df.copy()
    df.loc[(df["epoch"] == 9) & (df["index"] == 3), "p_true"] = NAN
    c = would_keep_counts(df, data.labels, 9, tau=0.5, phi=1.0, class_names=data.class_names)
    assert c["no_p_true"].tolist() == [0, 1] and c["candidates"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="labels of the whole dataset"):
        would_keep_counts(log_df, data.labels[:3], 9)
    with pytest.raises(ValueError, match=r"tau in \(0.0, 1.0\]"):
        would_keep_counts(log_df, data.labels, 9, tau=0.0)


def test_render_threshold_histogram_splits_kept_and_filtered(log_df, data):
    counts, fig = render_threshold(log_df, data.labels, 9, tau=0.5, phi=0.5, class_names=data.class_names)
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert labels == ["kept (3)", "filtered out (1)"]      # kept 0, 1, 4; filtered 3
    assert counts["kept"].sum() == 3


def test_threshold_explorer_defaults_to_the_last_epoch_with_focus_and_recomputes(log_df, data, capsys):
    w = threshold_explorer(log_df, data, tau=0.5, phi=0.5)
    assert w.controls["epoch"].value == 9
    assert "would keep 3 of 6 (4 candidates, 0 without logged focus)" in capsys.readouterr().out
    w.controls["phi"].value = 1.0
    assert "would keep 4 of 6" in capsys.readouterr().out
    raise_widget_errors()


@pytest.mark.slow
@pytest.mark.notebook
def test_explorers_render_into_their_output_widgets_in_a_real_kernel(tmp_path):
    """The demo fixture notebook, through the runner: callbacks print into the Output widgets' state."""
    import nbformat
    from _nbutil import CELL_TIMEOUT_S, FIXTURE_DIR

    from erts_kit.course.runner import run_notebooks

    res = run_notebooks(FIXTURE_DIR / "05_widgets_demo.ipynb", output_dir=tmp_path, progress=False, timeout=CELL_TIMEOUT_S)
    assert res["status"].tolist() == ["ok"]
    nb = nbformat.read(str(tmp_path / "05_widgets_demo.ipynb"), as_version=4)
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    texts = ["".join(o.get("text", "") for o in m["state"].get("outputs", []))
             for m in state.values() if m["model_name"] == "OutputModel"]
    assert any("would keep" in t for t in texts) and any("kept #" in t for t in texts)
