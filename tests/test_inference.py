"""Micro-batched no-grad forwards: same numbers as one forward, split only where that is exact."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from erts_kit.models import build_model
from erts_kit.models.inference import (
    CPU_CHUNK,
    chunk_slices,
    inference_chunk,
    logits_no_grad,
)


class CountingTrunk(nn.Module):
    """Records the batch size of every call, so a test can see how the batch was split."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(int(x.shape[0]))
        return self.fc(x)


def test_auto_splits_on_cpu_in_eval_mode_only():
    m = CountingTrunk().eval()
    x = torch.randn(CPU_CHUNK * 2 + 3, 4)
    out = logits_no_grad(m, x)
    assert m.calls == [CPU_CHUNK, CPU_CHUNK, 3]
    assert torch.allclose(out, m.fc(x), atol=1e-6)
    m.calls.clear()
    m.train()
    logits_no_grad(m, x)
    assert m.calls == [len(x)]  # a module in train mode: one whole-batch forward


def test_auto_keeps_the_whole_batch_off_the_cpu():
    m = nn.Linear(3, 2).eval()
    assert inference_chunk(m, torch.zeros(100, 3, device="meta")) == 100
    assert inference_chunk(m, torch.zeros(100, 3)) == CPU_CHUNK
    assert inference_chunk(m, torch.zeros(5, 3)) == 5
    assert inference_chunk(m, torch.zeros(100, 3), None) == 100


def test_results_do_not_depend_on_the_split_and_need_no_grad():
    torch.manual_seed(0)
    m = build_model("resnet1d_wang", n_leads=2, n_classes=3).eval()
    x = torch.randn(21, 2, 128)
    whole = logits_no_grad(m, x, chunk=None)
    for chunk in ("auto", 1, 5, 64):
        part = logits_no_grad(m, x, chunk=chunk)
        assert part.shape == whole.shape and not part.requires_grad
        assert torch.allclose(part, whole, atol=1e-5), (chunk, (part - whole).abs().max())
    with torch.no_grad():
        assert torch.allclose(logits_no_grad(m, x, chunk=4), m(x), atol=1e-5)
    assert [(s.start, s.stop) for s in chunk_slices(m, x, 8)] == [(0, 8), (8, 16), (16, 21)]
    assert chunk_slices(m, x[:0]) == [slice(0, 0)]  # an empty batch is one empty pass


def test_explicit_split_of_a_training_model_is_refused():
    m = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).train()
    with pytest.raises(ValueError, match=r"module '1' is in train mode.*model.eval\(\).*chunk=None"):
        logits_no_grad(m, torch.randn(10, 3), chunk=4)
    assert logits_no_grad(m, torch.randn(10, 3), chunk=10).shape == (10, 3)  # no split: allowed


@pytest.mark.parametrize("bad", [0, -2, 2.5, "16", True])
def test_bad_chunk_says_what_is_expected(bad):
    with pytest.raises(ValueError, match="Expected chunk as 'auto', None or a positive int"):
        inference_chunk(nn.Linear(2, 2).eval(), torch.zeros(4, 2), bad)


def test_batch_norm_running_stats_untouched_in_eval_split():
    m = build_model("small_cnn", n_leads=2, n_classes=3).eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    logits_no_grad(m, torch.randn(40, 2, 64))
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
