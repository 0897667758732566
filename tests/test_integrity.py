"""Integrity of saved files, with real faults where the machine allows (issue 20).

* a damaged checkpoint (4 KiB zeroed at every 4 KiB offset, 64 bytes flipped at random) never loads:
  a ``ValueError`` names the file and the fix; a damaged ``selection_log.npz`` likewise;
* files written before the digest existed still load;
* two real processes saving the same file in a loop never fail (no one deletes a live temp file);
* a real full disk (a small tmpfs, when this machine may mount one) turns torch's ``RuntimeError``
  into an ``OSError`` ENOSPC naming the file, and the previous file stays intact; the same fault is
  also simulated (a raw write raising ENOSPC, ``torch.save`` raising RuntimeError) so it runs anywhere;
* the report is written as UTF-8 bytes under a non-UTF-8 locale (a subprocess with LC_ALL=C).
"""
from __future__ import annotations

import errno
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from erts_kit import _atomic
from erts_kit._atomic import atomic_write
from erts_kit.models import build_model
from erts_kit.selection import SelectionLog
from erts_kit.training.checkpoint import (
    FORMAT,
    content_digest,
    load_checkpoint,
    save_checkpoint,
)

FIX = "Recompute it: delete the run folder that holds it, or start again with --no-resume"
CTX = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None


def _model_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    net = build_model("small_cnn", 1, 2)
    return save_checkpoint(path, {"epoch": 3, "model": net.state_dict(), "best": {"score": 0.489}})


def _refused_or_same(path: Path, damaged: bytes, ref: str) -> str:
    """'refused' (ValueError naming the file and the fix) or 'same' (content unchanged); never different."""
    path.write_bytes(damaged)
    try:
        got = load_checkpoint(path)
    except ValueError as err:
        assert str(path) in str(err) and FIX in str(err), str(err)
        return "refused"
    assert content_digest(got) == ref, "a damaged checkpoint loaded with different content"
    return "same"


def _largest_record_start(path: Path) -> int:
    """Byte offset where the data of the checkpoint's largest tensor record starts."""
    import zipfile
    info = max(zipfile.ZipFile(path).infolist(), key=lambda i: i.file_size)
    raw, h = path.read_bytes(), info.header_offset
    return h + 30 + int.from_bytes(raw[h + 26:h + 28], "little") + int.from_bytes(raw[h + 28:h + 30], "little")


# --------------------------------------------------------------------------------------------------
# damaged checkpoints
# --------------------------------------------------------------------------------------------------
def test_checkpoint_with_4kib_zeroed_anywhere_is_refused(tmp_path):
    path = _model_checkpoint(tmp_path / "best.pt")
    raw = path.read_bytes()
    ref = content_digest(load_checkpoint(path))
    start = _largest_record_start(path)      # inside the weights: torch.load alone would accept this
    mid = bytearray(raw)
    mid[start + 1000:start + 1000 + 4096] = bytes(4096)
    path.write_bytes(bytes(mid))
    with pytest.raises(ValueError, match="best.pt is damaged: its content does not match the SHA-256"):
        load_checkpoint(path)
    outcomes = []
    for off in range(0, len(raw), 4096):
        b = bytearray(raw)
        b[off:off + 4096] = bytes(len(b[off:off + 4096]))
        outcomes.append(_refused_or_same(path, bytes(b), ref))
    assert outcomes.count("refused") == len(outcomes), outcomes.count("same")


def test_checkpoint_with_64_bytes_flipped_is_refused(tmp_path):
    path = _model_checkpoint(tmp_path / "last.pt")
    raw = path.read_bytes()
    ref = content_digest(load_checkpoint(path))
    rng = np.random.default_rng(0)
    outcomes = []
    for trial in range(60):
        b = bytearray(raw)
        if trial % 2:   # 64 scattered bytes
            where = rng.choice(len(raw), 64, replace=False)
        else:           # a run of 64 bytes
            start = int(rng.integers(0, len(raw) - 64))
            where = range(start, start + 64)
        for i in where:
            b[i] ^= int(rng.integers(1, 256))
        outcomes.append(_refused_or_same(path, bytes(b), ref))
    assert outcomes.count("refused") == len(outcomes), outcomes.count("same")


def test_checkpoint_without_its_digest_or_with_a_changed_value_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1, "w": torch.ones(3)})
    obj = torch.load(path, weights_only=True)
    torch.save({k: v for k, v in obj.items() if k != "content_sha256"}, path)
    with pytest.raises(ValueError, match="last.pt is damaged: a version-2 checkpoint must hold"):
        load_checkpoint(path)
    torch.save({**obj, "epoch": 2}, path)   # one number changed, the digest kept
    with pytest.raises(ValueError, match=f"does not match the SHA-256.*{FIX}"):
        load_checkpoint(path)
    torch.save({**obj, "version": "2"}, path)
    with pytest.raises(ValueError, match="damaged: expected an integer checkpoint version"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(path, {"content_sha256": "x"})


def test_a_checkpoint_written_before_the_digest_still_loads_with_a_warning(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"epoch": 4, "model": {"w": torch.arange(3.0)}, "format": FORMAT, "version": 1}, path)
    with pytest.warns(UserWarning, match="written before erts_kit checked checkpoint integrity"):
        old = load_checkpoint(path)
    assert old["epoch"] == 4 and old["model"]["w"].tolist() == [0.0, 1.0, 2.0]
    save_checkpoint(path, old)                      # saved again: now verified, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_checkpoint(path)["epoch"] == 4


@pytest.mark.parametrize("cut", [0, 10, 1000, -1])
def test_truncated_or_garbage_checkpoint_names_the_file_and_the_fix(tmp_path, cut):
    path = _model_checkpoint(tmp_path / "best.pt")
    raw = path.read_bytes()
    path.write_bytes(raw[:cut] if cut >= 0 else raw[: len(raw) // 2] + b"garbage")
    with pytest.raises(ValueError, match="best.pt") as info:
        load_checkpoint(path)
    assert FIX in str(info.value) and type(info.value) is ValueError


def _tiny_train(run_dir: Path, epochs: int, resume: bool = False):
    from erts_kit.data.dataset import ECGData
    from erts_kit.selection import make_policy
    from erts_kit.training import TrainConfig, train
    x = np.random.default_rng(0).standard_normal((24, 1, 64)).astype("float32")
    data = ECGData(x, np.arange(24) % 2, ["a", "b"], fs=64, splits={"train": range(16), "val": range(16, 24)})
    torch.manual_seed(0)
    return train(build_model("small_cnn", 1, 2), data, make_policy("smrd", warm_up=1),
                 TrainConfig(epochs=epochs, batch_size=8), run_dir=run_dir, progress=False, resume=resume)


def test_resume_from_a_zeroed_last_pt_is_refused_and_nothing_is_overwritten(tmp_path):
    run_dir = tmp_path / "run"
    _tiny_train(run_dir, 1)
    raw = bytearray((run_dir / "last.pt").read_bytes())
    raw[len(raw) // 2:len(raw) // 2 + 4096] = bytes(4096)
    (run_dir / "last.pt").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"last.pt is damaged.*{FIX}"):
        _tiny_train(run_dir, 2, resume=True)
    assert (run_dir / "last.pt").read_bytes() == bytes(raw)


# --------------------------------------------------------------------------------------------------
# damaged selection logs
# --------------------------------------------------------------------------------------------------
def _big_log() -> SelectionLog:
    rng = np.random.default_rng(0)
    log = SelectionLog()
    for epoch in range(4):
        log.add_arrays(epoch, np.arange(3000), decision=rng.integers(0, 3, 3000), p_true=rng.random(3000))
    return log


def test_selection_log_damage_is_a_value_error_naming_the_file(tmp_path):
    path = _big_log().save(tmp_path / "selection_log.npz")
    raw = path.read_bytes()
    variants = {"empty": b"", "truncated": raw[: len(raw) // 2], "garbage": b"garbage" + raw[7:]}
    for off in (0, len(raw) // 3, len(raw) // 2, max(0, len(raw) - 4096)):
        b = bytearray(raw)
        b[off:off + 4096] = bytes(len(b[off:off + 4096]))
        variants[f"zero@{off}"] = bytes(b)
    rng = np.random.default_rng(1)
    for k in range(20):
        b = bytearray(raw)
        for i in rng.choice(len(raw), 64, replace=False):
            b[i] ^= 0xFF
        variants[f"flip{k}"] = bytes(b)
    for name, damaged in variants.items():
        path.write_bytes(damaged)
        with pytest.raises(ValueError) as info:
            SelectionLog.load(path)
        assert str(path) in str(info.value) and FIX in str(info.value), (name, str(info.value))


def test_selection_log_digest_mismatch_and_legacy_file(tmp_path):
    log = _big_log()
    path = log.save(tmp_path / "selection_log.npz")
    with np.load(path) as z:
        members = {k: z[k] for k in z.files}
    changed = {**members, "p_true": members["p_true"] * 0}   # a valid zip, the old digest: caught by it
    np.savez_compressed(path, **changed)
    with pytest.raises(ValueError, match=f"selection_log.npz is damaged: its content does not match.*{FIX}"):
        SelectionLog.load(path)
    legacy = {k: v for k, v in members.items() if k != "sha256"}   # what the kit wrote before the digest
    np.savez_compressed(path, **legacy)
    pd.testing.assert_frame_equal(SelectionLog.load(path).to_dataframe(), log.to_dataframe())
    np.savez_compressed(path, **{k: v for k, v in legacy.items() if k != "decision"})
    with pytest.raises(ValueError, match=r"\['decision'\] are missing"):
        SelectionLog.load(path)


# --------------------------------------------------------------------------------------------------
# two real processes writing the same file
# --------------------------------------------------------------------------------------------------
def _writer(path: str, who: int, n: int, out: str) -> None:
    torch.set_num_threads(1)
    failures = []
    w = torch.empty(300_000)
    for i in range(n):
        try:
            save_checkpoint(path, {"who": who, "i": i, "w": w.fill_(who * 1000 + i)})
            back = load_checkpoint(path)   # the other writer's file or ours: always whole and verified
            assert bool((back["w"] == back["who"] * 1000 + back["i"]).all())
            atomic_write(path + ".bin", lambda f: f.write(bytes([who]) * 200_000))
        except Exception as err:  # noqa: BLE001 - counted and reported
            failures.append(f"{type(err).__name__}: {err}")
    Path(out).write_text("\n".join(failures))


@pytest.mark.skipif(CTX is None, reason="needs the fork start method")
def test_two_processes_saving_the_same_file_in_a_loop_never_fail(tmp_path):
    path = str(tmp_path / "best.pt")
    procs = [CTX.Process(target=_writer, args=(path, who, 40, str(tmp_path / f"fail{who}.txt")))
             for who in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    failures = [line for who in (1, 2) for line in (tmp_path / f"fail{who}.txt").read_text().splitlines()]
    assert failures == [], failures[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "best.pt.bin", "fail1.txt", "fail2.txt"]
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_atomic._umask()


# --------------------------------------------------------------------------------------------------
# disk full: a real small tmpfs where this machine may mount one, and simulated everywhere
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount rights); the test is skipped where it cannot be mounted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux: the simulated disk-full tests cover this")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, check=False)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode(errors='replace').strip()})")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def _assert_disk_full(err: OSError, path: Path) -> None:
    assert err.errno == errno.ENOSPC, err
    assert f"Could not write {path}" in str(err) and "free some space" in str(err)
    assert "choose another output folder" in str(err)


def test_real_full_disk_during_a_checkpoint_is_an_oserror_and_keeps_the_old_file(small_disk):
    path = save_checkpoint(small_disk / "best.pt", {"epoch": 1, "w": torch.ones(1000)})
    before = path.read_bytes()
    with pytest.raises(OSError) as info:
        save_checkpoint(path, {"epoch": 2, "w": torch.ones(400_000)})   # 1.6 MB: does not fit
    _assert_disk_full(info.value, path)
    assert isinstance(info.value.__cause__, RuntimeError)             # what torch raised
    assert path.read_bytes() == before and load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in small_disk.iterdir()) == ["best.pt"]


def test_real_full_disk_during_training_names_the_checkpoint(small_disk):
    with pytest.raises(OSError) as info:
        _tiny_train(small_disk / "run", 2)
    assert info.value.errno == errno.ENOSPC and ".pt" in str(info.value) and "free some space" in str(info.value)
    assert not list((small_disk / "run").glob(".*.tmp"))


def test_real_full_disk_keeps_the_old_selection_log_and_report(small_disk):
    log_path = _big_log().save(small_disk / "selection_log.npz")
    df = pd.DataFrame({"policy": ["full"], "seed": [0], "macro_f1": [0.5], "effective_epochs": [2.0],
                       "compute_equivalent_epochs": [2.0], "wall_seconds": [1.0]})
    from erts_kit.results import write_report
    md = write_report(df, {}, small_disk / "rep", notes=["x" * 1000])
    old = {p: p.read_bytes() for p in (log_path, md, md.parent / "report.html")}
    with open(small_disk / "filler", "wb") as fh:   # fill the disk to the last byte
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    with pytest.raises(OSError) as info:
        _big_log().save(log_path)
    _assert_disk_full(info.value, log_path)
    with pytest.raises(OSError) as info:
        write_report(df, {}, md.parent, notes=["y" * 100_000])
    assert info.value.errno == errno.ENOSPC and "report" in str(info.value)
    assert all(p.read_bytes() == b for p, b in old.items())
    assert not list(small_disk.rglob(".*.tmp"))


def test_simulated_full_disk_in_the_raw_write_under_a_real_torch_save(tmp_path, monkeypatch):
    """Where no tmpfs can be mounted: the raw file refuses bytes past a limit, as a full disk does."""
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1, "w": torch.ones(10)})
    before = path.read_bytes()
    real_write = _atomic._RecordingFileIO._write

    def full_after_64k(self, b):  # as the system does: what fits is written, then ENOSPC
        room = 65536 - self.tell()
        if room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, memoryview(b)[:room])

    monkeypatch.setattr(_atomic._RecordingFileIO, "_write", full_after_64k)
    with pytest.raises(OSError) as info:
        save_checkpoint(path, {"epoch": 2, "w": torch.ones(100_000)})
    monkeypatch.undo()
    _assert_disk_full(info.value, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["last.pt"]


def test_simulated_torch_runtime_error_becomes_an_oserror_naming_the_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1})

    def failing_save(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 768 vs 662")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match=f"Could not write {path}.*RuntimeError.*choose another output folder"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1 and os.listdir(tmp_path) == ["last.pt"]

    def other_bug(obj, f, *a, **k):   # not a write failure: passed on as it is
        raise RuntimeError("some other bug")

    monkeypatch.setattr(torch, "save", other_bug)
    with pytest.raises(RuntimeError, match="some other bug"):
        save_checkpoint(path, {"epoch": 2})


def test_oserror_keeps_errno_and_subclass(tmp_path):
    def enospc(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "a.bin", enospc)
    _assert_disk_full(info.value, tmp_path / "a.bin")

    def denied(f):
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError, match="is not writable: fix its permissions"):
        atomic_write(tmp_path / "a.bin", denied)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "a.bin", lambda f: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# the report under a non-UTF-8 locale
# --------------------------------------------------------------------------------------------------
def test_report_is_utf8_under_a_non_utf8_locale(tmp_path):
    script = textwrap.dedent(f"""
        import locale, pathlib, sys
        import numpy as np, pandas as pd
        enc = locale.getpreferredencoding(False)
        assert enc.lower().replace("-", "") not in ("utf8",), enc
        try:
            pathlib.Path({str(tmp_path / 'probe.txt')!r}).write_text("\\u2013")
            sys.exit("the locale accepts '\\u2013': not a real test")
        except UnicodeEncodeError:
            pass
        from erts_kit.results import write_report
        df = pd.DataFrame({{"policy": ["full", "xai_dbpd", "xai_dbpd"], "seed": [0, 0, 1],
                           "macro_f1": [0.5, 0.4, 0.6], "effective_epochs": [2.0, 1.0, 1.0],
                           "compute_equivalent_epochs": [2.0, 1.5, 1.5], "wall_seconds": [1.0, 1.0, 1.0],
                           "filter_precision": [np.nan, 0.5, 0.5]}})
        write_report(df, {{}}, {str(tmp_path / 'rep')!r}, title="r\\u00e9sum\\u00e9", notes=["a \\u2013 b"])
        print(enc)
    """)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONIOENCODING": "ascii:backslashreplace", "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-2000:]
    md = (tmp_path / "rep" / "report.md").read_bytes().decode("utf-8")
    html_text = (tmp_path / "rep" / "report.html").read_bytes().decode("utf-8")
    assert "–" in md and "±" in md and "résumé" in md and "résumé" in html_text
