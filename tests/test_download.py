"""PhysioNet downloader against a fake PhysioNet tree served on 127.0.0.1 (never the network).

The fake tree mimics ``https://physionet.org/files/<slug>/<version>/``: WFDB records written with
wfdb.wrsamp/wrann, a RECORDS file and a SHA256SUMS.txt in ``sha256sum`` format. The server logs every
request path, so a test can count what was downloaded; it answers HTTP Range requests like PhysioNet.
"""
from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import wfdb
from fixtures_wfdb import make_ptbxl_tree, write_record

from erts_kit.data.download import (ENV_URL, ChecksumError, download_database, resolve_base_url,
                                    safe_relpath)
from erts_kit.data.mitbih import load_mitbih

MITDB = "mitdb/1.0.0"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_sums(db: Path, extra: list[str] = ()) -> None:
    files = sorted(p for p in db.rglob("*") if p.is_file() and p.name != "SHA256SUMS.txt")
    lines = [f"{_sha(p)}  {p.relative_to(db).as_posix()}" for p in files] + list(extra)
    (db / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")


def _make_mitdb(db: Path) -> None:
    for name in ("100", "101"):
        t = np.arange(3600) / 1000.0
        write_record(db, name, np.column_stack([t, -t]), fs=360, sig_names=["MLII", "V1"])
        wfdb.wrann(name, "atr", np.array([400, 800, 1200]), symbol=["N", "A", "V"], write_dir=str(db))
    (db / "RECORDS").write_text("100\n101\n")
    (db / "ANNOTATORS").write_text("atr\treference beat, rhythm, and signal quality annotations\n")
    (db / "x_mitdb").mkdir()
    (db / "x_mitdb" / "x_108.hea").write_text("x_108 2 360 10\n")  # not part of the 48 records
    (db / "mitdbdir").mkdir()
    (db / "mitdbdir" / "intro.htm").write_text("<html>docs</html>")
    _write_sums(db)


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[tuple[str, str | None]]

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # http.server's method name
        self.log.append((self.path, self.headers.get("Range")))
        rng = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if rng and path.is_file():  # minimal "bytes=N-" support, as PhysioNet's server has
            data = path.read_bytes()
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            self.wfile.write(data[start:])
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """(base_url, request log, served folder) of a loopback server over a fake PhysioNet tree."""
    tree = tmp_path / "physionet"
    _make_mitdb(tree / MITDB)
    log: list[tuple[str, str | None]] = []
    handler = type("H", (_Handler,), {"log": log})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(tree)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", log, tree
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _paths(log) -> list[str]:
    return sorted(p for p, _ in log)


def test_mitbih_download_keeps_record_files_and_verifies_them(server, tmp_path):
    url, log, tree = server
    dest = download_database("mitbih", tmp_path / "mitdb", base_url=url, progress=False)
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    records = [f"{r}.{e}" for r in ("100", "101") for e in ("atr", "dat", "hea")]
    assert got == sorted([".erts_kit_download.json", "ANNOTATORS", "RECORDS", "SHA256SUMS.txt"] + records)
    for rel in records + ["RECORDS"]:
        assert _sha(dest / rel) == _sha(tree / MITDB / rel)
    assert "/mitdb/1.0.0/x_mitdb/x_108.hea" not in _paths(log)
    d = load_mitbih(dest, window_s=0.5)  # what was downloaded is readable
    assert d.class_counts().to_dict() == {"N": 2, "S": 2, "V": 2, "F": 0, "Q": 0}


def test_second_call_downloads_nothing_and_a_deleted_file_comes_back(server, tmp_path):
    url, log, _ = server
    dest = download_database("mitbih", tmp_path / "mitdb", base_url=url, progress=False)
    assert len(log) == 1 + 8  # the checksum list + 8 files
    log.clear()
    download_database("mitbih", dest, base_url=url, progress=False)
    assert _paths(log) == ["/mitdb/1.0.0/SHA256SUMS.txt"]
    (dest / "101.dat").unlink()
    log.clear()
    download_database("mitbih", dest, base_url=url, progress=False)
    assert _paths(log) == ["/mitdb/1.0.0/101.dat", "/mitdb/1.0.0/SHA256SUMS.txt"]


def test_files_already_there_are_hashed_not_refetched(server, tmp_path):
    url, log, tree = server
    dest = tmp_path / "mitdb"
    dest.mkdir()
    (dest / "100.dat").write_bytes((tree / MITDB / "100.dat").read_bytes())  # copied by hand: good
    (dest / "101.dat").write_bytes(b"stale")  # wrong content: fetched again
    download_database("mitbih", dest, base_url=url, progress=False)
    fetched = _paths(log)
    assert "/mitdb/1.0.0/100.dat" not in fetched and "/mitdb/1.0.0/101.dat" in fetched
    assert _sha(dest / "101.dat") == _sha(tree / MITDB / "101.dat")


def test_partial_file_is_resumed_with_a_range_request(server, tmp_path):
    url, log, tree = server
    dest = tmp_path / "mitdb"
    dest.mkdir()
    full = (tree / MITDB / "100.dat").read_bytes()
    (dest / "100.dat.part").write_bytes(full[:5000])
    download_database("mitbih", dest, base_url=url, progress=False)
    assert ("/mitdb/1.0.0/100.dat", "bytes=5000-") in log
    assert (dest / "100.dat").read_bytes() == full
    assert not list(dest.glob("*.part"))


def test_checksum_mismatch_deletes_the_file_and_raises(server, tmp_path):
    url, _, tree = server
    bad = tree / MITDB / "101.atr"
    bad.write_bytes(bad.read_bytes() + b"\x00")  # the server copy no longer matches SHA256SUMS.txt
    dest = tmp_path / "mitdb"
    with pytest.raises(ChecksumError, match=r"101\.atr"):
        download_database("mitbih", dest, base_url=url, progress=False)
    assert not (dest / "101.atr").exists() and not (dest / "101.atr.part").exists()
    assert (dest / "100.atr").is_file()  # the good files are kept


def test_corrupt_partial_file_fails_the_check_then_a_retry_succeeds(server, tmp_path):
    url, _, tree = server
    dest = tmp_path / "mitdb"
    dest.mkdir()
    (dest / "100.dat.part").write_bytes(b"garbage!" * 100)
    with pytest.raises(ChecksumError, match=r"100\.dat"):
        download_database("mitbih", dest, base_url=url, progress=False)
    assert not (dest / "100.dat.part").exists()
    download_database("mitbih", dest, base_url=url, progress=False)
    assert _sha(dest / "100.dat") == _sha(tree / MITDB / "100.dat")


@pytest.mark.parametrize("entry", ["../evil.dat", "/etc/evil.dat", "sub/../../evil.dat", "C:/evil.dat",
                                   "sub\\..\\evil.dat"])
def test_traversal_entries_reject_the_whole_index(server, tmp_path, entry):
    url, log, tree = server
    _write_sums(tree / MITDB, extra=[f"{'0' * 64}  {entry}"])
    dest = tmp_path / "out" / "mitdb"
    with pytest.raises(ValueError, match="Refusing remote path"):
        download_database("mitbih", dest, base_url=url, progress=False)
    assert _paths(log) == ["/mitdb/1.0.0/SHA256SUMS.txt"]  # nothing downloaded
    assert not (tmp_path / "out" / "evil.dat").exists() and not (tmp_path / "evil.dat").exists()


def test_safe_relpath_accepts_plain_relative_paths():
    assert safe_relpath("records500/00000/00001_hr.dat") == "records500/00000/00001_hr.dat"
    for bad in ["", "a//b", "./a", "a/.", "..", "/a"]:
        with pytest.raises(ValueError):
            safe_relpath(bad)


@pytest.mark.parametrize("fs, other", [(100, 500), (500, 100)])
def test_ptbxl_fetches_one_sampling_rate_only(server, tmp_path, fs, other):
    url, _, tree = server
    db = make_ptbxl_tree(tree / "ptb-xl" / "1.0.3", [{"NORM": 100.0}, {"IMI": 50.0}], rates=(100, 500),
                         n_leads=2, duration_s=1.0)
    (db / "RECORDS").write_text("records100/00000/00001_lr\nrecords500/00000/00001_hr\n")
    _write_sums(db)
    dest = download_database("ptbxl", tmp_path / "ptbxl", fs=fs, base_url=url, progress=False)
    assert (dest / "ptbxl_database.csv").is_file() and (dest / "scp_statements.csv").is_file()
    assert len(list((dest / f"records{fs}").rglob("*.dat"))) == 2
    assert not (dest / f"records{other}").exists()
    with pytest.raises(ValueError, match="fs"):
        download_database("ptbxl", tmp_path / "x", fs=250, base_url=url, progress=False)


def test_records_subset_and_unknown_records(server, tmp_path):
    url, _, _ = server
    dest = download_database("mitbih", tmp_path / "m", base_url=url, records=[101], progress=False)
    assert sorted(p.name for p in dest.glob("1*")) == ["101.atr", "101.dat", "101.hea"]
    with pytest.raises(ValueError, match="233"):
        download_database("mitbih", tmp_path / "m", base_url=url, records=["233"], progress=False)


def test_without_sha256sums_it_falls_back_to_records_and_warns(server, tmp_path):
    url, _, tree = server
    (tree / MITDB / "SHA256SUMS.txt").unlink()
    with pytest.warns(UserWarning, match="without verification"):
        dest = download_database("mitbih", tmp_path / "m", base_url=url, progress=False)
    assert sorted(p.name for p in dest.glob("10*")) == [f"{r}.{e}" for r in ("100", "101")
                                                         for e in ("atr", "dat", "hea")]


def test_base_url_comes_from_argument_then_env_then_wfdb(server, tmp_path, monkeypatch):
    url, log, _ = server
    monkeypatch.delenv(ENV_URL, raising=False)
    assert resolve_base_url() == "https://physionet.org/files/"
    monkeypatch.setenv(ENV_URL, url.rstrip("/"))
    assert resolve_base_url() == url
    assert resolve_base_url("http://mirror.example/files") == "http://mirror.example/files/"
    download_database("mitbih", tmp_path / "m", progress=False)  # env var: served locally
    assert log and log[0][0] == "/mitdb/1.0.0/SHA256SUMS.txt"
    with pytest.raises(ValueError, match="http"):
        resolve_base_url("ftp://x")


def test_unreachable_server_says_what_to_check(tmp_path):
    with pytest.raises(RuntimeError, match="base_url"):
        download_database("mitbih", tmp_path / "m", base_url="http://127.0.0.1:9/", progress=False,
                          timeout=2)
