"""The erts-kit command: help texts, refusals (exit 2, no traceback), config precedence, demo --smoke."""
from __future__ import annotations

import pytest

import erts_kit.cli.commands as cli
from erts_kit.cli.commands import build_parser, load_config, main


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command, expected", [
    ("demo", ["--epochs", "(default: 8)", "(default: runs/demo)"]),
    ("train", ["--policy", "(default: xai_dbpd)", "--phi", "(default: 0.7)", "--warm-up", "(default: 5)",
               "--cam-start", "(default: 3)", "--start-revision", "--data-dir", "--device", "(default: auto)"]),
    ("compare", ["--policies", "(default: ['full', 'dbpd', 'xai_dbpd'])", "--seeds", "(default: [42])",
                 "--tau", "(default: 0.3)", "--gamma", "(default: 0.99)", "--config", "--batch-size", "(default: 32)"]),
    ("download", ["--dir", "--fs", "(default: 100)"]),
])
def test_help_of_every_command_shows_defaults(capsys, command, expected):
    out = " ".join(_help(capsys, command).split())      # argparse wraps lines
    for text in expected:
        assert text in out, f"{text!r} missing from `erts-kit {command} --help`"


def test_top_level_help_lists_commands_and_notebooks_help_is_delegated(capsys):
    out = _help(capsys)
    for cmd in ("demo", "train", "compare", "download", "notebooks"):
        assert cmd in out
    assert "default" in _help(capsys, "notebooks")      # erts_kit.notebooks' own parser


def test_notebooks_delegates_its_arguments(monkeypatch):
    import erts_kit.course.runner as nb
    seen = []
    monkeypatch.setattr(nb, "main", lambda argv: seen.append(argv) or 0)
    assert main(["notebooks", "--dir", "x", "03"]) == 0
    assert seen == [["--dir", "x", "03"]]


def test_download_calls_the_downloader(monkeypatch, tmp_path):
    import erts_kit.data.download as dl
    calls = []
    monkeypatch.setattr(dl, "download_database", lambda name, dest, **kw: calls.append((name, dest, kw)) or tmp_path)
    assert main(["download", "mitbih", "--dir", str(tmp_path), "--records", "100", "101", "--no-progress"]) == 0
    assert calls == [("mitbih", str(tmp_path), {"fs": 100, "records": ["100", "101"], "progress": False})]


@pytest.mark.parametrize("argv, listed", [
    (["train", "--policy", "nope"], "xai_dbpd"),
    (["compare", "--policies", "full", "bogus"], "xai_srd"),
    (["train", "--model", "resnet9"], "small_cnn"),
    (["compare", "--dataset", "ptb"], "'synthetic', 'ptbxl', 'cinc', 'mitbih'"),
    (["download", "ptb"], "'ptbxl', 'mitbih'"),
])
def test_unknown_names_exit_2_with_the_valid_list(capsys, argv, listed):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("erts-kit: error: Unknown") and listed in err and "Traceback" not in err


@pytest.mark.parametrize("argv, match", [
    (["train", "--phi", "1.5"], r"phi in (0.0, 1.0]"),
    (["train", "--phi", "0"], r"phi in (0.0, 1.0]"),
    (["train", "--warm-up", "5", "--start-revision", "3"], "start_revision >= warm_up"),
    (["compare", "--epochs", "0"], "epochs >= 1"),
    (["train", "--epochs", "6"], "starts its focus filter at epoch 8"),
    (["compare", "--dataset", "ptbxl", "--data-dir", "/nonexistent/ptbxl", "--policies", "full"],
     "erts-kit download ptbxl --dir /nonexistent/ptbxl"),
    (["compare", "--config", "/nonexistent.yaml"], "'paper', 'demo'"),
])
def test_impossible_settings_are_refused_before_training(capsys, monkeypatch, argv, match):
    import erts_kit.results.grid as ex
    monkeypatch.setattr(ex, "train", lambda *a, **k: pytest.fail("training started"))
    assert main([*argv, "--out", "/nonexistent/never_written"]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_unknown_key_in_a_config_file_is_refused(capsys, tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("phi: 0.5\nwarmup: 3\n")
    assert main(["compare", "--config", str(f)]) == 2
    assert "Unknown setting(s) warmup" in capsys.readouterr().err


def _resolved(argv: list[str]) -> dict:
    args = build_parser().parse_args(argv)
    return cli._settings(args, cli._explicit(argv))


def test_flags_override_the_config_file_which_overrides_defaults(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("phi: 0.5\nepochs: 12\nseed: 7\npolicies: [dbpd]\n")
    s = _resolved(["compare", "--config", str(f), "--epochs", "20", "--tau", "0.2"])
    assert (s["phi"], s["epochs"], s["tau"], s["seeds"], s["policies"]) == (0.5, 20, 0.2, [7], ["dbpd"])
    assert s["gamma"] == 0.99                                  # untouched default
    s = _resolved(["compare", "--config", str(f), "--phi", "0.7"])   # a flag equal to the default still wins
    assert s["phi"] == 0.7


def test_paper_config_reproduces_the_reference_setup():
    c = load_config("paper")
    assert (c["lr"], c["weight_decay"], c["lr_gamma"], c["batch_size"], c["seeds"], c["epochs"]) == \
        (3e-4, 0.01, 0.98, 32, [42], 100)
    s = _resolved(["compare", "--config", "paper", "--dataset", "synthetic", "--epochs", "9"])
    cfg = cli._experiment_config(s)
    assert (cfg.loss_for("full"), cfg.loss_for("dbpd"), cfg.loss_for("xai_dbpd")) == ("ce", "cb_ce", "cb_ce")
    assert (cfg.warm_up, cfg.cam_start, cfg.phi, cfg.tau, s["epochs"]) == (5, 3, 0.7, 0.3, 9)
    assert cfg.cb_max_weight_ratio is None   # the reference does not cap cb_ce's weights


def test_demo_schedule_is_scaled_so_the_filter_runs():
    assert cli._demo_schedule(8, 2, 1) == (2, 1)               # filter from epoch 3 of 0..7
    assert cli._demo_schedule(3, 2, 1) == (1, 1)               # filter from epoch 2
    assert cli._demo_schedule(1, 2, 1) == (0, 0)


@pytest.mark.slow
def test_demo_smoke_end_to_end(capsys, tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--smoke", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    first_table = printed.split("| policy", 1)[1].split("\n\n", 1)[0]   # the per-class table follows it
    rows = [ln for ln in first_table.splitlines() if ln.startswith("| ")]
    assert [r.split(" | ")[0][2:] for r in rows] == ["full", "dbpd", "xai_dbpd"]
    assert "per class (test split" in printed
    assert "SCALED" in printed
    for f in ("report.md", "report.html", "fig_cost.png", "fig_filter.png", "fig_examples.png", "results.csv"):
        assert (out / f).stat().st_size > 0, f
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert (out / "xai_dbpd_seed0" / "result.json").exists()
