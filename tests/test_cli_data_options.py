"""--fs and --class-order reach the dataset readers (command line and config file)."""
from __future__ import annotations

import pytest

from erts_kit.cli.commands import _experiment_config, _explicit, _settings, build_parser
from erts_kit.cli.errors import UserError


def _data_kwargs(argv):
    args = build_parser().parse_args(argv)
    return _experiment_config(_settings(args, _explicit(argv))).data_kwargs


def test_fs_and_class_order_reach_the_cinc_reader():
    assert _data_kwargs(["train", "--dataset", "cinc", "--fs", "500", "--class-order", "reference"]) == \
        {"class_order": "reference", "fs": 500.0}
    assert _data_kwargs(["train", "--dataset", "cinc"]) == {"class_order": "kit"}
    assert _data_kwargs(["compare", "--dataset", "ptbxl", "--fs", "500"]) == {"fs": 500}


def test_fs_reaches_the_mitbih_reader_with_its_other_options():
    kw = _data_kwargs(["train", "--dataset", "mitbih", "--fs", "180", "--context", "rr", "--val-records", "101,106"])
    assert kw == {"fs": 180.0, "context": "rr", "val_records": ["101", "106"]}


def test_config_file_sets_them(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: cinc\nfs: 250\nclass_order: reference\n")
    assert _data_kwargs(["train", "--config", str(cfg)]) == {"class_order": "reference", "fs": 250.0}
    assert _data_kwargs(["train", "--config", str(cfg), "--class-order", "kit"])["class_order"] == "kit"


@pytest.mark.parametrize("argv, match", [
    (["train", "--dataset", "ptbxl", "--fs", "250"], "--fs 100 or 500 for ptbxl"),
    (["train", "--dataset", "synthetic", "--fs", "100"], "--fs applies to the cinc, mitbih and ptbxl readers"),
])
def test_bad_fs_is_refused(argv, match):
    with pytest.raises(UserError, match=match):
        _data_kwargs(argv)


def test_unknown_class_order_is_refused(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--class-order", "paper"])
    assert "invalid choice: 'paper'" in capsys.readouterr().err
