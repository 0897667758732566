"""Per-class numbers in a grid's results, the compare printout and the report (beat classes: Q not counted)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from erts_kit.data.dataset import ECGData
from erts_kit.metrics import compute_metrics
from erts_kit.results import per_class_table, run_grid, write_report
from erts_kit.results.filters import filter_precision_recall
from erts_kit.results.tables import confusion_tables, counted_note

AAMI = ["N", "S", "V", "F", "Q"]


def beat_data(n: int = 80, seed: int = 0) -> ECGData:
    """Beat-like data: class c is a bump at position 8 + 10 c; four records, the last two for test."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 0, 0, 1, 2, 0, 3, 4] * (n // 8))
    x = 0.3 * rng.standard_normal((n, 1, 64)).astype(np.float32)
    x[np.arange(n), 0, 8 + 10 * y] += 3.0
    rec = np.repeat(["100", "101", "200", "201"], n // 4)
    meta = pd.DataFrame({"record": rec})
    idx = np.arange(n)
    splits = {"train": idx[rec == "100"], "val": idx[rec == "101"], "test": idx[np.isin(rec, ["200", "201"])]}
    return ECGData(x, y, list(AAMI), fs=64, meta=meta, splits=splits, name="beats")


def test_compute_metrics_counts_n_s_v_f_for_beat_classes():
    y = np.array([0, 1, 2, 3, 4])
    prob = np.eye(5)[[0, 1, 2, 3, 0]]   # all right but the Q beat
    m = compute_metrics(y, prob, AAMI, auroc=False)
    # F1: N 2/3 (tp 1, fp 1), S, V, F 1, Q 0
    assert m["counted"] == ["N", "S", "V", "F"]
    assert m["macro_f1"] == pytest.approx((2 / 3 + 3) / 4)
    assert m["macro_f1_all"] == pytest.approx((2 / 3 + 3) / 5)
    assert compute_metrics(y, prob, AAMI, auroc=False, counted=None)["macro_f1"] == pytest.approx(m["macro_f1_all"])
    other = compute_metrics([0, 1], [[0.9, 0.1], [0.6, 0.4]], ["NORM", "MI"], auroc=False)
    assert other["macro_f1"] == other["macro_f1_all"] and other["counted"] == ["NORM", "MI"]
    with pytest.raises(ValueError, match="counted"):
        compute_metrics(y, prob, AAMI, counted=["X"])


def test_grid_results_keep_per_class_numbers_and_the_report_shows_them(tmp_path, capsys):
    data = beat_data()
    df = run_grid(data, ["full"], [0], "small_cnn", 2, tmp_path / "grid", {"batch_size": 8, "device": "cpu"},
                  progress=False)
    row = json.loads((tmp_path / "grid" / "results.json").read_text())[0]
    assert row["counted"] == ["N", "S", "V", "F"]
    assert list(row["per_class"]) == AAMI
    cm = np.array(row["confusion"])
    test_labels = data.labels[data.splits["test"]]
    assert cm.shape == (5, 5) and cm.sum(axis=1).tolist() == np.bincount(test_labels, minlength=5).tolist()
    tp = np.diag(cm)
    for c, name in enumerate(AAMI):   # Se and +P agree with the matrix they came from
        se, pp = row["per_class"][name]["sensitivity"], row["per_class"][name]["positive_predictivity"]
        assert se == pytest.approx(tp[c] / cm[c].sum())
        assert (pp is None) == (cm[:, c].sum() == 0)
        assert row["per_class"][name]["support"] == cm[c].sum()
    assert set(row["per_record"]) == {"200", "201"}
    assert sum(r["beats"] for r in row["per_record"].values()) == len(test_labels)
    assert row["kept_frac_by_class"] == {c: 1.0 for c in AAMI}   # full data keeps everything
    csv = pd.read_csv(tmp_path / "grid" / "results.csv")
    assert json.loads(csv.loc[0, "confusion"]) == row["confusion"]
    table = per_class_table(csv)                                   # works from the CSV (JSON text cells) too
    assert table["class"].tolist() == AAMI and table["counted"].tolist() == [True] * 4 + [False]
    assert counted_note(df) == "macro-F1 over N, S, V, F; Q reported, not counted"
    assert confusion_tables(df)["full"].to_numpy().tolist() == row["confusion"]
    md = write_report(df, {}, tmp_path / "report").read_text()
    assert "Per class (AAMI EC57 style" in md and "Q reported, not counted" in md
    assert "Confusion matrix of full" in md
    from erts_kit.cli.run import finish
    finish(df, data, tmp_path / "grid", "small_cnn", {}, "t", [], False)
    out = capsys.readouterr().out
    assert "per class (test split" in out and "| full | Q |" in out.replace("  ", " ")


def test_floor_rows_with_a_focus_count_as_filter_candidates():
    log = pd.DataFrame({"epoch": [3, 3, 3, 3], "index": [0, 1, 2, 3],
                        "decision": ["DROPPED_LOW_FOCUS", "FLOOR", "KEPT", "FLOOR"],
                        "focus": [0.1, 0.2, 0.9, float("nan")]})   # row 3: floor-kept, never a candidate
    meta = pd.DataFrame({"corrupted": [True, True, False, False]})
    r = filter_precision_recall(log, meta)
    assert r["n_candidates"] == 3 and r["base_rate"] == pytest.approx(2 / 3)


def test_report_plots_the_kept_share_per_class(tmp_path):
    df = pd.DataFrame({"policy": ["full", "dbpd"], "seed": [0, 0], "macro_f1": [0.5, 0.4]})
    h_full = pd.DataFrame({"epoch": [0, 1], "val_macro_f1": [0.3, 0.5], "effective_epochs": [1.0, 2.0],
                           "kept_frac_N": [1.0, 1.0], "kept_frac_Q": [1.0, 1.0]})
    md = write_report(df, {"full_seed0": h_full}, tmp_path / "a").read_text()
    assert "fig_kept_by_class.png" not in md        # full data only: nothing dropped, no figure
    h_dbpd = h_full.assign(kept_frac_N=[1.0, 0.1], kept_frac_Q=[1.0, 0.0])
    md = write_report(df, {"full_seed0": h_full, "dbpd_seed0": h_dbpd}, tmp_path / "b").read_text()
    assert "fig_kept_by_class.png" in md and (tmp_path / "b" / "fig_kept_by_class.png").stat().st_size > 0
