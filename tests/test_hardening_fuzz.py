"""Fuzzing the real-database readers with malformed files (hypothesis, bounded, deterministic).

Every reader input a user can get wrong or download damaged is fuzzed: WFDB headers (record line,
signal lines, random bytes), truncated ``.dat`` signal files, MIT-BIH ``.atr`` annotation files,
CinC 2020 ``#Dx:`` lines, PTB-XL's ``ptbxl_database.csv`` / ``scp_statements.csv`` (random bytes,
garbled text, bad cells) and ``scp_codes`` strings (including ones that would run code under
``eval``). The contract checked for every example:

* the reader returns data of the expected shape, **or** raises one of the documented exception
  types (exactly ``ValueError``, ``RecordReadError``, ``FileNotFoundError``; not a subclass such as
  pandas' ``ParserError`` or ``UnicodeDecodeError`` leaking out) whose message names the file or
  record;
* never a bare ``IndexError`` / ``KeyError`` / ``TypeError`` / ``struct.error`` ...;
* never a hang: each example runs under a hard 10 s timer (a ``BaseException``, so a reader's
  ``except Exception`` cannot swallow it) and the slowest example is reported.

Outcomes are counted per category and printed when the module finishes (``pytest -rA`` or ``-s``
shows them); ``docs/reliability.md`` cites these counts. Examples are derandomized, so the counts
are the same on every run.
"""
from __future__ import annotations

import json
import os
import signal
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from fixtures_wfdb import make_cinc_tree, make_ptbxl_tree, write_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erts_kit.data._wfdb_io import RecordReadError, read_record
from erts_kit.data.cinc import load_cinc2020, parse_dx
from erts_kit.data.mitbih import load_mitbih
from erts_kit.data.ptbxl import load_ptbxl, parse_scp_codes

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX timers for the hang guard")

ALLOWED = (ValueError, RecordReadError, FileNotFoundError)  # compared by exact type
EXAMPLE_TIMEOUT_S = 10.0
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

OUTCOMES: dict[str, Counter] = defaultdict(Counter)
SLOWEST: dict[str, float] = defaultdict(float)


class Hang(BaseException):
    """Raised by the hard per-example timer (BaseException: no reader can catch it by accident)."""


def _alarm(signum, frame):  # signal handler signature
    raise Hang(f"example ran longer than {EXAMPLE_TIMEOUT_S} s")


def guarded(category: str, fn, names: tuple[str, ...]):
    """Run ``fn()`` under the hang timer; check the outcome contract; count it. Returns fn's result or None."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, EXAMPLE_TIMEOUT_S)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn()
    except Hang:
        OUTCOMES[category]["HANG"] += 1
        raise
    except Exception as exc:  # the point is to classify whatever comes out
        msg = str(exc)
        if type(exc) not in ALLOWED:
            OUTCOMES[category][f"BARE {type(exc).__name__}"] += 1
            raise AssertionError(f"{category}: undocumented {type(exc).__name__}: {msg[:300]}") from exc
        if not any(n in msg for n in names):
            OUTCOMES[category]["error without file name"] += 1
            raise AssertionError(f"{category}: {type(exc).__name__} does not name any of {names}: {msg[:300]}")
        OUTCOMES[category][f"clear {type(exc).__name__}"] += 1
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        SLOWEST[category] = max(SLOWEST[category], time.perf_counter() - t0)
    OUTCOMES[category]["loaded"] += 1
    return result


@pytest.fixture(scope="module", autouse=True)
def _report():
    """Print the per-category outcome counts when the module is done (visible with -rA / -s)."""
    yield
    lines = ["", "hardening fuzz outcomes (category: examples; outcome counts; slowest example):"]
    total = 0
    for cat in sorted(OUTCOMES):
        n = sum(OUTCOMES[cat].values())
        total += n
        detail = ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES[cat].items()))
        lines.append(f"  {cat}: {n}; {detail}; {SLOWEST[cat]:.2f} s")
    lines.append(f"  TOTAL examples: {total}")
    print("\n".join(lines))
    out = os.environ.get("ERTS_KIT_HARDENING_REPORT")
    if out:
        Path(out).write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------------
_line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=12)
_number_ish = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e308", "1e-308", "", "0x10", "1/0", "12abc"]),
    _line_text,
)


def _field(valid: str):
    """Mostly the valid value, often a number-ish or garbage replacement."""
    return st.one_of(st.just(valid), _number_ish)


@st.composite
def header_text(draw, name: str, n_sig: int, fs: int, n: int, dat: str) -> str:
    """A WFDB header whose fields are each kept or fuzzed (sometimes dropped or duplicated)."""
    record = [draw(_field(name)), draw(_field(str(n_sig))), draw(_field(str(fs))), draw(_field(str(n)))]
    if draw(st.booleans()):
        record = record[: draw(st.integers(0, 4))]
    lines = [" ".join(record)]
    for i in range(draw(st.integers(0, n_sig + 2))):
        fields = [draw(st.one_of(st.just(dat), st.sampled_from(["../x.dat", "missing.dat", "", dat * 3]),
                                 _line_text)),
                  draw(_field("16")), draw(_field("1000.0(0)/mV")), draw(_field("16")), draw(_field("0")),
                  draw(_field("0")), draw(_field("0")), draw(_field("0")), f"L{i}"]
        lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"


_any_bytes = st.one_of(st.binary(max_size=400), st.text(max_size=300).map(lambda s: s.encode("utf-8", "replace")))


# --------------------------------------------------------------------------------------------------
# WFDB records: headers, random bytes, truncated signal files
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """A 2-lead, 1000-sample WFDB record (header text, .dat bytes) to damage and restore."""
    folder = tmp_path_factory.mktemp("wfdb")
    rng = np.random.default_rng(0)
    path = write_record(folder, "r1", rng.normal(size=(1000, 2)), fs=100)
    return path, (folder / "r1.hea").read_text(), (folder / "r1.dat").read_bytes()


def _read(path: Path):
    rec = read_record(path)
    assert rec.p_signal.ndim == 2 and np.isfinite(rec.p_signal).any()
    return rec


@FUZZ
@given(data=st.data())
def test_fuzzed_header_fields(record, data):
    path, hea, _ = record
    text = data.draw(header_text("r1", 2, 100, 1000, "r1.dat"))
    try:
        path.with_suffix(".hea").write_text(text)
        guarded("WFDB header fields", lambda: _read(path), (str(path),))
    finally:
        path.with_suffix(".hea").write_text(hea)


@FUZZ
@given(raw=_any_bytes)
def test_random_bytes_as_header(record, raw):
    path, hea, _ = record
    try:
        path.with_suffix(".hea").write_bytes(raw)
        guarded("WFDB header random bytes", lambda: _read(path), (str(path),))
    finally:
        path.with_suffix(".hea").write_text(hea)


@FUZZ
@given(cut=st.integers(0, 3999), junk=st.binary(max_size=64))
def test_truncated_or_padded_dat(record, cut, junk):
    path, _, dat = record
    dat_path = path.with_suffix(".dat")
    try:
        dat_path.write_bytes(dat[:cut] + junk)
        guarded("WFDB truncated .dat", lambda: _read(path), (str(path),))
    finally:
        dat_path.write_bytes(dat)


# --------------------------------------------------------------------------------------------------
# PTB-XL: headers and signal files through the reader, the two CSV tables, scp_codes
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ptbxl(tmp_path_factory):
    root = make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl"), [{"NORM": 100.0}, {"IMI": 50.0}, {"LVH": 80.0}],
                           folds=[1, 9, 10], n_leads=2, duration_s=10.0)
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return root, files


def _restore(files: dict[Path, bytes]) -> None:
    for p, b in files.items():
        if p.read_bytes() != b:
            p.write_bytes(b)


def _load_ptbxl(root: Path):
    d = load_ptbxl(root, progress=False)
    assert d.signals.shape[1:] == (2, 1000) and len(d.labels) == d.signals.shape[0]
    return d


@FUZZ
@given(data=st.data())
def test_ptbxl_fuzzed_header(ptbxl, data):
    root, files = ptbxl
    hea = root / "records100/00000/00001_lr.hea"
    try:
        hea.write_text(data.draw(header_text("00001_lr", 2, 100, 1000, "00001_lr.dat")))
        guarded("PTB-XL record header", lambda: _load_ptbxl(root), ("ecg_id 1",))
    finally:
        _restore(files)


@FUZZ
@given(cut=st.integers(0, 3999))
def test_ptbxl_truncated_dat(ptbxl, cut):
    root, files = ptbxl
    dat = root / "records100/00000/00002_lr.dat"
    try:
        dat.write_bytes(files[dat][:cut])
        guarded("PTB-XL truncated .dat", lambda: _load_ptbxl(root), ("ecg_id 2",))
    finally:
        _restore(files)


HEADER_EDGE_CASES = {  # record line of 00001_lr.hea (valid: "00001_lr 2 100 1000")
    "negative length": "00001_lr 2 100 -5", "zero length": "00001_lr 2 100 0", "fewer samples": "00001_lr 2 100 10",
    "more samples than the .dat": "00001_lr 2 100 2000", "huge length": "00001_lr 2 100 99999999999999",
    "1 lead declared, 2 lines": "00001_lr 1 100 1000", "3 leads declared, 2 lines": "00001_lr 3 100 1000",
    "0 leads": "00001_lr 0 100 1000", "fs 0": "00001_lr 2 0 1000", "fs 500": "00001_lr 2 500 1000",
    "fs negative": "00001_lr 2 -100 1000", "fs text": "00001_lr 2 fast 1000", "fs nan": "00001_lr 2 nan 1000",
    "record line only": "00001_lr", "other record name": "99999_lr 2 100 1000",
}


@pytest.mark.parametrize("case", list(HEADER_EDGE_CASES))
def test_ptbxl_header_edge_cases(ptbxl, case):
    root, files = ptbxl
    hea = root / "records100/00000/00001_lr.hea"
    try:
        lines = files[hea].decode().splitlines()
        hea.write_text("\n".join([HEADER_EDGE_CASES[case]] + lines[1:]) + "\n")
        d = guarded("PTB-XL header edge cases", lambda: _load_ptbxl(root), ("ecg_id 1",))
        if d is not None:  # loaded: then record 1 must hold exactly what its .dat holds
            assert d.signals.shape == (3, 2, 1000) and d.meta["ecg_id"].tolist() == [1, 2, 3]
    finally:
        _restore(files)


_csv_garbage = st.one_of(
    st.just(b""), st.just(b"\n\n"), st.just(b"\xff\xfe\x00"), _any_bytes,
    st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20), max_size=6)
    .map(lambda cells: ",".join(cells).encode()),
    st.just(b'ecg_id,scp_codes\n1,"unterminated'),
)


@FUZZ
@given(raw=_csv_garbage, which=st.sampled_from(["ptbxl_database.csv", "scp_statements.csv"]))
def test_ptbxl_garbled_tables(ptbxl, raw, which):
    root, files = ptbxl
    try:
        (root / which).write_bytes(raw)
        guarded(f"PTB-XL garbled {which}", lambda: _load_ptbxl(root), (which,))
    finally:
        _restore(files)


_cell = st.one_of(st.text(max_size=30), st.integers(-10**20, 10**20).map(str), st.floats().map(repr),
                  st.sampled_from(["", "nan", "None", "{}", "[]", "{'NORM': [1]}", "{'NORM': None}", "{'NORM': 1j}",
                                   "{'NORM': 'x'}", "{1: 2}", "{'NORM': 1e999}", "9" * 5000,
                                   "../../../../etc/passwd", "/etc/passwd", "records100/00000/00002_lr"]))


@FUZZ
@given(column=st.sampled_from(["ecg_id", "scp_codes", "strat_fold", "filename_lr", "patient_id"]),
       row=st.integers(0, 2), value=_cell)
def test_ptbxl_bad_cells(ptbxl, column, row, value):
    root, files = ptbxl
    db_path = root / "ptbxl_database.csv"
    try:
        df = pd.read_csv(db_path, dtype=str)
        df.loc[row, column] = value
        df.to_csv(db_path, index=False)
        guarded(f"PTB-XL bad cell ({column})", lambda: _load_ptbxl(root), ("ptbxl_database.csv", "ecg_id"))
    finally:
        _restore(files)


DANGEROUS_SCP = [
    "__import__('os').system('touch {marker}')",
    "{'NORM': __import__('os').system('touch {marker}')}",
    "(lambda: open('{marker}', 'w'))()",
    "{'NORM': open('{marker}', 'w')}",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "f\"{open('{marker}', 'w')}\"",
    "exec(\"open('{marker}', 'w')\")",
    "{'NORM': 100.0, **__import__('builtins').__dict__}",
]


@FUZZ
@given(text=st.one_of(st.text(max_size=60), st.sampled_from(DANGEROUS_SCP),
                      st.dictionaries(st.text(max_size=5), st.one_of(st.floats(), st.integers(), st.text(max_size=3),
                                                                     st.none()), max_size=4).map(repr)))
def test_scp_codes_strings_never_execute(tmp_path_factory, text):
    marker = tmp_path_factory.getbasetemp() / "scp_marker"
    text = text.replace("{marker}", str(marker))

    def parse():
        codes = parse_scp_codes(text)
        assert all(isinstance(k, str) and isinstance(v, float) for k, v in codes.items())
        return codes

    guarded("scp_codes strings", parse, ("scp_codes",))
    assert not marker.exists(), f"parsing {text!r} ran code"


@pytest.mark.parametrize("text", DANGEROUS_SCP)
def test_dangerous_scp_codes_in_the_table_run_nothing(ptbxl, tmp_path, text):
    root, files = ptbxl
    marker = tmp_path / "marker"
    db_path = root / "ptbxl_database.csv"
    try:
        df = pd.read_csv(db_path, dtype=str)
        df.loc[0, "scp_codes"] = text.replace("{marker}", str(marker))
        df.to_csv(db_path, index=False)
        with pytest.raises(RecordReadError, match="ecg_id 1.*scp_codes"):
            load_ptbxl(root, progress=False)
        with pytest.warns(UserWarning, match="skipped 1 record"):
            d = load_ptbxl(root, progress=False, on_error="skip")
        assert d.meta["ecg_id"].tolist() == [2, 3] and d.meta.attrs["skipped"][0]["record"].startswith("ecg_id 1")
    finally:
        _restore(files)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# CinC 2020: Dx lines and headers
# --------------------------------------------------------------------------------------------------
_dx_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.integers(-5, 10**30).map(str), st.text("0123456789 ,;.-+e\u0661\u0662", max_size=8)),
             max_size=5).map(",".join),
    st.just("9" * 5000), st.just("\u0661\u0662\u0663"), st.just("1" * 19),
)


@FUZZ
@given(dx=_dx_text, prefix=st.sampled_from(["Dx: ", "#Dx:", "dx :", " Dx: "]))
def test_cinc_dx_line(dx, prefix):
    def parse():
        codes = parse_dx(["Age: 50", prefix + dx], "A0001 (A0001.hea)")
        assert codes and all(isinstance(c, int) and 0 <= c < 2**63 for c in codes)
        return codes

    guarded("CinC #Dx: line", parse, ("A0001",))


@pytest.fixture(scope="module")
def cinc(tmp_path_factory):
    root = make_cinc_tree(tmp_path_factory.mktemp("cinc"), ["426783006", "164889003", "59118001", "426783006"], n_leads=2,
                          n_samples=600)
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return root, files


@FUZZ
@given(data=st.data())
def test_cinc_fuzzed_header(cinc, data):
    root, files = cinc
    hea = root / "A0002.hea"
    try:
        original = files[hea].decode()
        lines = original.splitlines()
        kind = data.draw(st.sampled_from(["fields", "dx", "bytes", "mat"]))
        if kind == "fields":
            fuzzed = data.draw(header_text("A0002", 2, 500, 600, "A0002.mat")).splitlines()
            hea.write_text("\n".join(fuzzed + [c for c in lines if c.startswith("#")]) + "\n")
        elif kind == "dx":
            hea.write_text(original.replace("#Dx: 164889003", "#Dx: " + data.draw(_dx_text).replace("\n", " ")))
        elif kind == "bytes":
            hea.write_bytes(data.draw(_any_bytes))
        else:
            mat = root / "A0002.mat"
            mat.write_bytes(files[mat][: data.draw(st.integers(0, len(files[mat]) - 1))])
        guarded("CinC record", lambda: load_cinc2020(root, n_timesteps=500, progress=False), ("A0002",))
    finally:
        _restore(files)


# --------------------------------------------------------------------------------------------------
# MIT-BIH: annotation files and headers
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mitdb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mitdb")
    t = np.arange(3600) / 360.0
    write_record(folder, "100", np.column_stack([np.sin(7 * t), np.cos(5 * t)]), fs=360, sig_names=["MLII", "V1"])
    wfdb.wrann("100", "atr", np.array([400, 800, 1200, 2000]), symbol=["N", "A", "V", "N"], write_dir=str(folder))
    files = {p: p.read_bytes() for p in folder.iterdir()}
    return folder, files


@FUZZ
@given(data=st.data())
def test_mitbih_fuzzed_annotations_and_header(mitdb, data):
    folder, files = mitdb
    atr, hea = folder / "100.atr", folder / "100.hea"
    try:
        kind = data.draw(st.sampled_from(["atr bytes", "atr cut", "header"]))
        if kind == "atr bytes":
            atr.write_bytes(data.draw(st.binary(max_size=300)))
        elif kind == "atr cut":
            atr.write_bytes(files[atr][: data.draw(st.integers(0, len(files[atr]) - 1))])
        else:
            hea.write_text(data.draw(header_text("100", 2, 360, 3600, "100.dat")).replace("L0", "MLII"))

        def load():
            d = load_mitbih(folder, records=["100"], window_s=0.5)
            assert d.signals.shape[1:] == (1, round(0.5 * d.fs)) and d.fs > 0
            return d

        guarded(f"MIT-BIH {kind.split()[0]}", load, ("'100'", "100 "))
    finally:
        _restore(files)


# --------------------------------------------------------------------------------------------------
# regressions found by the fuzzing above (each failed before its fix)
# --------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Cannot stratify")  # 3 records left: too few to stratify, expected
@pytest.mark.parametrize("fs_field", ["0", "0.0"])
def test_header_with_an_unusable_sampling_rate_names_the_record(mitdb, cinc, fs_field):
    folder, files = mitdb
    hea = folder / "100.hea"
    try:
        hea.write_text(files[hea].decode().replace("100 2 360 3600", f"100 2 {fs_field} 3600", 1))
        with pytest.raises(RecordReadError, match=r"'100'.*sampling rate"):
            load_mitbih(folder, records=["100"], window_s=0.5)
    finally:
        _restore(files)
    root, cfiles = cinc
    hea = root / "A0001.hea"  # the FIRST record: it must not become the reference the good ones are blamed against
    try:
        hea.write_text(cfiles[hea].decode().replace("A0001 2 500 600", f"A0001 2 {fs_field} 600", 1))
        with pytest.raises(RecordReadError, match=r"A0001.*sampling rate"):
            load_cinc2020(root, n_timesteps=500, progress=False)
        with pytest.warns(UserWarning, match="skipped 1 record"):
            d = load_cinc2020(root, n_timesteps=500, progress=False, on_error="skip")
        assert d.fs == 500 and d.meta["record"].tolist() == ["A0002", "A0003", "A0004"]
    finally:
        _restore(cfiles)


@pytest.mark.parametrize("dx", ["9" * 5000, "\u0661\u0662\u0663", "1" * 19])
def test_dx_codes_that_are_not_snomed_ids_are_refused_with_the_record(dx):
    with pytest.raises(RecordReadError, match="A0007.*numeric SNOMED-CT"):
        parse_dx([f"Dx: 426783006,{dx}"], "A0007")


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe\x00garbage", b'ecg_id,scp_codes\n1,"unterminated'])
@pytest.mark.parametrize("which", ["ptbxl_database.csv", "scp_statements.csv"])
def test_empty_or_garbled_tables_name_the_file(ptbxl, raw, which):
    root, files = ptbxl
    try:
        (root / which).write_bytes(raw)
        with pytest.raises(ValueError, match=which) as info:
            load_ptbxl(root, progress=False)
        assert type(info.value) is ValueError
    finally:
        _restore(files)


@pytest.mark.parametrize("column, value, match", [("ecg_id", "", "integer ecg_id"), ("ecg_id", "abc", "integer ecg_id"),
                                                  ("filename_lr", "", "filename_lr path")])
def test_missing_ids_or_file_names_name_the_table(ptbxl, column, value, match):
    root, files = ptbxl
    db_path = root / "ptbxl_database.csv"
    try:
        df = pd.read_csv(db_path, dtype=str)
        df.loc[1, column] = value
        df.to_csv(db_path, index=False)
        with pytest.raises(ValueError, match=f"{match}.*ptbxl_database.csv"):
            load_ptbxl(root, progress=False)
    finally:
        _restore(files)


@pytest.mark.parametrize("text", ["{'NORM': None}", "{'NORM': [1]}", "{'NORM': ''}", "{'NORM': 1j}", "{'NORM': 'x'}"])
def test_scp_codes_with_non_numeric_likelihoods(text):
    with pytest.raises(ValueError, match="scp_codes") as info:
        parse_scp_codes(text)
    assert type(info.value) is ValueError


# --------------------------------------------------------------------------------------------------
# notebook parameters of the wrong type or range stop in the validation cell
# --------------------------------------------------------------------------------------------------
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
_HEAVY = ("load_dataset(", "make_synthetic(", "build_model(", "train(", "run_grid(", "download_database(")


def _series() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", _series(), ids=lambda p: p.stem)
def test_parameters_are_checked_before_any_work(path):
    """Static: the check_params cell comes before the first cell that loads data, builds or trains."""
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells if c["cell_type"] == "code"]
    check = [i for i, src in enumerate(code) if "check_params(" in src]
    heavy = [i for i, src in enumerate(code) if any(h in src for h in _HEAVY)]
    assert check, f"{path.name} never calls erts_kit.course.params.check_params"
    assert not heavy or check[0] < heavy[0], f"{path.name}: cell {heavy[0]} does work before the parameter check"


@pytest.mark.notebook
def test_a_wrong_papermill_parameter_fails_in_the_validation_cell(tmp_path):
    """``papermill 02_baseline.ipynb -p EPOCHS three`` stops at check_params, naming EPOCHS."""
    papermill = pytest.importorskip("papermill")
    nb = NOTEBOOK_DIR / "02_baseline.ipynb"
    if not nb.exists() or "check_params(" not in nb.read_text():
        pytest.skip("02_baseline.ipynb with a check_params cell is not there yet")
    out = tmp_path / "out.ipynb"
    t0 = time.perf_counter()
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(nb), str(out), parameters={"SMOKE": True, "EPOCHS": "three"},
                                   kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    seconds = time.perf_counter() - t0
    err = info.value
    assert err.ename == "TypeError" and "Notebook parameter EPOCHS" in err.evalue and "'three'" in err.evalue
    executed = papermill.iorw.load_notebook_node(str(out))
    cells = [c for c in executed.cells if c.cell_type == "code"]
    failing = next(i for i, c in enumerate(cells) if any(o.get("output_type") == "error" for o in c.outputs))
    assert "check_params(" in cells[failing].source
    assert all(c.get("execution_count") is None for c in cells[failing + 1:]), "cells after the check ran"
    OUTCOMES["notebook bad parameter (papermill)"][f"stopped in check cell, {err.ename}"] += 1
    SLOWEST["notebook bad parameter (papermill)"] = seconds
