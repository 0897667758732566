"""Selection rules on hand-built tensors: every expected index is worked out by hand in the comments."""
from __future__ import annotations

import pytest
import torch

from erts_kit.selection.rules import (
    dbpd_candidates,
    erts_filter,
    n_keep_erts,
    rank_desc,
    smrd_pick,
    srd_count,
)

NAN = float("nan")


# ---- DBPD --------------------------------------------------------------------------------------
def test_dbpd_keeps_exactly_p_below_tau():
    p = torch.tensor([0.1, 0.5, 0.29, 0.3, 0.0, 0.31])
    assert dbpd_candidates(p, tau=0.3).tolist() == [0, 2, 4]      # 0.3 itself is not < 0.3
    assert dbpd_candidates(p, tau=1.0).tolist() == [0, 1, 2, 3, 4, 5]
    assert dbpd_candidates(p, tau=0.05).tolist() == [4]


def test_dbpd_tau_zero_keeps_the_misclassified():
    p = torch.tensor([0.45, 0.45, 0.9, 0.05])
    correct = torch.tensor([True, False, True, False])           # 0.45 can be right (argmax of 3 classes)
    assert dbpd_candidates(p, tau=0.0, pred_correct=correct).tolist() == [1, 3]
    with pytest.raises(ValueError, match="pred_correct"):
        dbpd_candidates(p, tau=0.0)
    with pytest.raises(ValueError, match="shape"):
        dbpd_candidates(p, tau=0.0, pred_correct=torch.tensor([True]))


def test_dbpd_rejects_bad_tau_and_shape():
    with pytest.raises(ValueError, match=r"tau in \[0.0, 1.0\]"):
        dbpd_candidates(torch.tensor([0.1]), tau=1.5)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        dbpd_candidates(torch.zeros(2, 2), tau=0.3)


def test_dbpd_empty_batch():
    assert dbpd_candidates(torch.zeros(0), tau=0.3).tolist() == []


# ---- SMRD / SRD ----------------------------------------------------------------------------------
def test_smrd_pick_is_reproducible_sorted_and_distinct():
    a = smrd_pick(5, 32, torch.Generator().manual_seed(7))
    b = smrd_pick(5, 32, torch.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()
    assert len(set(a.tolist())) == 5 and a.tolist() == sorted(a.tolist())
    assert a.dtype == torch.int64 and int(a.min()) >= 0 and int(a.max()) < 32
    others = {tuple(smrd_pick(5, 32, torch.Generator().manual_seed(s)).tolist()) for s in range(10)}
    assert len(others) > 1                                        # the seed matters


def test_smrd_pick_edges():
    assert smrd_pick(0, 8).tolist() == []
    assert smrd_pick(9, 3).tolist() == [0, 1, 2]                  # clipped to the batch
    assert smrd_pick(1, 1).tolist() == [0]
    with pytest.raises(ValueError, match="n_keep >= 0"):
        smrd_pick(-1, 3)


def test_srd_count_formula():
    # int(0.99 ** e * 32): 32, 28.94 -> 28, 19.36 -> 19, 1.008 -> 1, 0.998 -> 0
    assert [srd_count(e, 32) for e in (0, 10, 50, 344, 345)] == [32, 28, 19, 1, 0]
    assert srd_count(3, 10, gamma=0.5) == 1                       # 1.25
    assert srd_count(100, 32, gamma=1.0) == 32
    with pytest.raises(ValueError, match="gamma"):
        srd_count(1, 32, gamma=0.0)


# ---- ERTS filter -----------------------------------------------------------------------------------
P = torch.tensor([0.9, 0.1, 0.2, 0.9, 0.0, 0.25, 0.9, 0.05])
CAND = torch.tensor([1, 2, 4, 5, 7])
FOCUS = torch.tensor([0.5, 0.9, 0.3, 0.8, 0.6])
# combined = (1 - p) * focus: pos1 .45, pos2 .72, pos4 .30, pos5 .60, pos7 .57 ; keep int(.7 * 5) = 3


def test_erts_filter_keeps_top_combined():
    kept, rescued = erts_filter(CAND, P, FOCUS, torch.zeros(8, dtype=torch.long), phi=0.7)
    assert kept.tolist() == [2, 5, 7]
    assert rescued.tolist() == []


def test_erts_filter_class_aware_rescue():
    labels = torch.tensor([0, 2, 0, 0, 1, 0, 0, 0])               # pos1 alone in class 2, pos4 alone in class 1
    kept, rescued = erts_filter(CAND, P, FOCUS, labels, phi=0.7)
    assert kept.tolist() == [2, 5, 7]
    assert rescued.tolist() == [1, 4]


def test_erts_filter_rescues_the_best_of_a_class():
    labels = torch.tensor([0, 1, 0, 0, 1, 0, 0, 0])               # class 1: pos1 (.45) and pos4 (.30), both fail
    kept, rescued = erts_filter(CAND, P, FOCUS, labels, phi=0.7)
    assert kept.tolist() == [2, 5, 7] and rescued.tolist() == [1]


def test_erts_filter_class_already_kept_needs_no_rescue():
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0, 0])               # class 1 has pos2 (kept)
    kept, rescued = erts_filter(CAND, P, FOCUS, labels, phi=0.7)
    assert kept.tolist() == [2, 5, 7] and rescued.tolist() == []


def test_erts_filter_phi_times_n_below_one_keeps_one():
    kept, rescued = erts_filter(torch.tensor([1, 4]), P, torch.tensor([0.5, 0.3]),
                                torch.zeros(8, dtype=torch.long), phi=0.3)   # int(0.6) = 0 -> max(1, 0)
    assert kept.tolist() == [1] and rescued.tolist() == []         # .45 beats .30


def test_erts_filter_no_candidates():
    kept, rescued = erts_filter(torch.zeros(0, dtype=torch.long), P, torch.zeros(0), torch.zeros(8, dtype=torch.long))
    assert kept.tolist() == [] and rescued.tolist() == []
    assert kept.dtype == torch.int64


def test_erts_filter_batch_of_one():
    kept, rescued = erts_filter(torch.tensor([0]), torch.tensor([0.1]), torch.tensor([0.0]), torch.tensor([3]))
    assert kept.tolist() == [0] and rescued.tolist() == []


def test_erts_filter_ties_broken_by_batch_position():
    p = torch.zeros(6)
    cand = torch.tensor([5, 3, 1, 0])                              # given out of order on purpose
    kept, _ = erts_filter(cand, p, torch.full((4,), 0.5), torch.zeros(6, dtype=torch.long), phi=0.5)
    assert kept.tolist() == [0, 1]                                 # all tie: earliest positions win
    # focus follows the order of `cand`: position 5 gets 0.9, so it wins outright
    kept, _ = erts_filter(cand, p, torch.tensor([0.9, 0.5, 0.5, 0.5]), torch.zeros(6, dtype=torch.long), phi=0.5)
    assert kept.tolist() == [0, 5]


def test_erts_filter_nan_focus_ranks_last():
    kept, _ = erts_filter(torch.tensor([0, 1, 2]), torch.zeros(3), torch.tensor([NAN, 0.1, 0.2]),
                          torch.zeros(3, dtype=torch.long), phi=0.7)   # int(2.1) = 2
    assert kept.tolist() == [1, 2]
    assert rank_desc(torch.tensor([NAN, 0.1, 0.2])).tolist() == [2, 1, 0]


def test_erts_filter_input_errors():
    lab = torch.zeros(8, dtype=torch.long)
    with pytest.raises(ValueError, match="one value per candidate"):
        erts_filter(CAND, P, FOCUS[:3], lab)
    with pytest.raises(ValueError, match="same batch size"):
        erts_filter(CAND, P, FOCUS, lab[:4])
    with pytest.raises(ValueError, match=r"phi in \(0.0, 1.0\]"):
        erts_filter(CAND, P, FOCUS, lab, phi=0.0)
    with pytest.raises(ValueError, match="positions in"):
        erts_filter(torch.tensor([9]), P, torch.tensor([0.1]), lab)
    with pytest.raises(ValueError, match="distinct"):
        erts_filter(torch.tensor([1, 1]), P, torch.tensor([0.1, 0.2]), lab)


def test_n_keep_erts_published_formula():
    assert [n_keep_erts(n, 0.7) for n in (0, 1, 2, 3, 10, 32)] == [0, 1, 1, 2, 7, 22]
    assert [n_keep_erts(10, phi) for phi in (0.5, 0.9, 1.0)] == [5, 9, 10]
