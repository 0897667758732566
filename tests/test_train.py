"""The training loop on tiny data: outputs, determinism, resume, NaN handling, mismatches.

The helpers at the top (tiny data, tiny model, policies) are imported by test_ddp.py too.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from erts_kit.data.dataset import ECGData
from erts_kit.models.base import ECGModel
from erts_kit.selection.base import BatchSelection, Decision
from erts_kit.training import NonFiniteLossError, TrainConfig, paper_config, pick_device, train
from erts_kit.training.checkpoint import load_checkpoint


def tiny_data(n: int = 64, leads: int = 2, t: int = 32, seed: int = 0, classes: int = 2) -> ECGData:
    """Class c: a sine of frequency c + 1 plus noise; splits 40/12/12 of 64."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    tt = np.linspace(0, 1, t, dtype=np.float32)
    x = np.sin(2 * np.pi * (y[:, None, None] + 1) * tt[None, None, :]) + 0.3 * rng.standard_normal((n, leads, t))
    perm = rng.permutation(n)
    n_tr, n_va = int(n * 0.625), int(n * 0.1875)
    splits = {"train": perm[:n_tr], "val": perm[n_tr:n_tr + n_va], "test": perm[n_tr + n_va:]}
    return ECGData(x.astype(np.float32), y, [f"c{i}" for i in range(classes)], fs=32, splits=splits)


class TinyNet(ECGModel):
    """Conv-BN-ReLU (the Grad-CAM layer) -> mean pool -> dropout -> linear."""

    cam_layer_name = "features"

    def __init__(self, n_leads: int = 2, n_classes: int = 2) -> None:
        super().__init__(n_leads, n_classes)
        self.features = nn.Sequential(nn.Conv1d(n_leads, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8, n_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, a: torch.Tensor) -> torch.Tensor:
        return self.head(a.mean(-1))


def _selection(keep: torch.Tensor, decision: Decision, p_true: torch.Tensor | None = None) -> BatchSelection:
    b = keep.shape[0]
    nan = torch.full((b,), float("nan"))
    dec = torch.where(keep, torch.tensor(int(decision), dtype=torch.int8),
                      torch.tensor(int(Decision.DROPPED_CONFIDENT), dtype=torch.int8))
    return BatchSelection(keep=keep.cpu(), decision=dec, p_true=nan if p_true is None else p_true.cpu().float(),
                          focus=nan, combined=nan)


class FullPolicy:
    """Every sample, every epoch; never touches the scorer."""

    name = "full"

    def select(self, epoch, batch, scorer):
        return _selection(torch.ones(batch.x.shape[0], dtype=torch.bool), Decision.FULL)


class LambdaPolicy:
    """Keeps ``rule(epoch, batch) -> (B,) bool``; asks the scorer for p_true when ``score`` is set."""

    def __init__(self, rule, name: str = "lambda", score: bool = False) -> None:
        self.rule, self.name, self.score = rule, name, score

    def select(self, epoch, batch, scorer):
        p = scorer.p_true() if self.score else None
        return _selection(self.rule(epoch, batch).cpu(), Decision.KEPT, p)


# ---------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _selection_parts(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention on a shared 2-core box
    yield
    torch.set_num_threads(threads)


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=16, lr=1e-2)
    return TrainConfig(**{**base, **kw})


def run(model=None, data=None, policy=None, progress=False, **kw):
    torch.manual_seed(0)
    model = TinyNet() if model is None else model
    run_dir = kw.pop("run_dir", None)
    resume = kw.pop("resume", False)
    return train(model, tiny_data() if data is None else data, policy or FullPolicy(), cfg(**kw),
                 run_dir=run_dir, progress=progress, resume=resume)


def weights(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def no_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in df.columns if c.startswith("seconds")])


# ---------------------------------------------------------------------------------------------------
def test_config_validation_and_paper_preset():
    c = paper_config()
    assert (c.epochs, c.batch_size, c.lr, c.weight_decay, c.lr_gamma, c.seed, c.loss) == \
        (100, 32, 3e-4, 0.01, 0.98, 42, "cb_ce")
    with pytest.raises(ValueError, match="epochs >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0.0)
    with pytest.raises(ValueError, match="select_metric"):
        TrainConfig(select_metric="accuracy")
    with pytest.raises(TypeError, match="batch_size"):
        TrainConfig(batch_size=2.5)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="Unknown device"):
        pick_device("tpu")


def test_full_run_history_ledger_log(tmp_path):
    data = tiny_data()
    n = len(data.splits["train"])  # 40
    res = run(data=data, run_dir=tmp_path, epochs=3)
    h = res.history
    assert list(h["epoch"]) == [0, 1, 2]
    for col in ["train_loss", "val_loss", "val_macro_f1", "lr", "seconds", "kept", "kept_frac", "effective_epochs",
                "compute_equivalent_epochs", "seconds_train", "device"]:
        assert col in h.columns, col
    assert list(h["kept"]) == [n, n, n] and list(h["kept_frac"]) == [1.0, 1.0, 1.0]
    assert np.allclose(h["effective_epochs"], [1, 2, 3])
    assert np.allclose(h["compute_equivalent_epochs"], [1, 2, 3])  # full data pays no scoring pass
    assert np.allclose(h["lr"], [1e-2, 1e-2 * 0.98, 1e-2 * 0.98 ** 2])  # StepLR per epoch
    assert set(h["device"]) == {"cpu"} and res.device == "cpu"
    t = res.ledger.totals()
    assert (t["scored"], t["gradcam"], t["trained"]) == (0, 0, 3 * n)
    df = res.selection_log.to_dataframe()
    assert len(df) == 3 * n
    for e in range(3):
        assert sorted(df[df.epoch == e]["index"]) == sorted(data.splits["train"])
    assert df["kept"].all()
    # best checkpoint: the epoch with the highest validation macro-F1 (first on ties), loaded back
    best = int(h["val_macro_f1"].idxmax())
    assert res.best_epoch == best
    ck = load_checkpoint(res.best_checkpoint)
    assert ck["epoch"] == best and same_weights(ck["model"], weights(res.model))
    assert set(res.test_metrics) >= {"loss", "macro_f1"}
    assert (tmp_path / "last.pt").exists()
    assert h["val_macro_f1"].iloc[-1] > 0.6  # the sines are easy: it learns


def test_subset_policy_counts_scoring_cost():
    data = tiny_data()
    n = len(data.splits["train"])
    # keep only even dataset indices; asks for p_true, so every sample goes through a scoring pass
    pol = LambdaPolicy(lambda e, b: (b.indices % 2 == 0), score=True)
    res = run(data=data, policy=pol, epochs=2)
    n_even = int((data.splits["train"] % 2 == 0).sum())
    assert list(res.history["kept"]) == [n_even, n_even]
    assert np.allclose(res.history["effective_epochs"], [n_even / n, 2 * n_even / n])
    t = res.ledger.totals()
    assert t["scored"] == 2 * n and t["trained"] == 2 * n_even
    # (3 * trained + 1 * scored) / (3 N), cumulative
    assert math.isclose(res.history["compute_equivalent_epochs"].iloc[-1], (3 * 2 * n_even + 2 * n) / (3 * n))
    df = res.selection_log.to_dataframe()
    assert (df["kept"] == (df["index"] % 2 == 0)).all()
    assert df["p_true"].between(0, 1).all()


def test_policy_keeping_nothing_makes_no_step():
    model = TinyNet()
    before = weights(model)
    res = run(model=model, policy=LambdaPolicy(lambda e, b: torch.zeros(b.x.shape[0], dtype=torch.bool)), epochs=1)
    assert list(res.history["kept"]) == [0] and math.isnan(res.history["train_loss"].iloc[0])
    assert same_weights(before, weights(res.model))


def test_same_seed_same_run_bit_for_bit():
    a, b = run(epochs=2), run(epochs=2)
    assert same_weights(weights(a.model), weights(b.model))
    pd.testing.assert_frame_equal(no_time(a.history), no_time(b.history))
    c = run(epochs=2, seed=7)
    assert not same_weights(weights(a.model), weights(c.model))


def test_resume_is_bit_for_bit(tmp_path):
    straight = run(run_dir=tmp_path / "a", epochs=3)
    run(run_dir=tmp_path / "b", epochs=1)
    torch.manual_seed(123)  # a different fresh model: resume must replace everything
    resumed = train(TinyNet(), tiny_data(), FullPolicy(), cfg(epochs=3), run_dir=tmp_path / "b",
                    progress=False, resume=True)
    la, lb = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    assert la["epoch"] == lb["epoch"] == 2
    assert same_weights(la["model"], lb["model"])
    assert same_weights(weights(straight.model), weights(resumed.model))
    pd.testing.assert_frame_equal(no_time(straight.history), no_time(resumed.history))
    assert straight.ledger.totals()["trained"] == resumed.ledger.totals()["trained"]
    assert straight.ledger.epochs == resumed.ledger.epochs == [0, 1, 2]
    pd.testing.assert_frame_equal(straight.selection_log.to_dataframe(), resumed.selection_log.to_dataframe())
    assert straight.test_metrics["macro_f1"] == resumed.test_metrics["macro_f1"]


def test_resume_guards(tmp_path):
    run(run_dir=tmp_path, epochs=1)
    with pytest.raises(ValueError, match="resume=True"):
        run(run_dir=tmp_path, epochs=2)
    with pytest.raises(ValueError, match="config differs.*lr"):
        run(run_dir=tmp_path, epochs=2, lr=0.5, resume=True)


def test_nan_loss_stops_with_epoch_and_step_and_keeps_checkpoint(tmp_path):
    data = tiny_data()
    bad = int(data.splits["train"][5])
    data.signals[bad, 0, 3] = np.nan
    # epoch 0 leaves the corrupted sample out, epoch 1 trains on it
    pol = LambdaPolicy(lambda e, b: (b.indices != bad) | (e > 0))
    with pytest.warns(UserWarning, match="1 training samples hold NaN"):
        with pytest.raises(NonFiniteLossError, match=r"epoch 1, step \d+") as info:
            run(data=data, policy=pol, run_dir=tmp_path, epochs=3)
    assert info.value.epoch == 1 and info.value.step >= 3  # 3 batches of 16 in epoch 0
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())


def test_mismatches_fail_before_training():
    data = tiny_data()
    with pytest.raises(ValueError, match="Lead-count mismatch.*3 leads.*2"):
        run(model=TinyNet(n_leads=3), data=data)
    with pytest.raises(ValueError, match="Class-count mismatch.*5 classes"):
        run(model=TinyNet(n_classes=5), data=data)
    fixed = nn.Sequential(nn.Flatten(), nn.Linear(2 * 50, 2))  # expects T = 50, data has 32
    with pytest.raises(ValueError, match=r"Shape mismatch.*\(1, 2, 32\)"):
        run(model=fixed, data=data)
    with pytest.raises(ValueError, match="'val' split"):
        d = tiny_data()
        d.splits.pop("val")
        run(data=d)
    with pytest.raises(ValueError, match="use loss='bce'"):
        d = tiny_data()
        d.labels = np.eye(2, dtype=np.float32)[d.labels]
        run(data=d)


def test_cb_ce_and_progress_output(capsys):
    res = run(loss="cb_ce", epochs=1, progress=True)
    assert len(res.history) == 1 and np.isfinite(res.history["train_loss"]).all()
    out = capsys.readouterr()
    assert "device cpu" in out.out + out.err


def test_eval_every_and_select_loss():
    res = run(epochs=3, eval_every=2, select_metric="loss")
    h = res.history
    assert h["val_loss"].isna().tolist() == [True, False, False]  # epoch 1 and the last one
    assert res.best_epoch == int(h["val_loss"].idxmin())


@pytest.mark.parametrize("name", ["dbpd", "srd", "xai_dbpd"])
def test_real_policies_in_the_loop(name):
    from erts_kit.selection import make_policy
    data = tiny_data()
    n = len(data.splits["train"])
    extra = {"cam_start": 0} if name.startswith("xai") else {}
    pol = make_policy(name, warm_up=1, **({"tau": 0.9} if "dbpd" in name else {}), **extra)
    res = run(data=data, policy=pol, epochs=2)
    h, t = res.history, res.ledger.epoch_table(n_train=n)
    assert h["kept"].iloc[0] == n  # warm-up epoch: every sample, no scoring
    assert t["scored"].iloc[0] == 0 and t["trained"].iloc[0] == n
    assert t["trained"].iloc[1] == h["kept"].iloc[1] <= n
    if name == "srd":
        assert t["scored"].iloc[1] == 0  # SRD draws at random: no scoring pass
    else:
        assert t["scored"].iloc[1] == n
    assert (t["gradcam"].iloc[1] > 0) == name.startswith("xai")
    df = res.selection_log.to_dataframe()
    assert len(df) == 2 * n and df.groupby("epoch")["kept"].sum().tolist() == h["kept"].tolist()


def test_default_policy_is_full_data():
    res = train(TinyNet(), tiny_data(), None, cfg(epochs=1), progress=False)
    assert res.selection_log.to_dataframe()["decision"].eq("FULL").all()
    assert res.ledger.totals()["scored"] == 0
