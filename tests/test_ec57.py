"""The EC57 report on a hand-made confusion matrix; every expected number is worked out by hand here."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from erts_kit.ec57 import class_rates, ec57_report

AAMI = ["N", "S", "V", "F", "Q"]
# rows = true class, columns = predicted class (N, S, V, F, Q); 82 beats
CM = np.array([
    [50, 3, 2, 0, 0],  # N: 55 beats
    [4, 6, 0, 0, 0],   # S: 10
    [1, 0, 8, 1, 0],   # V: 10
    [2, 0, 1, 2, 0],   # F: 5
    [1, 0, 1, 0, 0],   # Q: 2, never right; Q is never predicted
])


def _beats_from(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(t, p) for t in range(cm.shape[0]) for p in range(cm.shape[1]) for _ in range(cm[t, p])]
    yt, yp = zip(*pairs)
    return np.array(yt), np.array(yp)


def test_per_class_numbers_by_hand():
    yt, yp = _beats_from(CM)
    r = ec57_report(yt, yp, AAMI)
    t = r.per_class
    # column sums (predicted): N 58, S 9, V 12, F 3, Q 0
    # N: TP 50, FN 5, FP 8, TN 82 - 55 - 8 = 19
    assert t.loc["N", "sensitivity"] == pytest.approx(50 / 55)
    assert t.loc["N", "positive_predictivity"] == pytest.approx(50 / 58)
    assert t.loc["N", "specificity"] == pytest.approx(19 / 27)
    assert t.loc["N", "f1"] == pytest.approx(100 / 113)
    # S: TP 6, FN 4, FP 3, TN 69
    assert t.loc["S"].tolist()[:4] == pytest.approx([0.6, 6 / 9, 69 / 72, 12 / 19])
    # V: TP 8, FN 2, FP 4, TN 68
    assert t.loc["V"].tolist()[:4] == pytest.approx([0.8, 8 / 12, 68 / 72, 16 / 22])
    # F: TP 2, FN 3, FP 1, TN 76
    assert t.loc["F"].tolist()[:4] == pytest.approx([0.4, 2 / 3, 76 / 77, 0.5])
    # Q: TP 0, FN 2, FP 0: Se 0, +P undefined (never predicted), Sp 80/80, F1 0 (present, never right)
    assert t.loc["Q", "sensitivity"] == 0.0 and np.isnan(t.loc["Q", "positive_predictivity"])
    assert t.loc["Q", "specificity"] == 1.0 and t.loc["Q", "f1"] == 0.0
    assert t["support"].tolist() == [55, 10, 10, 5, 2]
    assert t["counted"].tolist() == [True, True, True, True, False]
    np.testing.assert_array_equal(r.confusion.to_numpy(), CM)
    assert list(r.confusion.index) == AAMI and r.confusion.index.name == "true"


def test_macro_f1_counts_n_s_v_f_and_leaves_q_out():
    yt, yp = _beats_from(CM)
    nsvf = (100 / 113 + 12 / 19 + 16 / 22 + 0.5) / 4
    r = ec57_report(yt, yp, AAMI)
    assert r.macro_f1 == pytest.approx(nsvf)
    assert r.counted == ("N", "S", "V", "F")
    assert "Q reported, not counted" in r.note
    every = ec57_report(yt, yp, AAMI, counted=None)
    assert every.macro_f1 == pytest.approx((4 * nsvf + 0.0) / 5)  # Q's F1 of 0 pulls the mean down
    assert ec57_report(yt, yp, AAMI, counted=("S", "V")).macro_f1 == pytest.approx((12 / 19 + 16 / 22) / 2)


def test_undefined_ratios_are_nan_not_errors():
    # only N beats, all predicted N: S, V, F, Q neither present nor predicted
    r = ec57_report([0, 0, 0], [0, 0, 0], AAMI)
    assert np.isnan(r.per_class.loc["N", "specificity"])  # no negative beat
    assert r.per_class.loc[["S", "V", "F", "Q"], ["sensitivity", "positive_predictivity", "f1"]].isna().all().all()
    assert r.macro_f1 == 1.0  # undefined F1s left out of the mean
    assert np.isnan(ec57_report([4], [4], AAMI).macro_f1)  # no counted class defined at all
    assert np.isnan(ec57_report([], [], AAMI).macro_f1)


def test_per_record_breakdown_by_hand():
    yt = ["N", "N", "S", "S", "V", "N", "V"]
    yp = ["N", "S", "S", "N", "V", "N", "N"]
    rec = ["100", "100", "100", "100", "201", "201", "201"]
    pr = ec57_report(yt, yp, AAMI, records=rec).per_record
    assert pr["beats"].tolist() == [4, 3]
    # record 100: N TP 1 of 2 true, predicted N twice -> Se 1/2, +P 1/2; S likewise; V absent, never predicted
    assert pr.loc["100", ["Se_N", "+P_N", "Se_S", "+P_S"]].tolist() == [0.5, 0.5, 0.5, 0.5]
    assert np.isnan(pr.loc["100", "Se_V"]) and np.isnan(pr.loc["100", "+P_V"])
    # record 201: V Se 1/2, +P 1/1; N Se 1/1, +P 1/2; S absent and never predicted
    assert pr.loc["201", ["Se_V", "+P_V", "Se_N", "+P_N"]].tolist() == [0.5, 1.0, 1.0, 0.5]
    assert np.isnan(pr.loc["201", "Se_S"])
    assert ec57_report(yt, yp, AAMI).per_record is None


def test_to_dict_is_json_safe():
    yt, yp = _beats_from(CM)
    d = ec57_report(yt, yp, AAMI, records=np.arange(len(yt)) % 3).to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN would raise here
    back = json.loads(text)
    assert back["per_class"]["Q"]["positive_predictivity"] is None
    assert back["confusion"]["counts"] == CM.tolist()
    assert back["macro_f1"] == pytest.approx((100 / 113 + 12 / 19 + 16 / 22 + 0.5) / 4)
    assert set(back["per_record"]) == {"0", "1", "2"}


def test_class_rates_on_a_matrix_matches_the_report():
    yt, yp = _beats_from(CM)
    pd.testing.assert_frame_equal(class_rates(CM, AAMI), ec57_report(yt, yp, AAMI).per_class.drop(columns="counted"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(y_true=[0, 1], y_pred=[0], class_names=AAMI), "same length"),
    (dict(y_true=[0, 7], y_pred=[0, 1], class_names=AAMI), r"class ids in \[0, 4\]"),
    (dict(y_true=["N", "X"], y_pred=["N", "N"], class_names=AAMI), "class names among"),
    (dict(y_true=np.zeros((2, 5)), y_pred=[0, 1], class_names=AAMI), "argmax"),
    (dict(y_true=[0], y_pred=[0], class_names=["A", "B"]), "counted to name"),
    (dict(y_true=[0, 1], y_pred=[0, 1], class_names=AAMI, records=["a"]), "one record id per beat"),
])
def test_bad_input_is_refused_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ec57_report(**kwargs)


def test_counted_as_a_string_is_refused():
    with pytest.raises(TypeError, match="sequence of class names"):
        ec57_report([0], [0], AAMI, counted="NSVF")
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        class_rates(np.ones((2, 2)), ["a", "b", "c"])
