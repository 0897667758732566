"""One writer per output folder: a lock file holding the owner's pid and host.

:func:`lock_folder` creates ``<folder>/.erts-kit.lock`` with ``O_CREAT | O_EXCL`` (atomic: of two
processes, exactly one creates it) and removes it when the block ends. A lock left by a process
that no longer runs on this host (killed with SIGKILL, a crashed kernel) is taken over with a
message on stderr; a lock held by a live process, or by any process on another host (which cannot
be checked from here), is refused with :class:`FolderLocked` naming the folder, the pid and the host.

The lock is re-entrant within one process: :func:`erts_kit.results.run_grid` takes it, and the
command line takes it earlier (before loading data) around the same folder.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._atomic import pid_alive

__all__ = ["LOCK_NAME", "FolderLocked", "lock_folder"]

LOCK_NAME = ".erts-kit.lock"
"""File name of the lock inside the locked folder."""

_UNREADABLE_GRACE_S = 10.0      # an unreadable lock younger than this may be one being written right now
_HELD: dict[str, list[Any]] = {}  # resolved lock path -> [depth, token] for the locks this process holds
_MUTEX = threading.Lock()


class FolderLocked(RuntimeError):
    """The folder is in use by another live process (or by one on another host)."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid from the owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    """The owner is alive: its pid exists and, where both are known, started when the lock says."""
    if not pid_alive(pid):
        return False
    now = _start_time(pid)
    return start is None or now is None or now == start


def _read(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else None


def _create(path: Path, info: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


@contextlib.contextmanager
def _serialised(folder: Path) -> Iterator[None]:
    """Hold an exclusive flock on the folder itself, so two processes never take over one stale lock both."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # releases the flock


def _describe(folder: Path, lock: Path, info: dict[str, Any] | None) -> str:
    if info is None:
        return (f"Output folder {folder} is being locked by another process right now (its lock file {lock} is "
                "not complete yet): wait for that run to finish or use another --out folder.")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("time", 0)))
    where = ("" if info.get("host") == socket.gethostname() else
             " (another host: this machine cannot check whether it still runs)")
    return (f"Output folder {folder} is in use by process {info['pid']} on host {info.get('host')!r}{where}, "
            f"since {since} ({info.get('command', '?')}): wait for it to finish or use another --out folder; "
            f"if that process is gone, delete {lock}.")


def _stale(info: dict[str, Any] | None, lock: Path) -> bool:
    if info is None:
        try:
            return time.time() - lock.stat().st_mtime > _UNREADABLE_GRACE_S
        except FileNotFoundError:
            return True
    if info.get("host") != socket.gethostname():
        return False
    return not _alive(int(info["pid"]), info.get("start"))


def _acquire(folder: Path, lock: Path, token: str) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid()),
            "time": time.time(), "token": token, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:2]]) if sys.argv else "python"}
    if _create(lock, info):
        return
    with _serialised(folder):
        old = _read(lock)
        if not lock.exists():
            old = None
        elif not _stale(old, lock):
            raise FolderLocked(_describe(folder, lock, old))
        if lock.exists():
            who = f"process {old['pid']} on {old.get('host')!r}" if old else "an unknown process"
            print(f"erts-kit: taking over the stale lock {lock} of {who}, which no longer runs.",
                  file=sys.stderr, flush=True)
            lock.unlink(missing_ok=True)
        if not _create(lock, info):
            raise FolderLocked(_describe(folder, lock, _read(lock)))


def _not_writable(folder: Path, exc: OSError) -> OSError:
    why = exc.strerror or str(exc)
    fix = ("free some space or choose another --out folder" if exc.errno == errno.ENOSPC else
           "choose another --out folder or make it writable")
    return OSError(exc.errno, f"Cannot write to the output folder {folder} ({why}): {fix}. Nothing was run.")


def _release(lock: Path, token: str) -> None:
    info = _read(lock)
    if info is not None and info.get("token") == token:   # never remove a lock someone else took over
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Lock ``folder`` (created if missing) for this process while the block runs; yield the folder.

    Raises:
        FolderLocked: another live process holds it (the message names the folder, pid and host).
        OSError: the folder cannot be created or written (read-only, permission denied, disk full).

    Example:
        >>> import tempfile
        >>> with lock_folder(tempfile.mkdtemp()) as d:
        ...     (d / LOCK_NAME).exists()
        True
    """
    folder = Path(folder)
    lock = folder / LOCK_NAME
    with _MUTEX:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            key = str(lock.resolve())
            held = _HELD.get(key)
            if held is None:
                token = uuid.uuid4().hex
                _acquire(folder, lock, token)
                held = _HELD[key] = [0, token]
        except OSError as exc:
            raise _not_writable(folder, exc) from exc
        held[0] += 1
    try:
        yield folder
    finally:
        with _MUTEX:
            held[0] -= 1
            if held[0] == 0:
                del _HELD[key]
                _release(lock, held[1])
