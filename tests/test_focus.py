"""Focus scores on tiny maps whose answers are worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch

from erts_kit.explain import (
    FOCUS_SCORES,
    focus_score,
    one_minus_entropy,
    register_focus_score,
    top_mass_share,
    topk_mean,
)


def _row(values) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.float32)


def test_topk_mean_single_spike_and_constant_map():
    spike = _row([0.0] * 9 + [1.0])  # W = 10 -> k = 1: the top value after min-max is 1
    assert topk_mean(spike).item() == 1.0
    # constant positive map: min-max with flat denominator 1 gives (x - min) / 1 = 0 everywhere
    assert topk_mean(_row([3.0] * 10)).item() == 0.0
    assert topk_mean(_row([-2.0] * 10)).item() == 0.0  # all-negative -> ReLU zeros -> flat


def test_topk_mean_uses_k_equal_w_div_10():
    # W = 20 -> k = 2. Spike: top-2 after min-max = [1, 0] -> 0.5; plateau of 10 ones -> 1.0
    spike = torch.zeros(1, 20)
    spike[0, 3] = 1.0
    plateau = torch.zeros(1, 20)
    plateau[0, :10] = 1.0
    assert topk_mean(spike).item() == 0.5
    assert topk_mean(plateau).item() == 1.0
    # min-max: values [0, 2, 4, 6, ..., 38]: normalised top-2 = (38/38 + 36/38) / 2
    ramp = torch.arange(20, dtype=torch.float32)[None] * 2
    assert topk_mean(ramp).item() == pytest.approx((1.0 + 36 / 38) / 2)
    # W = 9 -> k = max(1, 0) = 1 ; frac=0.5 on W = 10 -> k = 5: top-5 of [0..9]/9 = (5+6+7+8+9)/45
    assert topk_mean(_row([0, 0, 0, 0, 0, 0, 0, 1, 0.5])).item() == 1.0
    assert topk_mean(torch.arange(10.0)[None], frac=0.5).item() == pytest.approx(35 / 45)


def test_topk_mean_is_scale_free_and_rewards_plateaus():
    # near-flat map: tiny bump stretched to full contrast -> same as a perfect plateau
    near_flat = torch.ones(1, 20)
    near_flat[0, 5:7] = 1.01
    assert topk_mean(near_flat).item() == pytest.approx(1.0)
    assert topk_mean(10 * near_flat).item() == pytest.approx(topk_mean(near_flat).item())


def test_top_mass_share_by_hand():
    spike = torch.zeros(1, 20)
    spike[0, 3] = 2.0
    plateau = torch.zeros(1, 20)
    plateau[0, :10] = 1.0
    assert top_mass_share(spike).item() == 1.0
    assert top_mass_share(plateau).item() == pytest.approx(2 / 10)  # 2 of 10 equal units in the top 2
    assert top_mass_share(torch.ones(1, 20)).item() == pytest.approx(0.1)  # uniform -> k / W
    # signed map: negatives ignored: [3, -5, 1, 0, ...] positive mass 4, top-1 = 3
    signed = torch.zeros(1, 10)
    signed[0, :3] = torch.tensor([3.0, -5.0, 1.0])
    assert top_mass_share(signed).item() == pytest.approx(0.75)
    assert top_mass_share(-torch.ones(1, 10)).item() == 0.0  # zero mass -> 0.0


def test_one_minus_entropy_by_hand():
    spike = torch.zeros(1, 8)
    spike[0, 0] = 5.0
    assert one_minus_entropy(spike).item() == pytest.approx(1.0)
    assert one_minus_entropy(torch.ones(1, 8)).item() == pytest.approx(0.0, abs=1e-6)
    half = torch.tensor([[1.0] * 4 + [0.0] * 4])  # uniform over 4 of 8: H = log 4 / log 8 = 2/3
    assert one_minus_entropy(half).item() == pytest.approx(1 - 2 / 3)
    plateau = torch.zeros(1, 20)
    plateau[0, :10] = 1.0
    assert one_minus_entropy(plateau).item() == pytest.approx(1 - math.log(10) / math.log(20))
    assert one_minus_entropy(torch.zeros(1, 8)).item() == 0.0
    assert one_minus_entropy(torch.tensor([[2.0]])).item() == 1.0  # W = 1, positive mass
    assert one_minus_entropy(torch.tensor([[-2.0]])).item() == 0.0  # W = 1, no mass


@pytest.mark.parametrize("name", sorted(FOCUS_SCORES))
def test_every_score_defined_on_degenerate_maps(name):
    maps = torch.stack([torch.zeros(12), -torch.ones(12), torch.full((12,), 7.0), torch.linspace(-1, 1, 12),
                        torch.full((12,), 1e-30)])
    s = focus_score(maps, name)
    assert s.shape == (5,) and s.dtype == torch.float32
    assert torch.isfinite(s).all()
    assert ((s >= 0) & (s <= 1)).all()
    assert s[0].item() == 0.0 and s[1].item() == 0.0


def test_spike_vs_plateau_ranking_differs_between_scores():
    spike = torch.zeros(20)
    spike[5] = 1.0
    plateau = torch.zeros(20)
    plateau[:10] = 1.0
    maps = torch.stack([spike, plateau])
    t = focus_score(maps, "topk_mean")
    assert t[1] > t[0]  # the paper's score prefers the plateau
    for name in ("top_mass_share", "one_minus_entropy"):
        s = focus_score(maps, name)
        assert s[0] > s[1], name  # mass-based scores prefer the spike


def test_registry_and_errors():
    register_focus_score("neg_max", lambda m: -torch.relu(m).amax(-1))
    try:
        assert focus_score(torch.tensor([[1.0, 2.0]]), "neg_max").tolist() == [-2.0]
        with pytest.raises(ValueError, match="already exists"):
            register_focus_score("neg_max", lambda m: m.sum(-1))
    finally:
        FOCUS_SCORES.pop("neg_max")
    register_focus_score("bad_shape", lambda m: m)
    register_focus_score("nan", lambda m: torch.full((m.shape[0],), float("nan")))
    try:
        with pytest.raises(ValueError, match="returned shape"):
            focus_score(torch.ones(2, 4), "bad_shape")
        with pytest.raises(ValueError, match="NaN"):
            focus_score(torch.ones(2, 4), "nan")
    finally:
        FOCUS_SCORES.pop("bad_shape")
        FOCUS_SCORES.pop("nan")
    with pytest.raises(ValueError, match="Unknown focus score"):
        focus_score(torch.ones(1, 4), "nope")
    with pytest.raises(ValueError, match=r"mean\(1\)"):
        focus_score(torch.ones(1, 3, 4))
    with pytest.raises(ValueError, match=r"frac in \(0.0, 1.0\]"):
        topk_mean(torch.ones(1, 4), frac=0.0)
    with pytest.raises(TypeError, match="callable"):
        register_focus_score("x", 3)
