"""The verdict sentences follow the numbers; the smoke banner and claim checks behave as the notebooks rely on."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from erts_kit.results import (
    SMOKE_TEXT,
    ClaimFailed,
    beat_chance,
    check_claim,
    grid_verdicts,
    mark_smoke,
    smoke_banner,
    verdict,
)


def _table(**rows):
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["macro_f1", "effective_epochs", "compute_equivalent_epochs", "wall_seconds"])


def test_ratios_are_policy_over_reference():
    v = verdict(_table(dbpd=[0.7, 10.0, 12.0, 100.0], xai_dbpd=[0.6, 9.0, 15.0, 80.0]), "xai_dbpd", "dbpd")
    assert v.ratios["ee"] == pytest.approx(0.9)
    assert v.ratios["compute"] == pytest.approx(1.25)
    assert v.ratios["wall"] == pytest.approx(0.8)
    assert v.ratios["delta_macro_f1"] == pytest.approx(-0.1)
    assert "saves 10%" in v.lines[0] and "costs 25% more" in v.lines[0] and "saves 20%" in v.lines[0]


def test_disagreeing_measures_are_reconciled_and_agreeing_ones_are_not():
    disagree = verdict(_table(full=[0.7, 10.0, 10.0, 100.0], dbpd=[0.7, 6.0, 11.0, 90.0]), "dbpd", "full")
    text = str(disagree)
    assert "They disagree" in text
    assert "smaller than the cost of the extra passes" in text
    assert "point opposite ways" in text
    agree = verdict(_table(full=[0.7, 10.0, 10.0, 100.0], srd=[0.7, 6.0, 6.0, 60.0]), "srd", "full")
    assert "agree on the direction: cheaper." in str(agree)
    assert "disagree" not in str(agree)


def test_one_seed_is_not_a_claim_and_several_seeds_ask_for_the_spread():
    t = _table(full=[0.7, 10.0, 10.0, 100.0], dbpd=[0.8, 6.0, 8.0, 60.0])
    assert "not a difference between methods" in str(verdict(t, "dbpd", "full"))
    assert "mean of 3 seeds" in str(verdict(t, "dbpd", "full", n_seeds=3))


def test_filter_verdict_follows_precision_against_base_rate():
    t = _table(dbpd=[0.7, 10.0, 12.0, 100.0], xai_dbpd=[0.6, 9.0, 15.0, 80.0])
    good = verdict(t, "xai_dbpd", "dbpd", filter_stats=dict(n_true_positive=80, n_dropped=100, base_rate=0.4))
    assert good.filter_beat_chance is True and "beat chance" in str(good)
    # the run of the issue: precision 0.398 against a base rate of 0.390
    flat = verdict(t, "xai_dbpd", "dbpd", filter_stats=dict(n_true_positive=398, n_dropped=1000, base_rate=0.390))
    assert flat.filter_beat_chance is False and "no better than chance" in str(flat)
    none = verdict(t, "xai_dbpd", "dbpd", filter_stats=dict(n_true_positive=0, n_dropped=0, base_rate=float("nan")))
    assert none.filter_beat_chance is None and "nothing was dropped" in str(none)


def test_worse_than_chance_is_named():
    assert beat_chance(5, 100, 0.4)["answer"] == "worse than chance"


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="n_true_positive <= n_dropped"):
        beat_chance(5, 3, 0.4)
    with pytest.raises(ValueError, match="missing \\['wall_seconds'\\]"):
        verdict(pd.DataFrame({"macro_f1": [1.0], "effective_epochs": [1.0], "compute_equivalent_epochs": [1.0]},
                             index=["full"]), "full", "full")
    with pytest.raises(ValueError, match="missing \\['dbpd'\\]"):
        verdict(_table(full=[0.7, 10.0, 10.0, 100.0]), "dbpd", "full")


def test_smoke_verdict_starts_with_the_banner():
    v = verdict(_table(full=[0.7, 10.0, 10.0, 100.0], dbpd=[0.7, 6.0, 11.0, 90.0]), "dbpd", "full", smoke=True)
    assert v.lines[0].startswith(f"[{SMOKE_TEXT}]")


def test_banner_only_in_smoke_mode_and_only_for_a_bool():
    assert smoke_banner(False) is None
    assert SMOKE_TEXT in smoke_banner(True, "x")._repr_html_()
    with pytest.raises(TypeError, match="True or False"):
        smoke_banner("yes")


def test_mark_smoke_stamps_a_figure_only_in_smoke_mode():
    fig, _ = plt.subplots()
    mark_smoke(fig, False)
    assert fig.texts == []
    mark_smoke(fig, True)
    assert [t.get_text() for t in fig.texts] == [SMOKE_TEXT]
    plt.close(fig)


def test_check_claim_names_the_claim_and_the_numbers():
    assert check_claim(True, "a", "b") == "claim holds: a (b)"
    with pytest.raises(ClaimFailed, match='says "plateau below spike", but this run found plateau 0.50'):
        check_claim(False, "plateau below spike", "plateau 0.50")


def _grid_rows(base_rate):
    return pd.DataFrame([dict(dataset="synthetic", model="small_cnn", policy=p, seed=s, macro_f1=f, effective_epochs=ee,
                              compute_equivalent_epochs=ce, wall_seconds=w, filter_precision=fp,
                              filter_base_rate=base_rate if p == "xai_dbpd" else float("nan"), filter_n_dropped=nd)
                         for s in (1, 2, 3)
                         for p, f, ee, ce, w, fp, nd in (("dbpd", 0.7, 10, 12, 100, float("nan"), 0),
                                                         ("xai_dbpd", 0.6 + 0.01 * s, 9, 15, 80, 0.9, 100))])


def test_grid_verdicts_average_seeds_and_pool_the_filter_counts():
    v = grid_verdicts(_grid_rows(0.4), "xai_dbpd", "dbpd")[("synthetic", "small_cnn")]
    assert v.ratios["delta_macro_f1"] == pytest.approx(0.62 - 0.7)
    assert v.filter_beat_chance is True and "over 300 dropped sample-epochs" in str(v)
    assert "mean of 3 seeds" in str(v)


def test_grid_verdicts_without_ground_truth_judge_no_filter():
    v = grid_verdicts(_grid_rows(float("nan")), "xai_dbpd", "dbpd")[("synthetic", "small_cnn")]
    assert v.filter_beat_chance is None and "Focus filter" not in str(v)
