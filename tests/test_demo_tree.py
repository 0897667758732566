"""The demo WFDB tree loads with the real MIT-BIH reader, with the premature beats annotated."""
from __future__ import annotations

from erts_kit.data import load_mitbih
from erts_kit.data.demo_tree import write_mitbih_demo_tree


def test_demo_tree_loads_with_one_pvc_and_one_pac(tmp_path):
    tree = write_mitbih_demo_tree(tmp_path / "mitdb", seconds=20, seed=3)
    assert sorted(p.name for p in tree.iterdir()) == sorted(f"{r}.{e}" for r in ("100", "101", "106")
                                                           for e in ("atr", "dat", "hea"))
    data = load_mitbih(tree)
    counts = data.meta.groupby(["record", "aami"]).size().to_dict()
    assert counts[("101", "V")] == 1 and counts[("106", "S")] == 1
    assert not any(a in ("V", "S") for (r, a) in counts if r == "100")
    assert set(data.meta.loc[data.split("test"), "record"]) == {"100"}   # DS2 record -> test side
