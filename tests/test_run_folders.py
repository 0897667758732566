"""Output folders: one writer at a time (a lock), demo never replaces a run it did not make, and every
error the command meets as one line with the file and the fix (exit 2: bad input, 1: a failure).

Real faults where the machine allows: two real processes racing on one folder, a lock left by a
dead process, a folder made read-only with chmod 0555 (as root, the command runs with the
DAC-override capabilities dropped, so the permission bits apply to it), a read-only bind mount and
a full tmpfs (root only, in a private mount namespace).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import erts_kit.cli.commands as cli
from erts_kit._lock import LOCK_NAME, FolderLocked, lock_folder
from erts_kit.cli.commands import build_parser, main
from erts_kit.cli.errors import error_line
from erts_kit.results import plan_grid

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-samples", "60", "--epochs", "1", "--batch-size", "16", "--seeds", "0", "--device", "cpu", "--no-progress"]
XAI = ["--policies", "full", "xai_dbpd", "--warm-up", "0", "--cam-start", "0"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _cli(*argv: str, prefix: list[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("ERTS_KIT_DEBUG", None)
    return subprocess.run([*(prefix or []), sys.executable, "-m", "erts_kit.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT, check=False)


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("erts-kit: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished `compare` of full + xai_dbpd (seed 0, one epoch): copy it before damaging it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["compare", *XAI, *TINY, "--out", str(out)]) == 0
    return out


def _copy(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


# --------------------------------------------------------------------------------------------------
# the lock
# --------------------------------------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write_lock(folder: Path, **info) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    lock.write_text(json.dumps({"host": socket.gethostname(), "time": time.time(), "token": "old", **info}))
    return lock


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path, capfd):
    pid = _dead_pid()
    lock = _write_lock(tmp_path, pid=pid)
    with lock_folder(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    err = capfd.readouterr().err
    assert "taking over the stale lock" in err and str(pid) in err and str(lock) in err
    assert not lock.exists()


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path, capfd):
    lock = _write_lock(tmp_path, pid=os.getpid(), start="1")    # this pid, but a process started at tick 1
    with lock_folder(tmp_path):
        pass
    assert "taking over the stale lock" in capfd.readouterr().err
    assert not lock.exists()


def test_a_lock_of_another_host_or_a_fresh_unreadable_one_is_refused(tmp_path):
    lock = _write_lock(tmp_path, pid=1, host="other-host.example")
    with pytest.raises(FolderLocked, match=r"in use by process 1 on host 'other-host.example' \(another host"), \
            lock_folder(tmp_path):
        pass
    assert json.loads(lock.read_text())["host"] == "other-host.example"        # left alone
    lock.write_text("")                                                        # a lock being written right now
    with pytest.raises(FolderLocked, match="being locked by another process"), lock_folder(tmp_path):
        pass
    old = time.time() - 3600
    os.utime(lock, (old, old))                                                 # ... or one left half-written
    with lock_folder(tmp_path):
        pass
    assert not lock.exists()


def test_a_live_holder_refuses_the_command_before_the_data_is_loaded(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    code = ("import time; from erts_kit._lock import lock_folder\n"
            f"with lock_folder({str(out)!r}):\n    print('held', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        from erts_kit import data
        monkeypatch.setattr(data, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
        for argv in (["compare", "--policies", "full", *TINY], ["demo", "--smoke", "--no-progress"]):
            assert main([*argv, "--out", str(out)]) == 1
            line = _one_error_line(capsys.readouterr().err)
            assert f"Output folder {out} is in use by process {holder.pid} on host {socket.gethostname()!r}" in line
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]           # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_two_compares_racing_on_one_folder_never_both_train(tmp_path):
    out = tmp_path / "race"
    argv = ["compare", "--policies", "full", "--n-samples", "300", "--epochs", "3", "--batch-size", "16", "--seeds", "0",
            "--device", "cpu", "--no-progress", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "erts_kit.cli", *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    trained = [r for r in results if r[0] == 0 and "1 run(s) trained" in r[1]]
    assert len(trained) == 1, results                                     # exactly one did the work
    other = next(r for r in results if r is not trained[0])
    if other[0] == 0:                                                     # it came after the first had finished
        assert "0 run(s) trained, 1 reused" in other[1]
    else:                                                                 # it was refused while the first ran
        assert other[0] == 1 and f"Output folder {out} is in use by process" in _one_error_line(other[2])
    assert not (out / LOCK_NAME).exists()
    assert json.loads((out / "full_seed0" / "result.json").read_text())["epochs"] == 3


# --------------------------------------------------------------------------------------------------
# demo and compare never replace a run silently
# --------------------------------------------------------------------------------------------------
def test_demo_refuses_a_folder_holding_a_compare_run(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    before = (out / "full_seed0" / "result.json").read_bytes()
    assert main(["demo", "--smoke", "--out", str(out), "--no-progress"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{out / 'full_seed0'} holds a run with other settings" in line and "--overwrite" in line
    assert (out / "full_seed0" / "result.json").read_bytes() == before           # the run is still there
    assert not (out / "dbpd_seed0").exists()                                     # and nothing was trained


@pytest.mark.slow
def test_two_demos_with_other_epochs_refuse_then_overwrite_only_when_asked(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--smoke", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    results = (out / "results.csv").read_bytes()
    capsys.readouterr()
    assert main(["demo", "--smoke", "--epochs", "2", "--out", str(out), "--no-progress"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "epochs: 1 there, 2 now" in line and "--overwrite" in line
    assert (out / "results.csv").read_bytes() == results
    assert main(["demo", "--smoke", "--epochs", "2", "--out", str(out), "--no-progress", "--overwrite"]) == 0
    for run in ("full_seed0", "dbpd_seed0", "xai_dbpd_seed0"):                  # settings and results agree
        assert json.loads((out / run / "settings.json").read_text())["epochs"] == 2
        assert json.loads((out / run / "result.json").read_text())["epochs"] == 2


def test_compare_refusal_names_the_setting_and_the_flag(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    assert main(["compare", *XAI, *TINY, "--lr", "5e-4", "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "train.lr: 0.0003 there, 0.0005 now" in line and "--no-resume" in line and "resume=False" not in line


# --------------------------------------------------------------------------------------------------
# damaged files: one line naming the file, exit 2
# --------------------------------------------------------------------------------------------------
def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("name, damage", [
    ("full_seed0/settings.json", lambda p: p.write_text("{")),
    ("full_seed0/result.json", lambda p: p.write_bytes(b"")),
    ("xai_dbpd_seed0/result.json", lambda p: p.write_bytes(b"\xff\xfe garbage")),
    ("full_seed0/history.csv", lambda p: p.write_bytes(b"")),
    ("xai_dbpd_seed0/selection_log.npz", _truncate),
])
def test_a_damaged_run_file_is_one_line_naming_it_with_exit_2(finished, tmp_path, capsys, name, damage):
    out = _copy(finished, tmp_path)
    damage(out / name)
    assert main(["compare", *XAI, *TINY, "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(out / name) in line and "delete" in line.lower()


def test_a_damaged_selection_log_read_by_itself_names_the_file(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    (out / "xai_dbpd_seed0" / "selection_log.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert main(["compare", *XAI, *TINY, "--out", str(out)]) == 2
    assert "selection_log.npz" in _one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------------------------------
# folders that cannot be written
# --------------------------------------------------------------------------------------------------
def test_an_unwritable_folder_is_refused_before_the_data_is_loaded(tmp_path, monkeypatch, capsys):
    """Simulated EACCES (runs everywhere): the order of the checks, the line and the exit code."""
    import erts_kit._lock as lk
    from erts_kit import data

    def denied(path, info):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(lk, "_create", denied)
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    assert main(["compare", "--policies", "full", *TINY, "--out", str(tmp_path / "ro")]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"Cannot write to the output folder {tmp_path / 'ro'}" in line and "another --out" in line


def _no_dac_override() -> list[str]:
    """A prefix that runs a command without the permission-bypassing capabilities of root (or nothing)."""
    if not IS_ROOT:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: chmod 0555 cannot stop root here")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def test_a_chmod_0555_output_folder_is_one_line_exit_1(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for out in (ro, ro / "sub"):
            r = _cli("compare", "--policies", "full", *TINY, "--out", str(out), prefix=_no_dac_override())
            assert r.returncode == 1, r.stderr
            line = _one_error_line(r.stderr)
            assert "Permission denied" in line and str(out) in line and "another --out" in line
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def _private_mount(script: str) -> list[str]:
    if not IS_ROOT or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", script + ' && exec "$0" "$@"']


def test_a_read_only_mount_is_one_line_exit_1(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    prefix = _private_mount(f"mount --bind -o ro {ro} {ro}")
    r = _cli("compare", "--policies", "full", *TINY, "--out", str(ro), prefix=prefix)
    assert r.returncode == 1, r.stderr
    assert "Read-only file system" in _one_error_line(r.stderr) and str(ro) in r.stderr


def test_a_full_disk_while_training_is_one_line_exit_1(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    prefix = _private_mount(f"mount -t tmpfs -o size=96k tmpfs {full}")
    r = _cli("compare", "--policies", "full", *TINY, "--out", str(full), prefix=prefix)
    assert r.returncode == 1, r.stderr
    line = _one_error_line(r.stderr)
    assert "full" in line and ("No space left" in line or "unexpected pos" in line), line


# --------------------------------------------------------------------------------------------------
# configs and names
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("policies", [["xai_dbpd", "xai-dbpd"], ["DBPD", "dbpd"], [" full", "FULL"]])
def test_duplicate_policy_names_are_refused_after_normalising(policies, capsys):
    with pytest.raises(ValueError, match="Expected distinct policies"):
        plan_grid(policies, [0], "small_cnn", 4)
    assert main(["compare", "--policies", *policies, "--out", "/nonexistent/never_written"]) == 2
    assert "Expected distinct policies" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("text, key", [('seeds: "12"\n', "seeds"), ("seeds: 12\n", "seeds"),
                                       ("policies: full\n", "policies")])
def test_list_settings_in_a_config_must_be_lists(tmp_path, capsys, text, key):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    argv = ["compare", "--config", str(f)]
    with pytest.raises(ValueError, match=f"Setting '{key}' in {f} must be a list"):
        cli._settings(build_parser().parse_args(argv), cli._explicit(argv))
    assert main([*argv, "--out", "/nonexistent/never_written"]) == 2
    assert "must be a list" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("text, match", [
    ("phi: !!python/object/apply:os.system ['echo hi']\n", "python/object"),
    ("phi: [0.5\n", "line 2"),
    (b"phi: 0.5 # \xe9\xff\n", "utf-8"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, capsys, text, match):
    f = tmp_path / "c.yaml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["compare", "--config", str(f), "--out", "/nonexistent/never_written"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"Cannot read the config file {f}" in line and match in line


@pytest.mark.parametrize("exc, code, text", [
    (OSError(errno.ENOSPC, "No space left on device", "/r/x/last.pt"), 1, "/r/x/last.pt: No space left"),
    (PermissionError(errno.EACCES, "Permission denied", "/r"), 1, "not writable"),
    (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 10 vs 2"), 1, "disk is probably full"),
    (zipfile.BadZipFile("File is not a zip file"), 2, "damaged"),
    (EOFError("No data left in file"), 2, "damaged"),
    (json.JSONDecodeError("Expecting value", "", 0), 2, "damaged JSON"),
    (FolderLocked("Output folder x is in use"), 1, "in use"),
    (KeyError("x"), 1, "ERTS_KIT_DEBUG=1"),
])
def test_every_error_kind_maps_to_one_line_and_an_exit_code(exc, code, text):
    line, got = error_line(exc)
    assert got == code and text in line and "\n" not in line


def test_any_error_in_a_command_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def boom(*a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos\n 1 vs 2")
    monkeypatch.setattr(cli, "_cmd_download", boom)
    build = cli.build_parser

    def parser():
        ap = build()
        ap._subparsers._group_actions[0].choices["download"].set_defaults(func=boom)
        return ap
    monkeypatch.setattr(cli, "build_parser", parser)
    assert main(["download", "ptbxl"]) == 1
    assert "Saving a checkpoint failed" in _one_error_line(capsys.readouterr().err)
    monkeypatch.setenv("ERTS_KIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["download", "ptbxl"])
