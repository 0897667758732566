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
