"""Atomic file writes: a crash mid-write never leaves a file that later loads as valid.

Every file the kit writes for later reading (checkpoints, caches, result tables, reports) goes through
:func:`atomic_write`: a temporary file in the same folder, flushed and fsync'ed, then moved into
place with ``os.replace`` (atomic on POSIX and Windows), then the folder fsync'ed.

Temporary files are named ``.<name>.<host>.<pid>.<random>.tmp``: a later write removes one only when
its writer is gone (same host and that process no longer exists, or the file is over a day old), so
two processes writing the same file never delete each other's work. Finished files get the
permissions the user's umask gives (e.g. 0644), like any file the user creates, not ``mkstemp``'s 0600.

A failed write (disk full, read-only folder, torch's ``RuntimeError`` from a failed ``torch.save``)
becomes an :class:`OSError` (errno kept) whose message names the file and what to do; the previous
file, if any, is untouched.
"""
from __future__ import annotations

import errno
import glob
import io
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

STALE_AFTER_S = 24 * 3600  # a temp file this old belongs to no live writer (a pid reused, another host)
_TORCH_WRITE_ERRORS = ("inline_container", "PytorchStreamWriter", "enforce fail")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` is racy in threads)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (one owned by another user counts).

    Example:
        >>> pid_alive(os.getpid()), pid_alive(0)
        (True, False)
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def _writer_gone(tmp: Path, name: str, now: float) -> bool:
    """Whether the writer of temp file ``tmp`` (of the file ``name``) is gone, so ``tmp`` is garbage."""
    parts = tmp.name[len(name) + 2:-len(".tmp")].split(".")
    try:
        age = now - tmp.stat().st_mtime
    except OSError:
        return False
    if len(parts) == 1:  # ".<name>.<random>.tmp": an erts_kit before writer ids, whose writers were cleaned too
        return True
    if len(parts) != 3 or not parts[1].isdigit():
        return False  # the temp file of another file (e.g. ".<name>.x.<host>.<pid>.<random>.tmp")
    if parts[0] == _host() and os.name != "nt":  # os.kill(pid, 0) would terminate a process on Windows
        return not pid_alive(int(parts[1])) or age > STALE_AFTER_S
    return age > STALE_AFTER_S  # another host (shared folder): its processes cannot be checked from here


def _remove_stale_temps(path: Path) -> None:
    now = time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if _writer_gone(tmp, path.name, now):
            tmp.unlink(missing_ok=True)


class _RecordingFileIO(io.FileIO):
    """A raw file that remembers the first ``OSError`` of a write (torch hides it behind a RuntimeError)."""

    error: OSError | None = None
    _write = io.FileIO.write  # the system write (a test may stand a full disk in for it)

    def write(self, b: Any) -> int | None:
        try:
            return self._write(b)
        except OSError as err:
            if self.error is None:
                self.error = err
            raise


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _write_error(path: Path, err: BaseException, recorded: OSError | None = None) -> OSError:
    """The :class:`OSError` (errno kept) for a failed write of ``path``: which file, why, what to do."""
    src = err if isinstance(err, OSError) else recorded if recorded is not None else err
    code = getattr(src, "errno", None) if isinstance(src, OSError) else None
    if isinstance(src, OSError):
        reason = src.strerror or str(src) or type(src).__name__
    else:
        reason = f"{type(src).__name__}: {str(src).splitlines()[0] if str(src) else ''}"
    free = None
    if code is None or code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        free = _free_bytes(path.parent if path.parent.exists() else Path.cwd())
        if code is None and free is not None and free < 1 << 20:
            code = errno.ENOSPC  # torch said only "unexpected pos": the disk is full
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        room = f" ({free / 2**20:.1f} MiB free there)" if free is not None else ""
        todo = (f"The disk (or your quota) is full{room}: free some space, or choose another output folder "
                "(--out, run_dir) on a disk with room, and run the command again.")
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        todo = (f"{path.parent} is not writable: fix its permissions, or choose another output folder "
                "(--out, run_dir), and run the command again.")
    else:
        todo = (f"Check that {path.parent} exists, is writable and has free space, or choose another output "
                "folder (--out, run_dir), and run the command again.")
    msg = f"Could not write {path}: {reason}. {todo} Any previous {path.name} there is unchanged."
    return OSError(code, msg) if code is not None else OSError(msg)


def _is_write_failure(err: BaseException, raw: _RecordingFileIO | None) -> bool:
    if not isinstance(err, Exception):
        return False  # Ctrl-C, SystemExit: passed on untouched
    if isinstance(err, OSError) or (raw is not None and raw.error is not None):
        return True
    return isinstance(err, RuntimeError) and any(s in str(err) for s in _TORCH_WRITE_ERRORS)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``write(f)`` fills a binary temp file that then replaces ``path``.

    On any error (or Ctrl-C) the temp file is removed and the old ``path``, if any, is untouched.
    Temp files that a writer killed mid-write (SIGKILL) left for ``path`` are removed on the next
    write, but only when that writer is gone: never the temp file of a live process writing the
    same file. The file gets the permissions the umask gives (``0o666 & ~umask``).

    Raises:
        OSError: the write failed (disk full, folder not writable, torch's ``RuntimeError`` from a
            failed save): the message names the file and what to do; ``errno`` is kept (ENOSPC...).
            ``KeyboardInterrupt`` and errors that are not write failures pass through unchanged.

    Example:
        >>> import tempfile, os
        >>> p = atomic_write(os.path.join(tempfile.mkdtemp(), "x.txt"), lambda f: f.write(b"hi"))
        >>> p.read_bytes()
        b'hi'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _write_error(path, err) from err
    raw: _RecordingFileIO | None = None
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o666 & ~_umask())
            raw = _RecordingFileIO(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with io.BufferedWriter(raw) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if _is_write_failure(err, raw):
            raise _write_error(path, err, raw.error if raw is not None else None) from err
        raise
    fsync_dir(path.parent)
    return path
