"""Untrusted files: crafted checkpoints and caches run no code; downloads stay inside their folder.

Users share checkpoints, caches and downloaded databases on lab machines and Colab. What is checked:

* a checkpoint whose unpickling would run code (``__reduce__`` -> ``open(marker, "w")`` or
  ``os.system("touch marker")``), in torch's zip format, its legacy format, or as a plain pickle,
  is refused by ``load_checkpoint`` and by ``train(..., resume=True)``, and the marker file is
  never created;
* a cache whose ``.npy`` / ``.npz`` files hold object arrays (with the same payload, and a
  manifest forged to match their sizes) is refused and rebuilt; the marker is never created;
* downloads: symlinks planted in the target folder (a ``.part`` file, the checksum list, the
  ledger, a record file, a sub-folder) never make the downloader write outside it; index entries
  with ``..``, backslashes, drive letters, NUL or URL-encoded dots never escape it; a
  non-UTF-8 or garbled index and a short (cut-off) transfer give clear errors and keep nothing bad.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from fixtures_wfdb import make_ptbxl_tree
from hypothesis import given, settings
from hypothesis import strategies as st
from test_download import MITDB, _Handler, _make_mitdb, _write_sums

from erts_kit.training.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint
from erts_kit.data.cache import CacheInvalid, cache_folder, cached, load_cache
from erts_kit.data.dataset import ECGData
from erts_kit.data.download import ChecksumError, _parse_sums, download_database, safe_relpath
from erts_kit.models import build_model
from erts_kit.training import TrainConfig, train


class OpenMarker:
    """Unpickling this object creates ``marker`` (what an attacker's payload would do, harmlessly)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class SystemMarker(OpenMarker):
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _payloads(marker: Path):
    return [OpenMarker(marker), SystemMarker(marker)]


# --------------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------------
def _write_evil_checkpoint(path: Path, payload, how: str) -> None:
    state = {"format": FORMAT, "version": VERSION, "epoch": 0, "model": {"w": torch.ones(2)}, "x": payload}
    if how == "zip":
        torch.save(state, path)
    elif how == "legacy":
        torch.save(state, path, _use_new_zipfile_serialization=False)
    else:  # a plain pickle renamed .pt
        path.write_bytes(pickle.dumps(state))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the plain-pickle case
@pytest.mark.parametrize("how", ["zip", "legacy", "pickle"])
@pytest.mark.parametrize("kind", [0, 1], ids=["open", "os.system"])
def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, how, kind):
    marker = tmp_path / "PWNED"
    path = tmp_path / "last.pt"
    _write_evil_checkpoint(path, _payloads(marker)[kind], how)
    assert not marker.exists()
    with pytest.raises(ValueError, match="last.pt") as info:
        load_checkpoint(path)
    assert type(info.value) is ValueError
    assert not marker.exists(), "loading the checkpoint ran the payload"


def _tiny_data() -> ECGData:
    x = np.random.default_rng(0).standard_normal((24, 1, 64)).astype("float32")
    return ECGData(x, np.arange(24) % 2, ["a", "b"], fs=64, splits={"train": range(16), "val": range(16, 24)})


def test_resume_from_a_crafted_last_pt_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    run_dir = tmp_path / "run"
    train(build_model("small_cnn", 1, 2), _tiny_data(), config=TrainConfig(epochs=1), run_dir=run_dir, progress=False)
    good = load_checkpoint(run_dir / "last.pt")
    torch.save({**good, "rng": {**good["rng"], "evil": OpenMarker(marker)}}, run_dir / "last.pt")
    with pytest.raises(ValueError, match="Refusing to load .*last.pt"):
        train(build_model("small_cnn", 1, 2), _tiny_data(), config=TrainConfig(epochs=2), run_dir=run_dir,
              progress=False, resume=True)
    assert not marker.exists()


def test_a_checkpoint_of_plain_tensors_still_loads(tmp_path):
    """The guard refuses objects, not tensors: a kit checkpoint with every field type round-trips."""
    state = {"model": {"w": torch.arange(3.0)}, "n": 3, "s": "x", "t": (1, 2), "l": [1.5], "none": None}
    back = load_checkpoint(save_checkpoint(tmp_path / "ok.pt", state))
    assert back["model"]["w"].tolist() == [0.0, 1.0, 2.0] and back["t"] == (1, 2) and back["none"] is None


# --------------------------------------------------------------------------------------------------
# caches
# --------------------------------------------------------------------------------------------------
KEY = {"reader": "demo", "v": 1}


def _data() -> ECGData:
    x = np.arange(3 * 2 * 8, dtype=np.float32).reshape(3, 2, 8)
    return ECGData(x, [0, 1, 0], ["a", "b"], fs=100, splits={"train": [0, 1], "val": [2]},
                   evidence_mask=np.ones((3, 8), bool))


def _forge(folder: Path, name: str, payload) -> None:
    """Replace one array file by an object array holding ``payload``; forge the manifest to match."""
    obj = np.array([payload, 1], dtype=object)
    if name.endswith(".npz"):
        np.savez(folder / name, train=obj)
    else:
        np.save(folder / name, obj, allow_pickle=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = (folder / name).stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["signals.npy", "labels.npy", "splits.npz", "evidence_mask.npy"])
def test_cache_with_object_arrays_is_refused_rebuilt_and_runs_nothing(tmp_path, name):
    marker = tmp_path / "PWNED"
    cdir = tmp_path / "cache"
    cached(_data, cdir, KEY)
    folder = cache_folder(cdir, KEY)
    _forge(folder, name, OpenMarker(marker))
    with pytest.raises(CacheInvalid, match="allow_pickle|Object arrays|Python objects"):
        load_cache(folder, KEY)
    calls = []

    def build():
        calls.append(1)
        return _data()

    with pytest.warns(UserWarning, match="corrupt"):
        back = cached(build, cdir, KEY)
    assert calls == [1] and np.array_equal(back.signals, _data().signals)
    assert back.split("train").tolist() == [0, 1]
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# downloads
# --------------------------------------------------------------------------------------------------
class _CutHandler(_Handler):
    """Serves files; while ``cut`` holds a file name, announces its full length but sends half of it."""

    cut: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # http.server's method name
        path = Path(self.translate_path(self.path))
        if path.name in self.cut and path.is_file():
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """(base_url, request log, served folder, list of file names to cut off) over a fake PhysioNet tree."""
    tree = tmp_path / "physionet"
    _make_mitdb(tree / MITDB)
    log: list = []
    cut: ClassVar[list[str]] = []
    handler = type("H", (_CutHandler,), {"log": log, "cut": cut})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(tree)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", log, tree, cut
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _outside_files(tmp_path: Path, dest: Path) -> set[Path]:
    """Every file under tmp_path that is neither in dest nor in the served tree."""
    return {p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(tmp_path / "physionet")
            and not p.is_relative_to(dest)}


@pytest.mark.parametrize("link", ["100.dat.part", "SHA256SUMS.txt", ".erts_kit_download.json.part"])
def test_symlinks_planted_in_dest_are_never_written_through(server, tmp_path, link):
    url, _, tree, _ = server
    dest = tmp_path / "mitdb"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    absent = tmp_path / "absent.txt"  # a link to a file that does not exist yet must not create it
    os.symlink(victim, dest / link)
    os.symlink(absent, dest / "101.dat.part")
    before = _outside_files(tmp_path, dest)
    download_database("mitbih", dest, base_url=url, progress=False)
    assert victim.read_text() == "precious"
    assert not absent.exists()
    assert _outside_files(tmp_path, dest) == before
    for rel in ("100.dat", "101.dat", "SHA256SUMS.txt"):
        assert not (dest / rel).is_symlink() and _sha(dest / rel) == _sha(tree / MITDB / rel)


def test_a_record_file_linked_outside_is_refused(server, tmp_path):
    url, log, _, _ = server
    dest = tmp_path / "mitdb"
    dest.mkdir()
    victim = tmp_path / "victim.dat"
    victim.write_text("precious")
    os.symlink(victim, dest / "100.dat")
    with pytest.raises(ValueError, match="100.dat.*resolves outside"):
        download_database("mitbih", dest, base_url=url, progress=False)
    assert victim.read_text() == "precious"
    assert [p for p, _ in log] == ["/mitdb/1.0.0/SHA256SUMS.txt"]


def test_a_subfolder_linked_outside_is_refused(server, tmp_path):
    url, _, tree, _ = server
    db = make_ptbxl_tree(tree / "ptb-xl" / "1.0.3", [{"NORM": 100.0}], n_leads=2, duration_s=1.0)
    _write_sums(db)
    dest = tmp_path / "ptbxl"
    dest.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, dest / "records100")
    with pytest.raises(ValueError, match="records100/.*resolves outside"):
        download_database("ptbxl", dest, base_url=url, progress=False)
    assert not any(elsewhere.iterdir())


# entries that must be refused, and odd-looking ones that are legal names INSIDE dest
REFUSED = ["../evil.dat", "..\\evil.dat", "sub\\..\\..\\evil.dat", "\\\\server\\share\\evil.dat", "C:evil.dat",
           "C:\\evil.dat", "/abs/evil.dat", "a\x00/../../evil.dat", "..", "./../evil.dat", "records100/../../evil.dat"]
INSIDE = ["%2e%2e%2fevil.dat", "%2E%2E/evil.dat", "..%2fevil.dat", "\u2024\u2024/evil.dat", "\uff0e\uff0e/evil.dat",
          "...dat"]


@pytest.mark.parametrize("entry", REFUSED)
def test_escaping_index_entries_are_refused(entry):
    with pytest.raises(ValueError, match="Refusing remote path"):
        safe_relpath(entry)


@pytest.mark.parametrize("entry", INSIDE)
def test_url_encoded_and_lookalike_dots_stay_literal_names_inside_dest(tmp_path, entry):
    rel = safe_relpath(entry)
    assert (tmp_path / rel).resolve().is_relative_to(tmp_path.resolve())


def test_url_encoded_dots_are_downloaded_as_literal_names(server, tmp_path):
    url, log, tree, _ = server
    db = tree / MITDB
    (db / "%2e%2e%2fevil.dat").write_bytes(b"x" * 10)  # a file literally named so on the server
    _write_sums(db)
    dest = tmp_path / "out" / "mitdb"
    download_database("mitbih", dest, base_url=url, progress=False)
    assert (dest / "%2e%2e%2fevil.dat").read_bytes() == b"x" * 10
    assert not (tmp_path / "out" / "evil.dat").exists() and not (tmp_path / "evil.dat").exists()
    assert "/mitdb/1.0.0/%252e%252e%252fevil.dat" in [p for p, _ in log]  # sent encoded, not decoded


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(entry=st.text(st.sampled_from(list("./\\:%2eE\x00a")), max_size=12))
def test_any_accepted_entry_stays_inside_dest(entry):
    dest = Path("/srv/data/dest")
    try:
        rel = safe_relpath(entry)
    except ValueError:
        return
    assert os.path.normpath(dest / rel).startswith(str(dest) + os.sep)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(text=st.one_of(st.text(max_size=200),
                      st.lists(st.tuples(st.text("0123456789abcdefABCDEF", min_size=60, max_size=66),
                                         st.text(max_size=20)), max_size=4)
                      .map(lambda rows: "\n".join(f"{h}  {p}" for h, p in rows))))
def test_garbled_checksum_lists_are_refused_or_parsed_safely(text):
    try:
        sums = _parse_sums(text)
    except ValueError as exc:
        assert type(exc) is ValueError and ("SHA256SUMS.txt" in str(exc) or "Refusing remote path" in str(exc))
        return
    for rel, digest in sums.items():
        assert safe_relpath(rel) == rel and len(digest) == 64


def test_a_non_utf8_checksum_list_is_a_clear_error(server, tmp_path):
    url, _, tree, _ = server
    (tree / MITDB / "SHA256SUMS.txt").write_bytes(b"\xff\xfe\x00\x01 not text")
    dest = tmp_path / "mitdb"
    with pytest.raises(ValueError, match="SHA256SUMS.txt") as info:
        download_database("mitbih", dest, base_url=url, progress=False)
    assert type(info.value) is ValueError
    assert sorted(p.name for p in dest.iterdir()) == []


def test_a_cut_off_transfer_is_never_taken_for_the_file(server, tmp_path):
    url, _, tree, cut = server
    cut.append("100.dat")
    dest = tmp_path / "mitdb"
    with pytest.raises((RuntimeError, ChecksumError), match="100.dat"):
        download_database("mitbih", dest, base_url=url, progress=False, timeout=10)
    assert not (dest / "100.dat").exists()  # only ever a .part until its hash matches
    cut.clear()
    download_database("mitbih", dest, base_url=url, progress=False)
    assert _sha(dest / "100.dat") == _sha(tree / MITDB / "100.dat")


def test_a_longer_server_copy_fails_its_hash_and_is_deleted(server, tmp_path):
    url, _, tree, _ = server
    f = tree / MITDB / "100.hea"
    f.write_bytes(f.read_bytes() + b"# appended by someone\n")
    dest = tmp_path / "mitdb"
    with pytest.raises(ChecksumError, match=r"100\.hea.*deleted|deleted.*100\.hea"):
        download_database("mitbih", dest, base_url=url, progress=False)
    assert not (dest / "100.hea").exists() and not (dest / "100.hea.part").exists()


if sys.platform == "win32":  # pragma: no cover - symlinks need privileges there
    pytestmark = pytest.mark.skip(reason="symlink tests need POSIX")
