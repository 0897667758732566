"""Metrics on tiny inputs whose answers are worked out by hand in the comments."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from erts_kit.metrics import compute_metrics, macro_f1, metrics_table

NAMES = ["A", "B", "C"]
Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2])
Y_PROB = np.eye(3)[Y_PRED]  # one-hot "probabilities" of the predictions


def test_single_label_by_hand():
    m = compute_metrics(Y_TRUE, Y_PROB, NAMES)
    # A: tp 2, fp 0, fn 1 -> F1 0.8;  B: tp 1, fp 1, fn 1 -> 0.5;  C: tp 1, fp 1, fn 0 -> 2/3
    assert m["per_class_f1"] == pytest.approx({"A": 0.8, "B": 0.5, "C": 2 / 3})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # recalls 2/3, 1/2, 1
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    np.testing.assert_array_equal(m["confusion_matrix"], [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    # one-vs-rest AUROC with ties counted 1/2: A (6 + 3/2)/9, B (3.5 + 1.5)/8, C 4.5/5
    assert m["per_class_auroc"] == pytest.approx({"A": 7.5 / 9, "B": 5 / 8, "C": 0.9})
    assert m["macro_auroc"] == pytest.approx((7.5 / 9 + 5 / 8 + 0.9) / 3)
    assert m["macro_auroc"] == pytest.approx(roc_auc_score(Y_TRUE, Y_PROB, multi_class="ovr"))


def test_macro_f1_helper_matches_hand_value():
    # class 0: tp 1, fn 1 -> 2/3; class 1: tp 2, fp 1 -> 4/5
    assert macro_f1([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx(compute_metrics(Y_TRUE, Y_PROB, NAMES)["macro_f1"])


def test_torch_tensors_accepted_and_logits_refused():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    a = compute_metrics(Y_TRUE, probs, NAMES)
    b = compute_metrics(torch.tensor(Y_TRUE), torch.tensor(probs, requires_grad=True), NAMES)
    assert a["macro_f1"] == pytest.approx(b["macro_f1"]) and a["macro_auroc"] == pytest.approx(b["macro_auroc"])
    np.testing.assert_array_equal(a["confusion_matrix"], b["confusion_matrix"])
    # one-vs-rest AUROC on logits differs from AUROC on softmax outputs, so logits are refused
    assert roc_auc_score(Y_TRUE, probs, multi_class="ovr") != pytest.approx(
        np.mean([roc_auc_score(Y_TRUE == c, logits[:, c]) for c in range(3)]))
    with pytest.raises(ValueError, match=r"look like logits.*softmax"):
        compute_metrics(Y_TRUE, logits, NAMES)
    with pytest.raises(ValueError, match="sum to 1"):
        compute_metrics(Y_TRUE, probs * 0.5, NAMES)


def test_absent_class_gives_nan_auroc_with_warning_not_a_crash():
    y_true = [0, 1, 0, 1]
    y_prob = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1]]
    with pytest.warns(RuntimeWarning, match="class.*C.*no positive"):
        m = compute_metrics(y_true, y_prob, NAMES)
    assert np.isnan(m["macro_auroc"]) and np.isnan(m["per_class_auroc"]["C"])
    assert m["per_class_auroc"]["A"] == pytest.approx(1.0)  # A scores 0.8, 0.4 vs 0.3, 0.2
    # preds 0, 1, 1, 1: A F1 2/3 (tp 1, fn 1), B F1 4/5 (tp 2, fp 1); C never present nor predicted -> NaN, left out
    assert np.isnan(m["per_class_f1"]["C"])
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["confusion_matrix"].shape == (3, 3)


def test_multilabel_by_hand():
    y_true = [[1, 0], [1, 1], [0, 1], [0, 0]]
    y_prob = [[0.9, 0.2], [0.4, 0.7], [0.6, 0.8], [0.1, 0.3]]
    m = compute_metrics(y_true, y_prob, ["MI", "STTC"], multilabel=True)
    # threshold 0.5 -> MI predicted [1, 0, 1, 0]: tp 1, fp 1, fn 1 -> F1 0.5, TPR 0.5, TNR 0.5; STTC exact -> 1
    assert m["per_class_f1"] == pytest.approx({"MI": 0.5, "STTC": 1.0})
    assert m["macro_f1"] == pytest.approx(0.75)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    # MI AUROC: positives 0.9, 0.4 vs negatives 0.6, 0.1 -> 3 of 4 pairs; STTC separates perfectly
    assert m["per_class_auroc"] == pytest.approx({"MI": 0.75, "STTC": 1.0})
    assert m["macro_auroc"] == pytest.approx(0.875)
    np.testing.assert_array_equal(m["confusion_matrix"][0], [[1, 1], [1, 1]])  # MI: [[tn, fp], [fn, tp]]
    # threshold 0.35 -> MI predicted [1, 1, 1, 0]: tp 2, fp 1 -> F1 0.8
    assert compute_metrics(y_true, y_prob, ["MI", "STTC"], multilabel=True, threshold=0.35)["macro_f1"] == \
        pytest.approx((0.8 + 1.0) / 2)


def test_metrics_table_per_class():
    t = metrics_table(Y_TRUE, Y_PROB, NAMES)
    assert list(t.index) == NAMES and list(t.columns) == ["precision", "recall", "f1", "support", "auroc"]
    np.testing.assert_allclose(t["precision"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(t["recall"], [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(t["f1"], [0.8, 0.5, 2 / 3])
    assert t["support"].tolist() == [3, 2, 1]
    # a class never predicted has undefined precision (NaN), not 0
    t2 = metrics_table([0, 1, 2], np.eye(3)[[0, 1, 1]], NAMES)
    assert np.isnan(t2.loc["C", "precision"]) and t2.loc["C", "recall"] == 0.0


def test_clear_errors():
    with pytest.raises(ValueError, match=r"y_prob of shape \(N, 3\).*got \(6, 2\)"):
        compute_metrics(Y_TRUE, Y_PROB[:, :2], NAMES)
    with pytest.raises(ValueError, match="one-hot.*argmax"):
        compute_metrics(np.eye(3)[Y_TRUE], Y_PROB, NAMES)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        compute_metrics([0, 3, 1, 1, 2, 2], Y_PROB, NAMES)
    with pytest.raises(ValueError, match="only 0 and 1"):
        compute_metrics([[2, 0, 0]], [[0.1, 0.2, 0.3]], NAMES, multilabel=True)
    with pytest.raises(ValueError, match="split empty"):
        compute_metrics(np.zeros(0, int), np.zeros((0, 3)), NAMES)
    with pytest.raises(ValueError, match="finite"):
        compute_metrics([0], [[np.nan, 0.0, 0.0]], NAMES)
