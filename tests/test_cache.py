"""Cache (hit, miss, other settings, corruption, atomicity) and per-lead z-scoring."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from erts_kit.data import cache as cache_mod
from erts_kit.data.cache import CacheInvalid, cache_folder, cached, load_cache, save_cache
from erts_kit.data.dataset import ECGData
from erts_kit.data.normalize import flat_leads, zscore_per_lead


def _data(seed: int = 0, n: int = 6) -> ECGData:
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame({"record": [f"r{i}" for i in range(n)], "age": np.arange(n) + 40.5,
                         "padded": [i % 2 == 0 for i in range(n)]})
    meta.attrs["skipped"] = [{"record": "r99", "reason": "truncated"}]
    return ECGData(signals=rng.normal(size=(n, 3, 20)), labels=rng.integers(0, 2, n), class_names=["a", "b"],
                   fs=100.0, lead_names=["I", "II", "V1"], meta=meta,
                   splits={"train": np.arange(4), "val": [4], "test": [5]},
                   evidence_mask=rng.random((n, 20)) > 0.5, name="demo")


class Counter:
    def __init__(self, seed: int = 0) -> None:
        self.calls = 0
        self.seed = seed

    def __call__(self) -> ECGData:
        self.calls += 1
        return _data(self.seed)


def test_roundtrip_keeps_everything_and_memory_maps(tmp_path):
    src = _data()
    out = cached(lambda: src, tmp_path, {"reader": "demo"})
    assert isinstance(out.signals, np.memmap) and out.signals.dtype == np.float32
    assert not out.signals.flags.writeable
    np.testing.assert_array_equal(out.signals, src.signals.astype(np.float32))
    np.testing.assert_array_equal(out.labels, src.labels)
    np.testing.assert_array_equal(out.evidence_mask, src.evidence_mask)
    pd.testing.assert_frame_equal(out.meta, src.meta, check_dtype=True)
    assert out.meta.attrs["skipped"] == [{"record": "r99", "reason": "truncated"}]
    assert {k: v.tolist() for k, v in out.splits.items()} == {"train": [0, 1, 2, 3], "val": [4], "test": [5]}
    assert (out.class_names, out.lead_names, out.fs, out.name) == (["a", "b"], ["I", "II", "V1"], 100.0, "demo")


def test_multilabel_and_empty_meta_roundtrip(tmp_path):
    d = ECGData(np.zeros((3, 1, 4), np.float32), np.eye(3, dtype=np.float32), ["x", "y", "z"], fs=50)
    out = cached(lambda: d, tmp_path, {"k": 1})
    assert out.labels.dtype == np.float32 and out.labels.shape == (3, 3)
    assert len(out.meta) == 3 and out.evidence_mask is None


def test_hit_does_not_rebuild_and_other_settings_do(tmp_path):
    build = Counter()
    a = cached(build, tmp_path, {"reader": "demo", "fs": 100})
    b = cached(build, tmp_path, {"fs": 100, "reader": "demo"})  # same key, other order
    assert build.calls == 1
    np.testing.assert_array_equal(a.signals, b.signals)
    cached(build, tmp_path, {"reader": "demo", "fs": 500})
    assert build.calls == 2
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_key_is_compared_in_full_not_only_by_hash(tmp_path):
    """A folder holding another key's cache (as after a hash collision) is never reused."""
    key_a, key_b = {"fs": 100}, {"fs": 500}
    cached(Counter(seed=1), tmp_path, key_a)
    shutil.copytree(cache_folder(tmp_path, key_a), cache_folder(tmp_path, key_b))
    with pytest.raises(CacheInvalid, match="other settings"):
        load_cache(cache_folder(tmp_path, key_b), key_b)
    build_b = Counter(seed=2)
    with pytest.warns(UserWarning, match="cannot be reused"):
        out = cached(build_b, tmp_path, key_b)
    assert build_b.calls == 1
    np.testing.assert_array_equal(out.signals, _data(2).signals.astype(np.float32))


@pytest.mark.parametrize("damage", ["truncate_signals", "delete_labels", "bad_manifest", "no_manifest",
                                    "truncate_meta"])
def test_corrupt_cache_is_reported_and_rebuilt(tmp_path, damage):
    key = {"reader": "demo"}
    build = Counter()
    cached(build, tmp_path, key)
    folder = cache_folder(tmp_path, key)
    if damage == "truncate_signals":
        f = folder / "signals.npy"
        f.write_bytes(f.read_bytes()[:200])
    elif damage == "delete_labels":
        (folder / "labels.npy").unlink()
    elif damage == "bad_manifest":
        (folder / "manifest.json").write_text("{not json")
    elif damage == "no_manifest":
        (folder / "manifest.json").unlink()
    else:
        f = folder / "meta.json"
        f.write_bytes(f.read_bytes()[:-30])
    with pytest.warns(UserWarning, match="rebuilding"):
        out = cached(build, tmp_path, key)
    assert build.calls == 2
    np.testing.assert_array_equal(out.signals, _data().signals.astype(np.float32))
    cached(build, tmp_path, key)  # and the rebuilt cache is valid again
    assert build.calls == 2


def test_same_size_but_wrong_shape_is_detected(tmp_path):
    key = {"k": 1}
    cached(Counter(), tmp_path, key)
    folder = cache_folder(tmp_path, key)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["signals_shape"] = [6, 20, 3]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheInvalid, match="expected float32"):
        load_cache(folder, key)


def test_crash_before_manifest_is_not_loaded_as_valid(tmp_path, monkeypatch):
    key = {"reader": "demo"}
    real_write = cache_mod.atomic_write

    def crash_on_manifest(path, write):
        if path.name == "manifest.json":
            raise KeyboardInterrupt("simulated crash")
        real_write(path, write)

    monkeypatch.setattr(cache_mod, "atomic_write", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        cached(Counter(), tmp_path, key)
    folder = cache_folder(tmp_path, key)
    assert (folder / "signals.npy").is_file() and not (folder / "manifest.json").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # temp file cleaned up
    monkeypatch.setattr(cache_mod, "atomic_write", real_write)
    build = Counter()
    with pytest.warns(UserWarning, match="interrupted"):
        cached(build, tmp_path, key)
    assert build.calls == 1


def test_crash_while_rebuilding_invalidates_the_old_cache(tmp_path, monkeypatch):
    """A rebuild removes the manifest first: new signals + old labels can never load as valid."""
    key = {"reader": "demo"}
    folder = save_cache(_data(0), cache_folder(tmp_path, key), key)
    real_write = cache_mod.atomic_write

    def crash_on_labels(path, write):
        if path.name == "labels.npy":
            raise OSError("disk full")
        real_write(path, write)

    monkeypatch.setattr(cache_mod, "atomic_write", crash_on_labels)
    with pytest.raises(OSError):
        save_cache(_data(1), folder, key)
    with pytest.raises(CacheInvalid, match="no manifest"):
        load_cache(folder, key)


def test_no_pickle_object_arrays_refused(tmp_path):
    d = _data()
    d.labels = np.array([0, 1, 0, 1, 0, 1], dtype=object)
    with pytest.raises(ValueError, match="pickle"):
        save_cache(d, tmp_path / "c", {"k": 1})


def test_unserialisable_key_is_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        cached(Counter(), tmp_path, {"fn": object()})


def test_builder_must_return_ecgdata(tmp_path):
    with pytest.raises(TypeError, match="ECGData"):
        cached(lambda: np.zeros(3), tmp_path, {"k": 1})


# ---- z-scoring ---------------------------------------------------------------------------------------

def test_zscore_hand_checked():
    z = zscore_per_lead(np.array([[1.0, 2.0, 3.0]]))
    s = np.sqrt(2.0 / 3.0)  # population std of 1, 2, 3
    np.testing.assert_allclose(z, [[-1 / s, 0.0, 1 / s]], rtol=1e-6)
    assert z.dtype == np.float32


def test_zscore_per_sample_per_lead_and_flat_leads_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(4, 3, 200))
    x[1, 2] = 7.0          # flat lead
    x[2, 0] = 1e-9 * rng.normal(size=200)  # numerically flat
    z = zscore_per_lead(x)
    assert z.shape == x.shape and np.isfinite(z).all()
    assert np.all(z[1, 2] == 0) and np.all(z[2, 0] == 0)
    ok = ~flat_leads(x)
    np.testing.assert_allclose(z.mean(-1)[ok], 0, atol=1e-5)
    np.testing.assert_allclose(z.std(-1)[ok], 1, atol=1e-4)
    assert flat_leads(x).sum() == 2
    # each sample on its own: z-scoring a batch equals z-scoring each record
    np.testing.assert_allclose(z[3], zscore_per_lead(x[3]), atol=1e-6)
