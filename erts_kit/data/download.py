"""Download PTB-XL or MIT-BIH from PhysioNet: resumable, checksum-verified, confined to one folder.

How it works (``download_database``):

1. Fetch the database's published checksum list ``<base>/<slug>/<version>/SHA256SUMS.txt``
   (PhysioNet publishes one per database version). It is the file index: only the files the
   database needs are kept (MIT-BIH: the records' ``.hea``/``.dat``/``.atr`` plus ``RECORDS`` and
   ``ANNOTATORS``; PTB-XL: the top-level CSVs and files plus ``records100/`` *or* ``records500/``).
   Without a checksum list it falls back to the ``RECORDS`` file and warns that nothing is verified.
2. Every path from a remote index must be a plain relative path inside ``dest`` (no ``..``, no
   absolute or drive paths, no backslashes): one bad entry rejects the whole index before any download.
3. Files already complete are skipped: a file whose size and mtime match the local ledger
   ``dest/.erts_kit_download.json`` (written after each verified file), or whose SHA-256 matches.
4. Each missing file is streamed to ``<file>.part`` (continued with an HTTP Range request when a
   ``.part`` is left over and the server supports ranges), hashed on the fly, and renamed into place
   only when its SHA-256 matches. A mismatch deletes the file and, after the other files are done,
   raises :class:`ChecksumError` naming every bad file.

The base URL is, in order: the ``base_url`` argument, the ``ERTS_KIT_PHYSIONET_URL`` environment
variable, ``wfdb``'s own setting (``wfdb.set_db_index_url``, default https://physionet.org/files/).
PhysioNet data are under their own licences (MIT-BIH: ODC-By 1.0; PTB-XL: CC BY 4.0): cite them.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import requests  # a dependency of wfdb, so always installed with erts_kit
from tqdm.auto import tqdm

from .._validation import check_choice, check_int, format_list

__all__ = ["DATABASES", "ENV_URL", "ChecksumError", "download_database", "resolve_base_url", "safe_relpath"]

ENV_URL = "ERTS_KIT_PHYSIONET_URL"
LEDGER = ".erts_kit_download.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Database:
    slug: str
    version: str
    license: str


DATABASES: dict[str, _Database] = {
    "mitbih": _Database("mitdb", "1.0.0", "ODC-By 1.0"),
    "ptbxl": _Database("ptb-xl", "1.0.3", "CC BY 4.0"),
}
"""Short name -> PhysioNet slug, version and licence."""


class ChecksumError(ValueError):
    """Downloaded files whose SHA-256 differs from the published one (they were deleted)."""


def resolve_base_url(base_url: str | None = None) -> str:
    """The PhysioNet files URL to use, ending with ``/``: argument, then env var, then wfdb's setting.

    Example:
        >>> resolve_base_url("http://127.0.0.1:8000/files")
        'http://127.0.0.1:8000/files/'
    """
    if base_url is None:
        base_url = os.environ.get(ENV_URL)
    if not base_url:
        import wfdb.io.download

        base_url = wfdb.io.download.config.db_index_url
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"Expected base_url to start with http:// or https://, got {base_url!r}.")
    return base_url.rstrip("/") + "/"


def safe_relpath(entry: str) -> str:
    """Check a path from a remote index is a plain relative path; return it in POSIX form.

    Raises:
        ValueError: absolute paths, drive letters, backslashes, ``..``/``.``/empty components.

    Example:
        >>> safe_relpath("records100/00000/00001_lr.dat")
        'records100/00000/00001_lr.dat'
        >>> safe_relpath("../../etc/passwd")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Refusing remote path '../../etc/passwd': expected a relative path inside ...
    """
    parts = entry.split("/")
    bad = (not entry or entry.startswith("/") or "\\" in entry or "\x00" in entry or ":" in parts[0]
           or any(p in ("", ".", "..") for p in parts))
    if bad:
        raise ValueError(f"Refusing remote path {entry!r}: expected a relative path inside the download "
                         "folder (no '..', no absolute or drive paths, no backslashes).")
    return str(PurePosixPath(entry))


def _parse_sums(text: str) -> dict[str, str]:
    """``sha256sum`` lines (``<hex>  <path>``, optional ``*`` binary mark) -> {path: hex}."""
    sums: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        fields = line.split(maxsplit=1)
        digest = fields[0].lower()
        if len(fields) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"Unreadable SHA256SUMS.txt line {n}: {line[:80]!r}; expected '<sha256>  <path>'.")
        sums[safe_relpath(fields[1].lstrip("*"))] = digest
    return sums


def _wanted(name: str, rel: str, fs: int, records: set[str] | None) -> bool:
    """Whether a file of the database index is needed."""
    if name == "ptbxl":
        return "/" not in rel or rel.startswith(f"records{fs}/")
    if "/" in rel:  # mitdb: x_mitdb/, mitdbdir/ (documentation) are left out
        return False
    stem, _, ext = rel.partition(".")
    if rel in ("RECORDS", "ANNOTATORS"):
        return True
    return ext in ("hea", "dat", "atr") and (records is None or stem in records)


def _from_records_file(name: str, text: str, fs: int, records: set[str] | None) -> list[str]:
    """Files listed through RECORDS when no SHA256SUMS.txt is published (unverified fallback)."""
    recs = [safe_relpath(r.strip()) for r in text.splitlines() if r.strip()]
    if name == "ptbxl":
        files = ["ptbxl_database.csv", "scp_statements.csv", "RECORDS"]
        files += [f"{r}.{e}" for r in recs if r.startswith(f"records{fs}/") for e in ("hea", "dat")]
    else:
        files = ["RECORDS"] + [f"{r}.{e}" for r in recs if records is None or r in records
                               for e in ("hea", "dat", "atr")]
    return files


def _drop_link(path: Path) -> Path:
    """Remove a symlink planted where the downloader writes, so nothing is written through it."""
    if path.is_symlink():
        path.unlink()
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _Fetcher:
    """Streams URLs with one keep-alive ``requests.Session`` per worker thread."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self._local, "s"):
            self._local.s = requests.Session()
        return self._local.s

    def text(self, url: str) -> str | None:
        """Body of a small file, or None on 404."""
        r = self.session().get(url, timeout=self.timeout)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        try:
            return r.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{url} is not UTF-8 text ({exc}): is base_url a PhysioNet files URL?") from None

    def file(self, url: str, target: Path, expected: str | None) -> str:
        """Download ``url`` to ``target`` via ``target.part``; return the SHA-256 of what was written."""
        part = _drop_link(target.with_name(target.name + ".part"))
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self.session().get(url, headers=headers, stream=True, timeout=self.timeout) as r:
            if r.status_code == 416:  # the .part already holds everything (or more): start over
                part.unlink()
                return self.file(url, target, expected)
            r.raise_for_status()
            append = have and r.status_code == 206
            h = hashlib.sha256()
            if append:
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(_CHUNK), b""):
                        h.update(block)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(part, "ab" if append else "wb") as f:
                for block in r.iter_content(_CHUNK):
                    f.write(block)
                    h.update(block)
        digest = h.hexdigest()
        if expected is not None and digest != expected:
            part.unlink()
            if target.exists():
                target.unlink()
            return digest
        os.replace(part, target)
        return digest


def _load_ledger(dest: Path) -> dict[str, dict]:
    try:
        return json.loads((dest / LEDGER).read_text())
    except (OSError, ValueError):
        return {}


def _save_ledger(dest: Path, ledger: dict[str, dict]) -> None:
    tmp = _drop_link(dest / (LEDGER + ".part"))
    tmp.write_text(json.dumps(ledger, indent=0, sort_keys=True))
    os.replace(tmp, dest / LEDGER)


def _stamp(path: Path, digest: str | None) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}


def _is_complete(path: Path, rel: str, expected: str | None, ledger: dict[str, dict]) -> bool:
    """A file is complete when the ledger vouches for it (same size, mtime, hash) or its hash matches."""
    if not path.is_file():
        return False
    entry = ledger.get(rel)
    st = path.stat()
    if entry and entry["size"] == st.st_size and entry["mtime_ns"] == st.st_mtime_ns and \
            entry.get("sha256") == expected:
        return True
    if expected is None:  # unverified fallback: a renamed (hence complete) file is trusted
        ledger[rel] = _stamp(path, None)
        return True
    if _sha256(path) == expected:
        ledger[rel] = _stamp(path, expected)
        return True
    return False


def download_database(name: str, dest: str | Path, fs: int = 100, *, base_url: str | None = None,
                      version: str | None = None, records: Sequence[str | int] | None = None,
                      progress: bool = True, workers: int = 4, timeout: float = 60.0) -> Path:
    """Download a PhysioNet database into ``dest`` (resumable, SHA-256 verified); return ``dest``.

    Files land directly in ``dest`` (``dest/101.hea``, ``dest/ptbxl_database.csv``,
    ``dest/records100/...``), ready for ``load_mitbih(dest)`` / ``load_ptbxl(dest)``. Calling it
    again downloads only what is missing or incomplete. See the module docstring for the details.

    Sizes: MIT-BIH about 100 MB (48 records); PTB-XL about 1 GB at 100 Hz, about 3 GB at 500 Hz.

    Args:
        name: ``"mitbih"`` or ``"ptbxl"``.
        dest: target folder (created).
        fs: PTB-XL sampling rate to fetch, 100 or 500 (only that one); ignored for MIT-BIH.
        base_url: PhysioNet-style files URL (``<base>/<slug>/<version>/...``); default: env var
            ``ERTS_KIT_PHYSIONET_URL``, else wfdb's ``db_index_url`` (https://physionet.org/files/).
        version: database version; default ``DATABASES[name].version``.
        records: MIT-BIH only: fetch just these records (e.g. ``DS1``); default all.
        progress: show a tqdm progress bar over files.
        workers: parallel downloads.
        timeout: seconds before a stalled connection fails.

    Returns:
        ``Path(dest)``.

    Raises:
        ValueError: unknown name/fs, a remote path that would escape ``dest``, an unreadable index.
        ChecksumError: (a ValueError) files whose SHA-256 differs from the published one; they are
            deleted and the message names them. Run again to retry.
        RuntimeError: the index or some files could not be fetched (network/HTTP errors, listed).

    Example:
        >>> path = download_database("mitbih", "data/mitdb", records=["100", "101"])  # doctest: +SKIP
    """
    check_choice("name", name, list(DATABASES))
    check_int("workers", workers, minimum=1)
    if name == "ptbxl":
        check_choice("fs", fs, [100, 500])
    if records is not None and name != "mitbih":
        raise ValueError(f"records= selects MIT-BIH records only, got it with name={name!r}: drop it.")
    wanted_recs = None if records is None else {str(r) for r in records}
    db = DATABASES[name]
    version = db.version if version is None else safe_relpath(str(version))
    db_url = f"{resolve_base_url(base_url)}{db.slug}/{version}/"
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    fetcher = _Fetcher(timeout)
    records_text: str | None = None
    try:
        sums_text = fetcher.text(db_url + "SHA256SUMS.txt")
        if sums_text is None:
            records_text = fetcher.text(db_url + "RECORDS")
    except requests.RequestException as exc:
        raise RuntimeError(f"Could not reach {db_url} ({exc}): check the network or base_url "
                           f"(env {ENV_URL}).") from exc
    if sums_text is not None:
        sums = _parse_sums(sums_text)
        files = sorted(rel for rel in sums if _wanted(name, rel, fs, wanted_recs))
        _drop_link(dest / "SHA256SUMS.txt").write_text(sums_text)
    elif records_text is not None:
        warnings.warn(f"{db_url} publishes no SHA256SUMS.txt: files are downloaded without verification.",
                      stacklevel=2)
        sums = {}
        files = _from_records_file(name, records_text, fs, wanted_recs)
    else:
        raise RuntimeError(f"Found neither SHA256SUMS.txt nor RECORDS under {db_url}: is the base URL "
                           f"(argument base_url, env {ENV_URL}) or version {version!r} right?")
    if wanted_recs is not None:
        absent = sorted(wanted_recs - {f.partition(".")[0] for f in files})
        if absent:
            raise ValueError(f"MIT-BIH records not in the database index: {format_list(absent)}.")
    dest_resolved = dest.resolve()
    for rel in files:  # symlinks inside dest must not lead outside it either
        if not (dest / rel).resolve().is_relative_to(dest_resolved):
            raise ValueError(f"Refusing remote path {rel!r}: it resolves outside {dest}.")

    ledger = _load_ledger(dest)
    todo = [rel for rel in files if not _is_complete(dest / rel, rel, sums.get(rel), ledger)]
    bad, failed = [], []
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=len(todo), unit="file", desc=f"{name} -> {dest}", disable=not progress) as bar:
            jobs = {pool.submit(fetcher.file, db_url + quote(rel), dest / rel, sums.get(rel)): rel
                    for rel in todo}
            for n, job in enumerate(as_completed(jobs), 1):
                rel = jobs[job]
                try:
                    digest = job.result()
                except (requests.RequestException, OSError) as exc:
                    failed.append(f"{rel} ({exc})")
                else:
                    if rel in sums and digest != sums[rel]:
                        bad.append(f"{rel} (got {digest[:12]}..., expected {sums[rel][:12]}...)")
                    else:
                        ledger[rel] = _stamp(dest / rel, sums.get(rel))
                bar.update(1)
                if n % 500 == 0:
                    _save_ledger(dest, ledger)
    finally:
        _save_ledger(dest, ledger)
    if bad:
        raise ChecksumError(f"SHA-256 mismatch for {len(bad)} file(s) from {db_url}, deleted: "
                            f"{format_list(bad, limit=5)}. Run download_database again to retry; if it "
                            "persists the server copy differs from the published checksums.")
    if failed:
        raise RuntimeError(f"Could not download {len(failed)} file(s) from {db_url}: "
                           f"{format_list(failed, limit=5)}. Run download_database again to resume.")
    return dest
