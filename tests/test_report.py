"""The comparison report: tables with hand-checked values, Markdown + self-contained HTML + figures."""
from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from erts_kit.results import Example, comparison_table, markdown_table, write_report


@pytest.fixture
def results():
    by_kind = {"clean": {"n_candidates": 10, "n_dropped": 2, "drop_rate": 0.2},
               "label_flip": {"n_candidates": 4, "n_dropped": 3, "drop_rate": 0.75}}
    return pd.DataFrame({
        "policy": ["full", "dbpd", "xai_dbpd", "xai_dbpd"], "seed": [0, 0, 0, 1],
        "macro_f1": [0.80, 0.70, 0.60, 0.70], "best_val_macro_f1": [0.8, 0.7, 0.6, 0.7],
        "effective_epochs": [4.0, 3.0, 2.0, 2.0], "compute_equivalent_epochs": [4.0, 3.5, 3.0, 3.0],
        "wall_seconds": [10.0, 9.0, 8.0, 8.0], "filter_precision": [np.nan, np.nan, 0.6, 0.4],
        "filter_recall": [np.nan, np.nan, 0.5, 0.5], "filter_base_rate": [np.nan, np.nan, 0.3, 0.3],
        "filter_by_kind": [{}, {}, by_kind, by_kind]})


@pytest.fixture
def histories():
    def h(f1, ee, ce):
        return pd.DataFrame({"epoch": range(len(f1)), "val_macro_f1": f1, "effective_epochs": ee,
                             "compute_equivalent_epochs": ce})
    return {"full_seed0": h([0.5, 0.8], [1, 2], [1, 2]), "xai_dbpd_seed0": h([0.4, 0.6], [1, 1.5], [1, 2.2]),
            "xai_dbpd_seed1": h([0.45, 0.7], [1, 1.5], [1, 2.2])}


def test_markdown_table_formats_numbers_and_nan():
    md = markdown_table(pd.DataFrame({"p": ["a"], "x": [1.23456], "n": [3], "m": [np.nan]}), digits=2)
    assert md.splitlines() == ["| p | x | n | m |", "|---|---|---|---|", "| a | 1.23 | 3 | – |"]


def test_comparison_table_mean_pm_std_over_seeds(results):
    t = comparison_table(results).set_index("policy")
    assert t.loc["xai_dbpd", "seeds"] == 2
    assert t.loc["xai_dbpd", "macro-F1 (test)"] == "0.650 ± 0.071"          # mean 0.65, std 0.0707
    assert t.loc["full", "macro-F1 (test)"] == "0.800"                       # one seed: no ±
    assert t.loc["dbpd", "compute-eq. epochs"] == "3.50"
    assert t.loc["xai_dbpd", "filter precision"] == "0.500 ± 0.141"
    assert t.loc["full", "filter precision"] == "–"


def test_write_report_markdown_html_and_figures(results, histories, tmp_path):
    rng = np.random.default_rng(0)
    ex = [Example(signal=rng.normal(size=(2, 300)).astype(np.float32), fs=100.0, cam=rng.random(37),
                  title="sample", mask=np.arange(300) < 50, lead=1)]
    md_path = write_report(results, histories, tmp_path, {"kept": ex, "dropped": ex * 2}, title="T",
                           notes=["scaled schedule: filter from epoch 3"])
    md = md_path.read_text()
    for fig in ("fig_cost.png", "fig_filter.png", "fig_examples.png"):
        assert (tmp_path / fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({fig})" in md                                            # linked, same folder
    comparison = md.split("## Comparison", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in comparison.splitlines() if ln.startswith("| ") and not ln.startswith("| policy")]
    assert [r.split(" | ")[0][2:] for r in rows] == ["full", "dbpd", "xai_dbpd"]
    paired = md.split("paired by seed)", 1)[1].split("\n## ", 1)[0]           # the paired section
    assert "](fig_paired.png)" in paired and "| dbpd | " in paired and "| xai_dbpd | " in paired
    assert "scaled schedule: filter from epoch 3" in md
    html = (tmp_path / "report.html").read_text()
    imgs = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(imgs) == 4 and all(s.startswith("data:image/png;base64,") for s in imgs)
    decoded = base64.b64decode(imgs[1].split(",", 1)[1])
    assert decoded == (tmp_path / "fig_cost.png").read_bytes()              # one self-contained file
    assert "0.650 ± 0.071" in html


def test_write_report_without_examples_or_ground_truth(histories, tmp_path):
    df = pd.DataFrame({"policy": ["full"], "seed": [0], "macro_f1": [0.5]})
    write_report(df, {"full_seed0": histories["full_seed0"]}, tmp_path)
    assert (tmp_path / "fig_cost.png").exists()
    assert not (tmp_path / "fig_filter.png").exists() and not (tmp_path / "fig_examples.png").exists()


def test_write_report_refuses_a_non_table(tmp_path):
    with pytest.raises(ValueError, match="policy"):
        write_report(pd.DataFrame({"x": [1]}), {}, tmp_path)


def test_a_full_disk_never_tears_the_report(results, histories, tmp_path, monkeypatch):
    """report.md/.html and the figures are written atomically: a write failing half-way keeps the old ones."""
    import errno

    from erts_kit import _atomic
    write_report(results, histories, tmp_path, title="old")
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_write = _atomic._RecordingFileIO._write

    def full_after_1k(self, b):  # the system writes what fits, then says ENOSPC
        room = 1024 - self.tell()
        if room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, memoryview(b)[:room])

    monkeypatch.setattr(_atomic._RecordingFileIO, "_write", full_after_1k)
    with pytest.raises(OSError, match="Could not write .*fig_cost.png: No space left.*free some space") as info:
        write_report(results, histories, tmp_path, title="new")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old   # nothing torn, no temp file
