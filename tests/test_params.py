"""check_params: good notebook parameters pass; every wrong type or range fails naming the parameter."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from erts_kit.course.params import PARAMETER_RULES, REQUIRED, Rule, check_params, check_value, seed_everything

GOOD = {"SMOKE": True, "SEED": 42, "DATASET": "synthetic", "DATA_DIR": "", "MODEL": "small_cnn",
        "POLICY": "xai_dbpd", "EPOCHS": 3, "DEVICE": "cpu"}


def test_good_values_pass_and_come_back_checked(capsys):
    P = check_params({**GOOD, "PHI": 1, "TAU": 0.0, "N_SAMPLES": 400, "START_REVISION": None, "FOCUS": "topk_mean",
                      "unrelated": object(), "np": np}, notebook="02_baseline")
    assert {k: P[k] for k in GOOD} == GOOD
    assert P["PHI"] == 1.0 and isinstance(P["PHI"], float)          # an int is a fine number
    assert P["START_REVISION"] is None and P["device"] == torch.device("cpu")
    assert "unrelated" not in P and "np" not in P                  # names without a rule are left alone
    out = capsys.readouterr().out
    assert out.startswith("02_baseline: SMOKE=True, SEED=42") and "device: cpu" in out


def test_numpy_scalars_are_accepted():
    P = check_params({**GOOD, "SEED": np.int64(7), "PHI": np.float32(0.5), "SMOKE": np.bool_(False)}, verbose=False)
    assert (P["SEED"], P["PHI"], P["SMOKE"]) == (7, 0.5, False)
    assert type(P["SEED"]) is int and type(P["SMOKE"]) is bool


def test_the_message_of_the_brief():
    with pytest.raises(TypeError) as exc:
        check_params({**GOOD, "EPOCHS": "3"}, verbose=False)
    assert str(exc.value) == ("Notebook parameter EPOCHS: expected an integer >= 1, got '3' (str). "
                              "Fix the parameters cell or the papermill -p value.")


@pytest.mark.parametrize("name, value, error, expected", [
    ("SMOKE", "True", TypeError, "True or False"),
    ("SMOKE", 1, TypeError, "True or False"),
    ("SEED", -1, ValueError, "an integer >= 0"),
    ("SEED", 4.0, TypeError, "Write 4 without the decimal point"),
    ("SEED", True, TypeError, "an integer >= 0"),
    ("DATASET", "ptb-xl", ValueError, "'synthetic', 'ptbxl', 'cinc', 'mitbih'"),
    ("DATA_DIR", None, TypeError, "a string"),
    ("MODEL", "resnet50", ValueError, "'small_cnn'"),
    ("POLICY", "ERTS", ValueError, "'xai_dbpd'"),
    ("EPOCHS", 0, ValueError, "an integer >= 1"),
    ("EPOCHS", 2.5, TypeError, "an integer >= 1"),
    ("DEVICE", "gpu", ValueError, "'auto', 'cpu', 'cuda', 'mps'"),
    ("DEVICE", 0, TypeError, "a string"),
    ("PHI", 0.0, ValueError, "a number in (0, 1]"),
    ("PHI", 1.5, ValueError, "a number in (0, 1]"),
    ("PHI", "0.7", TypeError, "a number in (0, 1]"),
    ("TAU", -0.1, ValueError, "a number in [0, 1]"),
    ("TAU", float("nan"), ValueError, "a number in [0, 1]"),
    ("GAMMA", 0, ValueError, "a number in (0, 1]"),
    ("N_SAMPLES", 5, ValueError, "an integer >= 10"),
    ("LABEL_FLIP_RATE", 1.01, ValueError, "a number in [0, 1]"),
    ("LR", 0.0, ValueError, "a number > 0"),
    ("START_REVISION", -2, ValueError, "an integer >= 0 (or None)"),
    ("FOCUS", "top10", ValueError, "'topk_mean'"),
])
def test_each_wrong_value_fails_naming_the_parameter(name, value, error, expected):
    with pytest.raises(error) as exc:
        check_params({**GOOD, name: value}, verbose=False)
    msg = str(exc.value)
    assert msg.startswith(f"Notebook parameter {name}: expected "), msg
    assert expected in msg and msg.endswith("Fix the parameters cell or the papermill -p value."), msg


def test_a_missing_required_parameter_is_named():
    ns = {k: v for k, v in GOOD.items() if k not in ("EPOCHS", "DEVICE")}
    with pytest.raises(ValueError, match=r"^Notebook parameter\(s\) EPOCHS, DEVICE not defined"):
        check_params(ns, verbose=False)
    assert "POLICY" not in REQUIRED and set(REQUIRED) <= set(PARAMETER_RULES)


def test_data_dir_must_exist_when_given(tmp_path):
    assert check_params({**GOOD, "DATA_DIR": str(tmp_path)}, verbose=False)["DATA_DIR"] == str(tmp_path)
    with pytest.raises(ValueError, match=r"DATA_DIR: expected an existing folder .* got '.*nowhere'"):
        check_params({**GOOD, "DATA_DIR": str(tmp_path / "nowhere")}, verbose=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_an_unavailable_device_is_named():
    with pytest.raises(ValueError, match=r"^Notebook parameter DEVICE: .*CUDA is not available here"):
        check_params({**GOOD, "DEVICE": "cuda"}, verbose=False)


def test_auto_device_is_resolved_and_printed(capsys):
    P = check_params({**GOOD, "DEVICE": "auto"}, notebook="nb")
    expected = "cuda" if torch.cuda.is_available() else None
    assert P["device"].type == (expected or P["device"].type)
    assert f"device: {P['device']}" in capsys.readouterr().out


def test_seeding_makes_the_next_draws_repeat():
    check_params({**GOOD, "SEED": 3}, verbose=False)
    a = (np.random.rand(), torch.rand(1).item())
    check_params({**GOOD, "SEED": 3}, verbose=False)
    assert (np.random.rand(), torch.rand(1).item()) == a
    seed_everything(4)
    assert np.random.rand() != a[0]


def test_not_a_mapping():
    with pytest.raises(TypeError, match="pass globals"):
        check_params([("SMOKE", True)])


def test_rule_descriptions_and_custom_rules():
    assert Rule("int", 1, 10).describe() == "an integer in [1, 10]"
    assert Rule("float", None, 1, high_open=True).describe() == "a number < 1"
    assert check_value("X", 3, Rule("int", 1)) == 3
    with pytest.raises(ValueError, match=r"^Notebook parameter X: expected an integer in \[1, 2\], got 3 \(int\)"):
        check_value("X", 3, Rule("int", 1, 2))


def test_list_parameters_check_every_element():
    from erts_kit.course.params import check_value

    assert check_value("SEEDS", [1, 2, 3]) == [1, 2, 3]
    assert check_value("COMPARE", ("full", "xai_dbpd")) == ["full", "xai_dbpd"]
    with pytest.raises(ValueError, match=r"COMPARE\[1\].*'nope'"):
        check_value("COMPARE", ["full", "nope"])
    with pytest.raises(TypeError, match="SEEDS: expected a non-empty list"):
        check_value("SEEDS", [])
    with pytest.raises(TypeError, match=r"SEEDS\[0\]: expected an integer"):
        check_value("SEEDS", ["1"])
