"""The published-results table of erts_kit.paper: the numbers as published, and the derived columns."""
from __future__ import annotations

import pandas as pd
import pytest

from erts_kit.models import list_models
from erts_kit.results.paper import (BACKBONE_MODELS, COMPARE_COLUMNS, PUBLISHED_RESULTS, compare_with_published,
                            published_results)


def test_long_table_holds_every_published_number():
    long = published_results()
    assert list(long.columns) == ["dataset", "backbone", "model", "method", "macro_f1", "effective_epochs"]
    assert len(long) == 10
    row = long[(long.dataset == "Georgia 2020") & (long.method == "best PDD")].iloc[0]
    assert (row.backbone, row.macro_f1, row.effective_epochs) == ("ResNet-18", 0.6521, 40.3)
    erts = long[long.method == "ERTS"].set_index(["dataset", "backbone"])["macro_f1"]
    assert erts[("CPSC 2018", "EfficientNetV2-S")] == 0.7188
    assert erts[("PTB-XL", "MobileNetV2")] == 0.6420


def test_wide_table_derives_delta_and_ee_saving():
    wide = published_results(wide=True)
    assert wide.index.names == ["dataset", "backbone"]
    r = wide.loc[("PTB-XL", "EfficientNetV2-S")]
    assert r["delta_macro_f1"] == pytest.approx(0.6586 - 0.6488)            # 0.0098
    assert r["ee_saving"] == pytest.approx(1 - 18.9 / 21.8)                 # ~13.3 %
    # as published, ERTS never has a lower macro-F1 nor a higher EE than the best PDD variant
    assert (wide["delta_macro_f1"] > 0).all() and (wide["erts_ee"] < wide["pdd_ee"]).all()


def test_tables_are_fresh_copies():
    a = published_results()
    a.loc[0, "macro_f1"] = 0.0
    assert published_results().loc[0, "macro_f1"] == PUBLISHED_RESULTS[0][2]


def test_backbones_name_models_the_kit_builds():
    assert set(BACKBONE_MODELS.values()) <= set(list_models())
    assert set(published_results()["model"]) == set(BACKBONE_MODELS.values())


def test_wide_must_be_a_bool():
    with pytest.raises(TypeError, match="Expected wide to be True or False, got 'yes'"):
        published_results(wide="yes")
    assert isinstance(published_results(wide=False), pd.DataFrame)


def _grid(**over):
    """A hand-made run_grid table: two seeds of dbpd/smrd/xai_dbpd/xai_srd on one (dataset, model), plus full."""
    rows = []
    for policy, f1, ee, ce in (("full", 0.70, 30.0, 30.0), ("dbpd", 0.60, 20.0, 26.0), ("smrd", 0.64, 20.0, 26.0),
                               ("xai_dbpd", 0.66, 15.0, 24.0), ("xai_srd", 0.50, 18.0, 21.0)):
        for seed, shift in ((1, -0.01), (2, 0.01)):
            rows.append({"dataset": "synthetic", "model": "small_cnn", "policy": policy, "seed": seed,
                         "macro_f1": f1 + shift, "effective_epochs": ee, "compute_equivalent_epochs": ce})
    return pd.DataFrame(rows).assign(**over)


def test_compare_picks_the_best_variant_of_each_family():
    out = compare_with_published(_grid())
    assert list(out.columns) == COMPARE_COLUMNS
    assert (out["source"] == "published").sum() == 5
    ours = out[out["source"] == "this run"].iloc[0]
    assert (ours["pdd_policy"], ours["erts_policy"], ours["n_seeds"]) == ("smrd", "xai_dbpd", 2)
    assert ours["delta_macro_f1"] == pytest.approx(0.66 - 0.64)
    assert ours["ee_saving"] == pytest.approx(1 - 15 / 20)            # 0.25
    assert ours["compute_saving"] == pytest.approx(1 - 24 / 26)
    published = out[out["source"] == "published"]
    assert published["pdd_compute_epochs"].isna().all()               # the paper publishes no compute cost


def test_compare_skips_groups_without_both_families_and_checks_columns():
    only_pdd = _grid()[lambda d: ~d["policy"].str.startswith("xai_")]
    assert (compare_with_published(only_pdd)["source"] == "this run").sum() == 0
    with pytest.raises(ValueError, match=r"missing \['compute_equivalent_epochs'\]"):
        compare_with_published(_grid().drop(columns="compute_equivalent_epochs"))
