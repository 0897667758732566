"""CostLedger: counters, EE and compute-equivalent epochs on hand numbers, timers, state, DDP merge."""
from __future__ import annotations

import io
import time

import pytest
import torch

from erts_kit.selection import CostLedger


def two_epochs() -> CostLedger:
    led = CostLedger()
    # epoch 0: warm-up, N = 100 samples all trained, no scoring
    led.add_train(100)
    led.end_epoch(0)
    # epoch 1: scored all 100, Grad-CAM on 100 (shared pass), trained 40
    led.add_scored(100); led.add_gradcam(100); led.add_train(40)
    led.end_epoch(1)
    return led


def test_effective_and_compute_equivalent_epochs():
    led = two_epochs()
    assert led.effective_epochs(n_train=100) == pytest.approx(1.4)                 # (100 + 40) / 100
    # (3 * 140 + 1 * 100 + 2 * 100) / 300 = 720 / 300
    assert led.compute_equivalent_epochs(100) == pytest.approx(2.4)
    # a measured Grad-CAM cost replaces the count: (420 + 100 + 50) / 300
    assert led.compute_equivalent_epochs(100, gradcam_units=0.5) == pytest.approx(1.9)
    assert led.compute_equivalent_epochs(100, gradcam_units=0.0) == pytest.approx(520 / 300)


def test_full_data_epoch_is_one_in_both_measures():
    led = CostLedger()
    led.add_train(50)
    assert led.effective_epochs(50) == 1.0 and led.compute_equivalent_epochs(50) == 1.0


def test_epoch_table_per_epoch_and_cumulative():
    df = two_epochs().epoch_table(n_train=100)
    assert df[["epoch", "scored", "gradcam", "trained"]].values.tolist() == [[0, 0, 0, 100], [1, 100, 100, 40]]
    assert df["ee"].tolist() == pytest.approx([1.0, 0.4])
    assert df["compute_epochs"].tolist() == pytest.approx([1.0, 1.4])              # (120 + 100 + 200) / 300
    assert df["cum_compute_epochs"].tolist() == pytest.approx([1.0, 2.4])
    assert list(CostLedger().epoch_table().columns) == ["epoch", "scored", "gradcam", "trained"]


def test_open_epoch_counts_in_totals_not_in_table():
    led = two_epochs()
    led.add_train(7)
    assert led.totals()["trained"] == 147 and len(led.epoch_table()) == 2


def test_phase_timer_accumulates():
    led = CostLedger(sync_cuda=True)                                               # no-op without CUDA
    for _ in range(2):
        with led.phase("train"):
            time.sleep(0.01)
    led.add_time("eval", 0.5)
    led.end_epoch(0)
    t = led.totals()["time"]
    assert 0.02 <= t["train"] < 1.0 and t["eval"] == 0.5
    assert led.epoch_table()["time_eval"].tolist() == [0.5]


def test_phase_timer_records_even_when_the_block_raises():
    led = CostLedger()
    with pytest.raises(RuntimeError), led.phase("score"):
        raise RuntimeError("boom")
    assert "score" in led.totals()["time"]


def test_input_errors():
    led = CostLedger()
    with pytest.raises(ValueError, match=">= 0"):
        led.add_train(-1)
    with pytest.raises(ValueError, match="n_train"):
        led.effective_epochs(0)
    led.end_epoch(3)
    with pytest.raises(ValueError, match="increasing order"):
        led.end_epoch(3)


def test_state_dict_round_trip_through_weights_only_torch_load():
    led = two_epochs()
    led.add_scored(5); led.add_time("train", 1.25)
    buf = io.BytesIO()
    torch.save({"ledger": led.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["ledger"]
    back = CostLedger()
    back.load_state_dict(state)
    assert back.totals() == led.totals() and back.epochs == [0, 1]
    assert back.epoch_table().equals(led.epoch_table())
    with pytest.raises(ValueError, match="version"):
        back.load_state_dict({"version": 99})


def test_merge_sums_counts_and_takes_slowest_time():
    a, b = CostLedger(), CostLedger()
    a.add_train(10); a.add_scored(16); a.add_time("train", 2.0); a.end_epoch(0)
    b.add_train(6); b.add_scored(16); b.add_time("train", 3.0); b.add_time("eval", 1.0); b.end_epoch(0)
    a.add_train(1)
    m = CostLedger.merge([a, b.state_dict()])                                     # objects or states
    assert m.epoch_table()[["scored", "trained"]].values.tolist() == [[32, 16]]
    assert m.totals() == {"scored": 32, "gradcam": 0, "trained": 17, "time": {"eval": 1.0, "train": 3.0}}
    b.end_epoch(1)
    with pytest.raises(ValueError, match="same epochs"):
        CostLedger.merge([a, b])
