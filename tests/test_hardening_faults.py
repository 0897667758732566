"""Interrupted work: SIGKILL mid-epoch, killed grids, disk errors and crashes half-way through a write.

What a user does by mistake (closes the laptop, the Colab session dies, the lab machine's OOM killer
fires, Ctrl-C in a notebook, the disk fills up) must not lose work nor leave a file that later loads
as valid:

* ``train`` killed with SIGKILL in the middle of epoch 1 (after ``last.pt`` of epoch 0 was written),
  then ``train(..., resume=True)`` in a new process, ends with exactly the weights, optimizer state,
  history (minus wall-clock seconds), cost counts and selection log of an uninterrupted run (CPU);
* the same for a 2-run ``run_grid`` killed during its second run;
* a checkpoint or cache write that fails half-way (``os.replace``, the array writer, ``fsync`` raising
  ``OSError``/``KeyboardInterrupt``) keeps the old file, leaves no temporary file, and never produces
  a file that loads as valid; a process SIGKILLed while writing a large cache/checkpoint leaves
  either the old content, the new content, or a cache that is refused and rebuilt;
* a disk error while training keeps the last good ``last.pt``, and resuming from it gives the
  uninterrupted result.

Processes are forked (``multiprocessing`` "fork": a separate process killed with a real SIGKILL, without
paying torch's import time again); each runs torch single-threaded so runs compare bit for bit.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from erts_kit.training.checkpoint import load_checkpoint, save_checkpoint
from erts_kit.data.cache import CacheInvalid, cache_folder, cached, load_cache, save_cache
from erts_kit.data.dataset import ECGData
from erts_kit.data.synthetic import make_synthetic
from erts_kit.models import build_model
from erts_kit.selection import make_policy
from erts_kit.training import TrainConfig, train

pytestmark = pytest.mark.skipif(sys.platform == "win32" or "fork" not in mp.get_all_start_methods(),
                                reason="needs fork and SIGKILL (POSIX)")
CTX = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
# The first AdamW pulls in torch's lazy compile imports (seconds): do it once here, not in every forked child.
torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
KILLS: dict[str, list[str]] = {}  # scenario -> outcome of each kill, printed at the end (see -rA)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    lines = ["", "hardening fault outcomes (scenario: kills/faults; outcomes):"]
    for name, outcomes in sorted(KILLS.items()):
        counts = pd.Series(outcomes).value_counts().to_dict()
        lines.append(f"  {name}: {len(outcomes)}; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("\n".join(lines))


# --------------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------------
def _child(target, args):
    """Body of a forked child: single-threaded torch, report a traceback and exit 1 on error."""
    try:
        torch.set_num_threads(1)
        target(*args)
    except BaseException:  # noqa: BLE001 - shown in the parent's failure message
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


def _start(target, *args) -> mp.Process:
    p = CTX.Process(target=_child, args=(target, args), daemon=True)
    p.start()
    return p


def _run(target, *args, timeout: float = 120.0) -> None:
    p = _start(target, *args)
    p.join(timeout)
    if p.is_alive():
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        pytest.fail(f"{target.__name__} hung for {timeout} s")
    assert p.exitcode == 0, f"{target.__name__} failed in its process (exit code {p.exitcode}; traceback above)"


def _kill_when(p: mp.Process, ready, timeout: float = 120.0, may_finish: bool = False) -> bool:
    """SIGKILL ``p`` as soon as ``ready()`` is true; False if it finished first (only with ``may_finish``)."""
    t0 = time.monotonic()
    while not ready():
        if not p.is_alive():
            p.join()
            if may_finish and p.exitcode == 0:
                return False
            pytest.fail(f"the process ended (exit code {p.exitcode}) before the kill point")
        if time.monotonic() - t0 > timeout:
            os.kill(p.pid, signal.SIGKILL)
            pytest.fail("the kill point was never reached")
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    assert p.exitcode in ((-signal.SIGKILL,) + ((0,) if may_finish else ()))
    return p.exitcode == -signal.SIGKILL


def _after(started: Path, delay: float):
    """A kill point: ``delay`` seconds after the file ``started`` appeared."""
    seen: list[float] = []

    def ready() -> bool:
        if not seen and started.exists():
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= delay

    return ready


# --------------------------------------------------------------------------------------------------
# training killed mid-epoch, then resumed in a new process
# --------------------------------------------------------------------------------------------------
DATA = make_synthetic(n_samples=60, n_leads=2, fs=100, duration_s=3.0, seed=3)  # 42 train samples
EPOCHS = 3


class _Reporting:
    """Wraps a policy (test-only, nothing patched in the library): logs each batch's epoch, and slows
    epoch >= 1 a little so the parent's SIGKILL lands while that epoch runs."""

    def __init__(self, inner, path: Path) -> None:
        self._inner, self._path = inner, path

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def select(self, epoch, batch, scorer):
        with open(self._path, "a") as f:
            f.write(f"{epoch}\n")
        if epoch >= 1:
            time.sleep(0.2)
        return self._inner.select(epoch, batch, scorer)


def _policy():
    return make_policy("xai_smrd", warm_up=1, cam_start=0)  # scoring, Grad-CAM and random picks from epoch 1


def _train_run(run_dir: Path, resume: bool, model_seed: int, progress_file: Path | None = None) -> None:
    torch.manual_seed(model_seed)
    model = build_model("small_cnn", DATA.n_leads, DATA.n_classes)
    policy = _policy() if progress_file is None else _Reporting(_policy(), progress_file)
    train(model, DATA, policy, TrainConfig(epochs=EPOCHS, batch_size=16, seed=7), run_dir=run_dir, progress=False,
          resume=resume)


def _no_seconds(history: dict) -> pd.DataFrame:
    df = pd.DataFrame(history)
    return df[[c for c in df.columns if not c.startswith("seconds")]]


def _same_tensors(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and (
            torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_tensors(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))


def _assert_same_run(ref_dir: Path, run_dir: Path) -> None:
    ref, got = load_checkpoint(ref_dir / "last.pt"), load_checkpoint(run_dir / "last.pt")
    assert ref["epoch"] == got["epoch"] == EPOCHS - 1
    assert _same_tensors(ref["model"], got["model"]), "final weights differ"
    assert _same_tensors(ref["optimizer"], got["optimizer"]), "optimizer state differs"
    pd.testing.assert_frame_equal(_no_seconds(ref["history"]), _no_seconds(got["history"]))
    assert ref["ledger"]["counts"] == got["ledger"]["counts"] and ref["ledger"]["epochs"] == got["ledger"]["epochs"]
    assert _same_tensors(ref["selection_log"], got["selection_log"]), "selection logs differ"
    assert ref["best"] == got["best"]
    assert _same_tensors(load_checkpoint(ref_dir / "best.pt")["model"], load_checkpoint(run_dir / "best.pt")["model"])


def test_training_killed_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path):
    ref_dir, run_dir, progress = tmp_path / "ref", tmp_path / "run", tmp_path / "progress.txt"
    _run(_train_run, ref_dir, False, 0)

    p = _start(_train_run, run_dir, False, 0, progress)

    def mid_epoch_1() -> bool:  # last.pt of epoch 0 is there and epoch 1 has started (3 slowed batches)
        return (run_dir / "last.pt").exists() and progress.exists() and "1" in progress.read_text().split()

    _kill_when(p, mid_epoch_1)
    assert load_checkpoint(run_dir / "last.pt")["epoch"] == 0  # the kill landed inside epoch 1

    _run(_train_run, run_dir, True, 12345)  # other init weights: resume must replace everything
    _assert_same_run(ref_dir, run_dir)
    assert not list(run_dir.glob(".*.tmp"))
    KILLS.setdefault("train SIGKILL mid-epoch 1 -> resume", []).append("resumed, identical")


def _grid(out_dir: Path) -> None:
    from erts_kit.results import run_grid

    run_grid(DATA, ["full", "xai_smrd"], [0], "small_cnn", epochs=3, out_dir=out_dir,
             config={"batch_size": 8, "warm_up": 1, "cam_start": 0, "device": "cpu"}, progress=False)


def test_compare_grid_killed_during_its_second_run_resumes_to_the_same_table(tmp_path):
    pytest.importorskip("erts_kit.experiments")
    ref, out = tmp_path / "ref", tmp_path / "grid"
    _run(_grid, ref)
    p = _start(_grid, out)
    second = out / "xai_smrd_seed0"
    _kill_when(p, lambda: (out / "full_seed0" / "result.json").exists() and (second / "last.pt").exists())
    assert not (second / "result.json").exists()
    _run(_grid, out)

    timing = ("wall_seconds", "process_seconds")
    a, b = pd.read_csv(ref / "results.csv"), pd.read_csv(out / "results.csv")
    keep = [c for c in a.columns if not c.startswith("seconds_") and c not in timing]
    pd.testing.assert_frame_equal(a[keep], b[keep])
    for run in ("full_seed0", "xai_smrd_seed0"):
        ha, hb = pd.read_csv(ref / run / "history.csv"), pd.read_csv(out / run / "history.csv")
        cols = [c for c in ha.columns if not c.startswith("seconds")]
        pd.testing.assert_frame_equal(ha[cols], hb[cols])
        assert _same_tensors(load_checkpoint(ref / run / "last.pt")["model"],
                             load_checkpoint(out / run / "last.pt")["model"])
    KILLS.setdefault("compare grid SIGKILL in run 2 -> rerun", []).append("resumed, identical")


# --------------------------------------------------------------------------------------------------
# a disk error while training
# --------------------------------------------------------------------------------------------------
def _tiny_data() -> ECGData:
    x = np.random.default_rng(0).standard_normal((24, 1, 64)).astype("float32")
    return ECGData(x, np.arange(24) % 2, ["a", "b"], fs=64, splits={"train": range(16), "val": range(16, 24)})


def _tiny_train(run_dir: Path, epochs: int, resume: bool = False):
    torch.manual_seed(0)
    return train(build_model("small_cnn", 1, 2), _tiny_data(), make_policy("smrd", warm_up=1),
                 TrainConfig(epochs=epochs, batch_size=8), run_dir=run_dir, progress=False, resume=resume)


def test_disk_full_while_checkpointing_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    _tiny_train(tmp_path / "ref", 2)
    real_save, calls = torch.save, []

    def failing_save(obj, f, *a, **k):  # the 3rd checkpoint write (epoch 1) hits a full disk half-way
        calls.append(1)
        if len(calls) == 3:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        _tiny_train(tmp_path / "run", 2)
    monkeypatch.setattr(torch, "save", real_save)
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["epoch"] == 0 and not list((tmp_path / "run").glob(".*.tmp"))
    _tiny_train(tmp_path / "run", 2, resume=True)
    _assert_same_tiny(tmp_path / "ref", tmp_path / "run")
    KILLS.setdefault("train: disk full during a checkpoint -> resume", []).append("resumed, identical")


def _assert_same_tiny(a: Path, b: Path) -> None:
    la, lb = load_checkpoint(a / "last.pt"), load_checkpoint(b / "last.pt")
    assert la["epoch"] == lb["epoch"] and _same_tensors(la["model"], lb["model"])
    pd.testing.assert_frame_equal(_no_seconds(la["history"]), _no_seconds(lb["history"]))


def test_a_truncated_last_pt_is_refused_with_its_name_and_kept(tmp_path):
    run_dir = tmp_path / "run"
    _tiny_train(run_dir, 1)
    raw = (run_dir / "last.pt").read_bytes()
    for cut in (0, 10, len(raw) // 2, len(raw) - 1):
        (run_dir / "last.pt").write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="last.pt") as info:
            _tiny_train(run_dir, 2, resume=True)
        assert type(info.value) is ValueError
        assert (run_dir / "last.pt").read_bytes() == raw[:cut]  # nothing overwritten: the user decides
        KILLS.setdefault("truncated last.pt -> resume", []).append("refused, named")


# --------------------------------------------------------------------------------------------------
# checkpoint writes interrupted half-way
# --------------------------------------------------------------------------------------------------
def _interrupt(kind: str):
    return {"oserror": OSError(5, "Input/output error"), "ctrl-c": KeyboardInterrupt()}[kind]


@pytest.mark.parametrize("kind", ["oserror", "ctrl-c"])
@pytest.mark.parametrize("where", ["writer", "fsync", "replace"])
def test_checkpoint_write_interrupted_keeps_the_old_file(tmp_path, monkeypatch, where, kind):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1, "w": torch.full((1000,), 1.0)})
    exc = _interrupt(kind)
    if where == "writer":
        def boom(obj, f, *a, **k):
            f.write(b"PK\x03\x04" + b"\x00" * 1000)
            raise exc
        monkeypatch.setattr(torch, "save", boom)
    else:
        def boom(*a, **k):
            raise exc
        monkeypatch.setattr(os, {"fsync": "fsync", "replace": "replace"}[where], boom)
    with pytest.raises(type(exc)):
        save_checkpoint(path, {"epoch": 2, "w": torch.full((1000,), 2.0)})
    monkeypatch.undo()
    back = load_checkpoint(path)
    assert back["epoch"] == 1 and bool((back["w"] == 1.0).all())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left
    KILLS.setdefault("checkpoint write interrupted (monkeypatched)", []).append("old file kept")


def _checkpoint_writer(path: Path, started: Path) -> None:
    big = torch.empty(2_000_000)
    for i in range(1, 100000):
        save_checkpoint(path, {"epoch": i, "w": big.fill_(float(i))})
        started.touch()


def test_checkpoint_writer_killed_at_random_points_leaves_a_valid_file(tmp_path):
    rng = np.random.default_rng(0)
    path, started = tmp_path / "last.pt", tmp_path / "started"
    for delay in rng.uniform(0.0, 0.3, size=5):
        started.unlink(missing_ok=True)
        p = _start(_checkpoint_writer, path, started)
        _kill_when(p, _after(started, delay))
        back = load_checkpoint(path)  # always the last complete write, never a torn one
        assert bool((back["w"] == float(back["epoch"])).all())
        tmp_left = len(list(tmp_path.glob(".last.pt.*.tmp")))
        KILLS.setdefault("checkpoint writer SIGKILLed (8 MB state)", []).append(
            "complete old file" + (" (+ stray .tmp)" if tmp_left else ""))
        for t in tmp_path.glob(".last.pt.*.tmp"):  # stray temp files are never read; clear them per trial
            t.unlink()


# --------------------------------------------------------------------------------------------------
# cache writes interrupted half-way
# --------------------------------------------------------------------------------------------------
KEY = {"reader": "hardening", "v": 1}


def _cache_data(value: float, n: int = 6, leads: int = 2, t: int = 50) -> ECGData:
    x = np.full((n, leads, t), value, dtype=np.float32)
    return ECGData(x, np.arange(n) % 2, ["a", "b"], fs=100, splits={"train": np.arange(n - 1), "val": [n - 1]},
                   evidence_mask=np.ones((n, t), bool), meta=pd.DataFrame({"v": [value] * n}))


def _which(data: ECGData) -> float:
    vals = np.unique(np.asarray(data.signals))
    assert len(vals) == 1, "a cache mixing two writes loaded as valid"
    assert data.meta["v"].nunique() == 1 and float(data.meta["v"].iloc[0]) == float(vals[0]), "meta from another write"
    return float(vals[0])


N_CACHE_FILES = 6  # signals, labels, meta, splits, evidence_mask, manifest


@pytest.mark.parametrize("kind", ["oserror", "ctrl-c"])
@pytest.mark.parametrize("at", range(N_CACHE_FILES))
def test_cache_rewrite_interrupted_at_each_file_never_loads(tmp_path, monkeypatch, at, kind):
    """A rebuild over an older cache of the same key that dies at the at-th file: refused, then rebuilt."""
    cdir = tmp_path / "cache"
    cached(lambda: _cache_data(1.0), cdir, KEY)
    folder = cache_folder(cdir, KEY)
    real_replace, calls, exc = os.replace, [], _interrupt(kind)

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == at + 1:
            raise exc
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(type(exc)):
        save_cache(_cache_data(2.0), folder, KEY)
    monkeypatch.undo()
    with pytest.raises(CacheInvalid, match="manifest"):
        load_cache(folder, KEY)
    assert not list(folder.glob(".*.tmp"))
    with pytest.warns(UserWarning, match="rebuilding"):
        assert _which(cached(lambda: _cache_data(3.0), cdir, KEY)) == 3.0
    KILLS.setdefault("cache write interrupted at each file (monkeypatched)", []).append("refused, rebuilt")


def test_cache_array_writer_failing_half_way_leaves_no_valid_cache(tmp_path, monkeypatch):
    cdir = tmp_path / "cache"
    real_save = np.save

    def half(f, arr, *a, **k):  # the disk fills up in the middle of signals.npy
        raw = __import__("io").BytesIO()
        real_save(raw, arr, *a, **k)
        f.write(raw.getvalue()[: len(raw.getvalue()) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", half)
    with pytest.raises(OSError, match="No space"):
        cached(lambda: _cache_data(1.0), cdir, KEY)
    monkeypatch.undo()
    folder = cache_folder(cdir, KEY)
    with pytest.raises(CacheInvalid):
        load_cache(folder, KEY)
    assert not list(folder.glob(".*.tmp"))
    with pytest.warns(UserWarning, match="rebuilding"):
        assert _which(cached(lambda: _cache_data(4.0), cdir, KEY)) == 4.0
    KILLS.setdefault("cache writer disk full half-way (monkeypatched)", []).append("refused, rebuilt")


def _cache_writer(folder: Path, value: float, started: Path) -> None:
    data = _cache_data(value, n=300, leads=12, t=1000)  # 14 MB of signals
    started.touch()
    save_cache(data, folder, KEY)


def test_cache_writer_killed_at_random_points_never_loads_a_torn_cache(tmp_path):
    rng = np.random.default_rng(1)
    folder = cache_folder(tmp_path / "cache", KEY)
    started = tmp_path / "started"
    big = _cache_data(-1.0, n=300, leads=12, t=1000)
    t0 = time.monotonic()
    save_cache(big, folder, KEY)
    full = time.monotonic() - t0  # how long one write takes here: kills are spread over it
    previous = -1.0
    for trial, frac in enumerate(np.linspace(0.05, 1.1, 8) + rng.uniform(-0.03, 0.03, 8)):
        started.unlink(missing_ok=True)
        value = float(trial + 1)
        p = _start(_cache_writer, folder, value, started)
        killed = _kill_when(p, _after(started, frac * full), may_finish=True)
        try:
            got = _which(load_cache(folder, KEY))
        except CacheInvalid:
            outcome, previous = "refused (torn write)", None
        else:
            assert got in (previous, value), f"loaded {got}, expected the old {previous} or the new {value}"
            outcome, previous = ("new content" if got == value else "old content"), got
            outcome += "" if killed else " (write finished before the kill)"
        KILLS.setdefault("cache writer SIGKILLed (14 MB)", []).append(outcome)
    # whatever state the kills left, cached() gives correct data (rebuilding if needed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'rebuilding' when the last kill left a torn cache
        data = cached(lambda: _cache_data(42.0, n=300, leads=12, t=1000), tmp_path / "cache", KEY)
    assert _which(data) in (42.0, previous)

