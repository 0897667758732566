"""Kit checkpoints: atomic writes, safe loading (weights_only), RNG round trips."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from erts_kit.training.checkpoint import frame_to_dict, load_checkpoint, rng_state, save_checkpoint, set_rng_state


class Payload:  # a custom class: what weights_only refuses to unpickle
    def __init__(self) -> None:
        self.x = 1


def test_round_trip_of_plain_state(tmp_path):
    df = pd.DataFrame({"epoch": [0, 1], "val_macro_f1": [0.5, float("nan")], "device": ["cpu", "cpu"]})
    state = {"epoch": 1, "model": {"w": torch.arange(3.0)}, "history": frame_to_dict(df), "best": {"score": None}}
    p = save_checkpoint(tmp_path / "sub" / "last.pt", state)
    out = load_checkpoint(p)
    assert out["epoch"] == 1 and torch.equal(out["model"]["w"], torch.arange(3.0))
    pd.testing.assert_frame_equal(pd.DataFrame(out["history"]), df)
    assert out["format"] == "erts_kit.checkpoint"
    assert [f for f in os.listdir(p.parent)] == ["last.pt"]  # no temporary file left behind


def test_refuses_pickled_objects(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": "erts_kit.checkpoint", "version": 1, "obj": Payload()}, p)
    with pytest.raises(ValueError, match="Refusing to load.*pickled"):
        load_checkpoint(p)
    torch.save({"format": "erts_kit.checkpoint", "version": 1, "run_dir": Path("runs/a")}, p)
    with pytest.raises(ValueError, match="Refusing"):  # a Path is a pickled object too: store str(path)
        load_checkpoint(p)


def test_clear_errors_for_non_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        load_checkpoint(tmp_path / "notes.txt")
    torch.save({"state_dict": {"w": torch.ones(1)}}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not an erts_kit checkpoint.*state_dict"):
        load_checkpoint(tmp_path / "plain.pt")
    torch.save({"format": "erts_kit.checkpoint", "version": 99}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="version 99"):
        load_checkpoint(tmp_path / "future.pt")


def test_failed_write_keeps_the_old_file(tmp_path):
    p = save_checkpoint(tmp_path / "last.pt", {"epoch": 0})
    with pytest.raises(Exception):
        save_checkpoint(p, {"epoch": 1, "bad": lambda: None})  # lambdas cannot be saved
    assert load_checkpoint(p)["epoch"] == 0
    assert os.listdir(tmp_path) == ["last.pt"]


def test_rng_round_trip_through_a_file(tmp_path):
    gen = torch.Generator().manual_seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's legacy state
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state(gen)})
    first = (torch.rand(3), np.random.normal(size=3), random.random(), torch.randperm(10, generator=gen))
    torch.manual_seed(99), np.random.seed(99), random.seed(99), gen.manual_seed(99)
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"], gen)
    again = (torch.rand(3), np.random.normal(size=3), random.random(), torch.randperm(10, generator=gen))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2] == again[2] and torch.equal(first[3], again[3])
