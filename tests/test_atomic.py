"""atomic_write: the old file survives a failed write; stale temp files of killed writers are cleaned up."""
from __future__ import annotations

import pytest

from erts_kit._atomic import atomic_write
from erts_kit.selection import SelectionLog


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    p = atomic_write(tmp_path / "a.bin", lambda f: f.write(b"old"))

    def half_then_fail(f):
        f.write(b"ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(p, half_then_fail)
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.bin"]


def test_next_write_removes_temp_files_left_by_a_killed_writer(tmp_path):
    stale = tmp_path / ".a.bin.k3j2.tmp"
    stale.write_bytes(b"torn")
    other = tmp_path / ".b.bin.x.tmp"          # belongs to another file: left alone
    other.write_bytes(b"x")
    atomic_write(tmp_path / "a.bin", lambda f: f.write(b"new"))
    assert not stale.exists() and other.exists()
    assert (tmp_path / "a.bin").read_bytes() == b"new"


def test_selection_log_save_is_atomic(tmp_path, monkeypatch):
    log = SelectionLog()
    path = log.save(tmp_path / "log.npz")
    import numpy as np

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError):
        log.save(path)
    assert len(SelectionLog.load(path).to_dataframe()) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["log.npz"]


def _temp_of(folder, name: str, host: str, pid: int):
    t = folder / f".{name}.{host}.{pid}.abc123.tmp"
    t.write_bytes(b"half")
    return t


def test_only_temp_files_of_gone_writers_are_removed(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from erts_kit._atomic import STALE_AFTER_S, _host

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()                                            # a writer that is gone (its pid is free)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = _temp_of(tmp_path, "a.bin", _host(), dead.pid)
        busy = _temp_of(tmp_path, "a.bin", _host(), live.pid)
        mine = _temp_of(tmp_path, "a.bin", _host(), os.getpid())
        remote = _temp_of(tmp_path, "a.bin", "other-host", 12345)
        remote_old = _temp_of(tmp_path, "a.bin", "old-host", 12345)
        old = time.time() - STALE_AFTER_S - 60
        os.utime(remote_old, (old, old))
        other_file = _temp_of(tmp_path, "a.bin.x", _host(), dead.pid)   # ".a.bin.x.<host>.<pid>...": not a.bin's
        atomic_write(tmp_path / "a.bin", lambda f: f.write(b"new"))
        assert not gone.exists() and not remote_old.exists()
        assert busy.exists() and mine.exists() and remote.exists() and other_file.exists()
    finally:
        live.kill()
        live.wait()


def test_files_get_the_permissions_of_the_umask(tmp_path):
    import os
    for mask, mode in ((0o022, 0o644), (0o002, 0o664), (0o077, 0o600)):
        old = os.umask(mask)
        try:
            p = atomic_write(tmp_path / f"m{mask:o}.bin", lambda f: f.write(b"x"))
            assert p.stat().st_mode & 0o777 == mode
            p = atomic_write(p, lambda f: f.write(b"y"))       # a rewrite too
            assert p.stat().st_mode & 0o777 == mode
        finally:
            os.umask(old)
