"""SelectionLog: recording by dataset index, dataframe, queries, .npz round trip, checkpoint state, DDP merge."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from erts_kit.selection import BatchSelection, Decision, SelectionLog

D = Decision
NAN = float("nan")


def sel(decisions, p=None, f=None, c=None) -> BatchSelection:
    b = len(decisions)
    dec = torch.tensor([int(d) for d in decisions], dtype=torch.int8)
    nan = torch.full((b,), NAN)
    as_t = lambda v: nan.clone() if v is None else torch.tensor(v, dtype=torch.float32)
    from erts_kit.selection import KEPT_DECISIONS
    keep = torch.tensor([d in KEPT_DECISIONS for d in decisions])
    return BatchSelection(keep=keep, decision=dec, p_true=as_t(p), focus=as_t(f), combined=as_t(c))


def small_log(chunk_size: int = 3) -> SelectionLog:
    log = SelectionLog(chunk_size=chunk_size)                  # tiny chunks: rows cross chunk borders
    log.add(0, torch.tensor([4, 0, 2]), sel([D.WARMUP] * 3))
    log.add(1, torch.tensor([2, 4]), sel([D.KEPT, D.DROPPED_CONFIDENT], p=[0.1, 0.9]))
    log.add(1, torch.tensor([0]), sel([D.RESCUED], p=[0.2], f=[0.5], c=[0.4]))
    log.add(2, torch.tensor([0, 2, 4]), sel([D.DROPPED_LOW_FOCUS, D.KEPT, D.DROPPED_CONFIDENT],
                                            p=[0.2, 0.0, 0.95], f=[0.1, 0.5, NAN], c=[0.08, 0.5, NAN]))
    return log


def test_dataframe_columns_types_and_rows():
    df = small_log().to_dataframe()
    assert list(df.columns) == ["epoch", "index", "p_true", "focus", "combined", "decision", "kept"]
    assert len(df) == 9
    assert df["epoch"].dtype == np.int32 and df["index"].dtype == np.int64
    assert isinstance(df["decision"].dtype, pd.CategoricalDtype)
    assert list(df["decision"].cat.categories) == [d.name for d in Decision]
    assert df["index"].tolist() == [4, 0, 2, 2, 4, 0, 0, 2, 4]   # dataset indices, in recorded order
    assert df["kept"].tolist() == [True, True, True, True, False, True, False, True, False]
    assert df.loc[5, "decision"] == "RESCUED" and df.loc[5, "combined"] == pytest.approx(0.4)
    assert np.isnan(df.loc[0, "p_true"])


def test_epoch_query_and_counts():
    log = small_log()
    assert log.epochs() == [0, 1, 2]
    e1 = log.epoch(1)
    assert e1["index"].tolist() == [2, 4, 0] and e1["decision"].tolist() == ["KEPT", "DROPPED_CONFIDENT", "RESCUED"]
    with pytest.raises(ValueError, match=r"holds epochs \[0, 1, 2\]"):
        log.epoch(7)
    assert log.kept_counts("epoch").tolist() == [3, 2, 1]
    assert log.kept_counts("sample").to_dict() == {0: 2, 2: 3, 4: 1}
    labels = np.array([0, 0, 1, 0, 1])                          # label of each dataset index 0..4
    by_class = log.kept_counts("class", labels=labels, class_names=["a", "b"])
    assert by_class.values.tolist() == [[1, 2], [1, 1], [0, 1]]
    assert list(by_class.columns) == ["a", "b"]
    dec = log.kept_counts("decision")
    assert dec.loc[2, "DROPPED_LOW_FOCUS"] == 1 and dec.loc[0, "WARMUP"] == 3 and dec.loc[1, "FULL"] == 0
    with pytest.raises(ValueError, match="needs labels"):
        log.kept_counts("class")
    with pytest.raises(ValueError, match="every dataset index"):
        log.kept_counts("class", labels=[0, 1])
    with pytest.raises(ValueError, match="expected one of"):
        log.kept_counts("lead")


def test_summary():
    s = small_log().summary()
    assert s["seen"].tolist() == [3, 3, 3] and s["kept"].tolist() == [3, 2, 1]
    assert s["kept_frac"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert s.loc[1, "n_rescued"] == 1 and s.loc[2, "n_dropped_low_focus"] == 1
    assert s.loc[1, "n_kept"] == 1 and s.loc[0, "n_warmup"] == 3
    assert s.loc[1, "mean_p_true"] == pytest.approx(0.4) and np.isnan(s.loc[0, "mean_p_true"])


def test_save_load_round_trip(tmp_path):
    log = small_log()
    path = log.save(tmp_path / "sub" / "selection")
    assert path.name == "selection.npz"
    with np.load(path, allow_pickle=False) as z:                # plain arrays only
        assert z["decision"].dtype == np.int8
    back = SelectionLog.load(path)
    pd.testing.assert_frame_equal(back.to_dataframe(), log.to_dataframe())
    back.add(3, torch.tensor([1]), sel([D.KEPT]))               # still writable after loading
    assert len(back) == 10


def test_float16_scores():
    log = SelectionLog(score_dtype="float16")
    log.add_arrays(0, [1, 2], decision=[0, 1], p_true=[0.1234567, 0.5])
    p = log.arrays()["p_true"]
    assert p.dtype == np.float16 and p[0] == pytest.approx(0.1234567, abs=1e-3)
    with pytest.raises(ValueError, match="expected one of"):
        SelectionLog(score_dtype="float64")


def test_state_dict_through_weights_only_torch_load_and_truncate():
    log = small_log()
    buf = io.BytesIO()
    torch.save({"log": log.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["log"]
    back = SelectionLog()
    back.load_state_dict(state)
    pd.testing.assert_frame_equal(back.to_dataframe(), log.to_dataframe())
    back.truncate(after_epoch=1)                                # e.g. drop a partly logged epoch 2
    assert back.epochs() == [0, 1] and len(back) == 6


def test_merge_sorts_by_epoch_then_index():
    a, b = SelectionLog(), SelectionLog()
    a.add_arrays(1, [5, 1], decision=[0, 1], p_true=[0.5, 0.1])
    b.add_arrays(0, [3], decision=[4])
    b.add_arrays(1, [2, 1], decision=[2, 0])                    # index 1 twice in epoch 1 (padded sampler)
    m = SelectionLog.merge([a, b.state_dict()])
    df = m.to_dataframe()
    assert df[["epoch", "index"]].values.tolist() == [[0, 3], [1, 1], [1, 1], [1, 2], [1, 5]]
    assert df["p_true"].iloc[4] == pytest.approx(0.5)
    swapped = SelectionLog.merge([b, a]).to_dataframe()           # rank order does not change the keys
    assert swapped[["epoch", "index"]].values.tolist() == df[["epoch", "index"]].values.tolist()


def test_add_errors():
    log = SelectionLog()
    with pytest.raises(ValueError, match="one per index"):
        log.add_arrays(0, [1, 2], decision=[0])
    with pytest.raises(ValueError, match="decision values"):
        log.add_arrays(0, [1], decision=[9])
    with pytest.raises(ValueError, match="epoch >= 0"):
        log.add_arrays(-1, [1], decision=[0])
    assert len(log) == 0 and log.to_dataframe().empty
