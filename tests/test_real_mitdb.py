"""The MIT-BIH reader on the real records named by ERTS_KIT_MITDB_DIR (skipped without it).

Run: ``ERTS_KIT_MITDB_DIR=/path/to/mitdb python -m pytest tests/test_real_mitdb.py -q``.
The 22 DS1 records load in about 2 s on a 2-core CPU, so the test uses every record it finds.
Data: MIT-BIH Arrhythmia Database, PhysioNet, ODC-By 1.0.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import wfdb

from erts_kit.data.mitbih import AAMI_CLASSES, AAMI_MAP, DS1, DS2, load_mitbih
from erts_kit.data.normalize import zscore_per_lead

# de Chazal et al. (2004), Table: AAMI beats in DS1 (before any edge drop).
DS1_PUBLISHED = {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}


def _annotation_counts(path: str, n_t: int | None) -> Counter:
    """AAMI counts straight from the atr file; with n_t, apply the reader's edge-drop rule."""
    ann = wfdb.rdann(path, "atr")
    sig_len = wfdb.rdheader(path).sig_len
    keep = Counter()
    for s, x in zip(ann.symbol, ann.sample):
        if s in AAMI_MAP and (n_t is None or (x - n_t // 2 >= 0 and x - n_t // 2 + n_t <= sig_len)):
            keep[AAMI_MAP[s]] += 1
    return keep


def test_per_record_counts_equal_the_annotations(mitdb_dir):
    recs = sorted(p.stem for p in mitdb_dir.glob("*.hea") if p.stem in DS1 + DS2)
    assert recs, f"no DS1/DS2 records in {mitdb_dir}"
    d = load_mitbih(mitdb_dir)
    assert sorted(d.meta["record"].unique()) == recs
    got = d.meta.groupby(["record", "aami"]).size().unstack(fill_value=0).reindex(columns=AAMI_CLASSES,
                                                                                  fill_value=0)
    raw_total = Counter()
    for rec in recs:
        expected = _annotation_counts(str(mitdb_dir / rec), d.n_timesteps)
        assert got.loc[rec].to_dict() == {c: expected[c] for c in AAMI_CLASSES}, rec
        raw = _annotation_counts(str(mitdb_dir / rec), None)
        assert 0 <= sum(raw.values()) - sum(expected.values()) <= 3, rec  # only the first/last beats drop
        raw_total += raw
    if set(DS1) <= set(recs):  # the AAMI mapping reproduces the published DS1 table exactly
        assert {c: raw_total[c] for c in AAMI_CLASSES} == DS1_PUBLISHED
    assert np.isfinite(d.signals).all()


def test_record_114_uses_its_mlii_lead_stored_second(mitdb_dir):
    if not (mitdb_dir / "114.hea").exists():
        pytest.skip("record 114 not in ERTS_KIT_MITDB_DIR")
    d = load_mitbih(mitdb_dir, records=["114"])
    rec = wfdb.rdrecord(str(mitdb_dir / "114"))
    assert rec.sig_name == ["V5", "MLII"]
    first = int(d.meta["sample"].iloc[0])
    half = d.n_timesteps // 2
    raw = rec.p_signal[first - half:first - half + d.n_timesteps, 1]
    np.testing.assert_allclose(d.signals[0, 0], zscore_per_lead(raw), atol=1e-4)
    assert isinstance(d.meta, pd.DataFrame) and d.split("train").size + d.split("val").size == d.n_samples
