"""Class-balanced weights checked by hand, and the per-sample reduction against torch's own losses."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from erts_kit.training.losses import ClassificationLoss, class_balanced_weights, make_loss


def test_cb_weights_by_hand():
    # beta = 0.5: raw (1-b)/(1-b^n) = 0.5/0.5 = 1 for n=1, 0.5/0.875 = 4/7 for n=3; scaled to sum 2.
    w = class_balanced_weights([1, 3], beta=0.5)
    assert torch.allclose(w, torch.tensor([14 / 11, 8 / 11]))
    # paper beta: n = 10 vs 1000 -> raw 1e-4/(1-0.9999^n)
    b = 0.9999
    raw = np.array([(1 - b) / (1 - b ** 10), (1 - b) / (1 - b ** 1000)])
    expected = torch.tensor(raw / raw.sum() * 2, dtype=torch.float32)
    assert torch.allclose(class_balanced_weights([10, 1000], beta=b), expected)
    # empty class gets 0, the rest still sum to C
    w = class_balanced_weights([0, 2, 2], beta=0.5)
    assert w[0] == 0 and torch.allclose(w[1:], torch.tensor([1.5, 1.5]))


def test_cb_weights_limits():
    assert torch.allclose(class_balanced_weights([1, 9], beta=0.0), torch.ones(2))  # equal weights
    w = class_balanced_weights([1, 9], beta=0.999999)  # ~ inverse frequency: ratio 9
    assert abs(float(w[0] / w[1]) - 9.0) < 1e-3


@pytest.mark.parametrize("bad", [1.0, -0.1])
def test_cb_weights_reject_bad_beta(bad):
    with pytest.raises(ValueError, match="beta"):
        class_balanced_weights([1, 2], beta=bad)


def test_cb_ce_matches_torch_weighted_mean():
    logits, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 2, 2, 2])
    loss = make_loss("cb_ce", labels=np.array([0, 1, 1, 2, 2, 2]), n_classes=3)
    expected = F.cross_entropy(logits, y, weight=loss.class_weights)
    assert torch.allclose(loss(logits, y), expected)
    assert torch.allclose(make_loss("ce")(logits, y), F.cross_entropy(logits, y))


def test_bce_and_errors():
    logits, y = torch.randn(4, 3), torch.randint(0, 2, (4, 3)).float()
    assert torch.allclose(ClassificationLoss("bce")(logits, y), F.binary_cross_entropy_with_logits(logits, y))
    with pytest.raises(ValueError, match="bce"):
        make_loss("cb_ce", labels=np.zeros((4, 3)), n_classes=3)
    with pytest.raises(ValueError, match="Unknown loss"):
        make_loss("focal")
