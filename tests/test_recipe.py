"""load_recipe: a recipe file read into data options, model, epochs and training settings, as the file states."""
from __future__ import annotations

import pytest
import yaml

from erts_kit.cli.recipe import TRAINING_KEYS, load_recipe
from erts_kit.results import ExperimentConfig


def test_the_packaged_mitbih_recipe_is_read_as_the_file_states():
    r = load_recipe("mitbih_beats")
    assert (r.model, r.model_kwargs, r.epochs) == ("small_cnn", {"width": 16}, 6)
    assert r.data["context"] == "rr" and r.data["fs"] == 120 and r.data["drop_from_train"] == ["Q"]
    t = r.training()
    assert set(t) == set(TRAINING_KEYS) | {"model_kwargs"}
    assert (t["batch_size"], t["lr"], t["lr_gamma"], t["loss"], t["cb_beta"]) == (128, 2e-3, 0.7, "cb_ce", 0.9995)
    assert t["full_loss"] is None                      # "same" in the file
    assert r.extra["policies"] == ["full", "dbpd", "xai_dbpd"]


def test_a_user_recipe_file_and_its_errors(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({"model": {"name": "resnet1d_wang"}, "epochs": 3, "lr": 0.01, "seeds": [1]}))
    r = load_recipe(str(f))
    assert (r.model, r.epochs, r.config.lr, r.extra) == ("resnet1d_wang", 3, 0.01, {"seeds": [1]})
    assert r.config.batch_size == ExperimentConfig().batch_size     # unstated settings keep their defaults
    f.write_text(yaml.safe_dump({"lr": 0.01, "batch_sise": 64}))
    with pytest.raises(ValueError, match="Unknown setting.s. batch_sise in .*expected any of .*batch_size"):
        load_recipe(str(f))
    with pytest.raises(FileNotFoundError, match="mitbih_beats"):
        load_recipe(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("name", ["demo", "paper", "mitbih_beats"])
def test_every_packaged_recipe_loads_with_known_keys_only(name):
    r = load_recipe(name)
    assert r.epochs >= 1 and r.model and r.training()["batch_size"] >= 1
