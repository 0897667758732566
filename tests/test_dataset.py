"""ECGData's own checks (issue 20, finding 6): splits, labels, finiteness of every split, and warnings."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from erts_kit.data import ECGData


def make(n=10, leads=2, t=16, labels=None, classes=("a", "b"), splits=None, x=None):
    x = np.zeros((n, leads, t), np.float32) if x is None else x
    labels = np.arange(n) % len(classes) if labels is None else labels
    splits = {"train": np.arange(0, 6), "val": np.arange(6, 8), "test": np.arange(8, n)} if splits is None else splits
    return ECGData(x, labels, list(classes), fs=100, splits=splits)


def quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return make(**kw)


def test_valid_data_gives_no_warning_and_int64_splits():
    d = quiet(splits={"train": range(6), "val": [6, 7], "test": np.array([8, 9], np.int32)})
    assert all(v.dtype == np.int64 for v in d.splits.values())
    assert d.split("test").tolist() == [8, 9]
    quiet(splits={"train": np.arange(6), "val": [6, 7], "test": np.array([8, 9], np.uint8)})


def test_a_boolean_mask_is_refused_with_the_fix():
    mask = np.zeros(10, bool)
    mask[:6] = True
    with pytest.raises(ValueError, match=r"splits\['train'\] as integer dataset indices, got a boolean mask of "
                                         r"length 10: pass np.flatnonzero\(mask\)"):
        make(splits={"train": mask})
    make(splits={"train": np.flatnonzero(mask), "test": np.flatnonzero(~mask)})


@pytest.mark.parametrize("bad, match", [
    ([0, -1], r"indices >= 0 in splits\['train'\], got 1 negative \(e.g. -1\): a negative index wraps"),
    ([0, 10], r"indices in \[0, 9\] in splits\['train'\] \(the set holds 10 samples\), got 1 beyond it \(e.g. 10\)"),
    ([0, 1, 1], r"each dataset index once in splits\['train'\], got 1 repeated \(e.g. 1\)"),
    ([0.0, 1.0], r"integer dataset indices, got dtype float64 .*astype\(np.int64\)"),
    (["0", "1"], r"integer dataset indices, got dtype <U1"),
    ([[0, 1]], r"1-D array of dataset indices, got shape \(1, 2\)"),
    (3, r"1-D array of dataset indices, got shape \(\)"),
])
def test_bad_indices_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        make(splits={"train": bad})


def test_splits_must_be_disjoint_and_a_mapping():
    with pytest.raises(ValueError, match=r"disjoint splits, got 2 dataset indices in both 'train' and 'test' \(4, 5\)"):
        make(splits={"train": range(6), "test": [4, 5, 6]})
    with pytest.raises(TypeError, match="splits as a dict"):
        make(splits=[range(6)])
    d = make()
    d.splits["test"] = np.array([0, 8])                       # changed in place after creation
    with pytest.raises(ValueError, match="both 'train' and 'test'"):
        d.check_splits()


def test_an_empty_split_is_allowed_whatever_its_dtype_but_warned():
    with pytest.warns(UserWarning, match="Split 'val' is empty"):
        d = make(splits={"train": range(8), "val": [], "test": [8, 9]})
    assert d.splits["val"].dtype == np.int64 and d.splits["val"].size == 0


def test_nan_in_any_split_is_found_before_training():
    x = np.zeros((10, 2, 16), np.float32)
    x[9, 1, 3] = np.nan
    x[7, 0, 0] = np.inf
    d = make(x=x)                                              # creation does not read every signal
    d.check_finite(["train"])
    with pytest.raises(ValueError, match=r"finite signals in split 'val', got 1 sample\(s\) with NaN/inf "
                                         r"\(dataset indices 7\): clean them"):
        d.check_finite()
    with pytest.raises(ValueError, match=r"split 'test', .*indices 9\)"):
        d.check_finite(["test"])
    x[1, 0, 0] = -np.inf
    with pytest.raises(ValueError, match=r"split 'train', .*indices 1\)"):
        d.check_finite()


def test_check_finite_reads_a_memory_map_in_chunks(tmp_path):
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(600, 1, 8))
    x[:] = 0
    x[555, 0, 7] = np.nan
    x.flush()
    y = np.arange(600) % 2
    d = ECGData(np.load(tmp_path / "x.npy", mmap_mode="r"), y, ["a", "b"], fs=100,
                splits={"train": np.arange(500), "test": np.arange(500, 600)[::-1]})
    d.check_finite(["train"])
    with pytest.raises(ValueError, match=r"split 'test', got 1 sample\(s\) .*indices 555\)"):
        d.check_finite()


@pytest.mark.parametrize("labels, match", [
    (["a", "b"] * 5, (r"Expected integer class ids in \[0, 1\], got strings or non-numbers "
                      r"\(e.g. 'a', 'b', 'a', \.\.\.\): map names to ids")),
    ([0, 1, 0, 1, 0, 1, 0, 1, 0, np.nan], r"got 1 label\(s\) NaN/inf \(samples 9\)"),
    ([0, 1, 0, 1, 0, 1, 0, 1, 0, 0.5], r"got fractional labels \(e.g. 0.5\)"),
    ([0, 1, 0, 1, 0, 1, 0, 1, 0, 2], r"class ids in \[0, 1\], got range \[0, 2\]: check class_names"),
    ([0, 1, 0, 1, 0, 1, 0, 1, 0, -1], r"got range \[-1, 1\]"),
    (np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, "x"], dtype=object), "got strings or non-numbers"),
    ([0, 1], r"Expected 10 labels \(one per signal\), got 2"),
])
def test_bad_single_labels_give_a_clear_value_error(labels, match):
    with pytest.raises(ValueError, match=match):
        make(labels=labels)


def test_whole_number_and_bool_labels_become_class_ids():
    assert make(labels=(np.arange(10) % 2).astype(float)).labels.dtype == np.int64
    assert make(labels=np.arange(10) % 2 == 1).labels.tolist() == [0, 1] * 5
    assert make(labels=np.array([0, 1] * 5, dtype=object)).labels.dtype == np.int64


def test_multi_label_must_be_multi_hot():
    y = np.eye(2, dtype=np.float32)[np.arange(10) % 2]
    assert make(labels=y).multilabel
    assert make(labels=y.astype(bool)).labels.dtype == np.float32
    soft = y.copy()
    soft[3, 0] = 0.7
    with pytest.raises(ValueError, match=r"multi-hot labels of 0 and 1 .*got other values \(e.g. 0.7"):
        make(labels=soft)
    soft[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"1 label\(s\) NaN/inf \(samples 3\)"):
        make(labels=soft)
    with pytest.raises(ValueError, match="multi-label width 2, got 3"):
        make(labels=np.zeros((10, 3), np.float32))


def test_swapped_lead_axis_is_warned():
    with pytest.warns(UserWarning, match=r"more leads \(200\) than time steps \(12\): they look like \(N, T, leads\).*"
                                         r"x.transpose\(0, 2, 1\)"):
        make(leads=200, t=12)
    with pytest.raises(ValueError, match=r"got \(12, 5000\): add a batch axis with x\[None\]"):
        ECGData(np.zeros((12, 5000), np.float32), [0], ["a"], fs=100)


def test_a_class_without_training_samples_is_warned():
    with pytest.warns(UserWarning, match=r"Class 'c' has no training sample \(splits\['train'\] holds 6 samples\)"):
        make(labels=np.array([0, 1] * 3 + [2] * 4), classes=("a", "b", "c"))
    y = np.zeros((10, 2), np.float32)
    y[:, 0] = 1
    y[8:, 1] = 1
    with pytest.warns(UserWarning, match="Class 'b' has no training sample"):
        make(labels=y)
    quiet(splits={"val": range(5), "test": range(5, 10)})    # no training split: nothing to warn about


def test_subset_still_works_without_splits():
    d = make()
    s = d.subset(np.array([9, 0]))
    assert s.splits == {} and s.meta["orig_index"].tolist() == [9, 0]
