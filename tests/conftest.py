"""Shared pytest fixtures: deterministic, single-threaded torch, and the optional real-data folder."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed_everything():
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def _real_data_dir(variable: str, what: str) -> Path:
    """The folder an environment variable names; skip the test without it, fail if it is not a folder."""
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set: no real {what} records on this machine")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{variable}={value} is not a folder")
    return path


@pytest.fixture
def mitdb_dir() -> Path:
    """Folder of real MIT-BIH records named by ERTS_KIT_MITDB_DIR; the test is skipped without it."""
    return _real_data_dir("ERTS_KIT_MITDB_DIR", "MIT-BIH")


@pytest.fixture
def cinc_dir() -> Path:
    """Folder of real PhysioNet/CinC records named by ERTS_KIT_CINC_DIR; the test is skipped without it."""
    return _real_data_dir("ERTS_KIT_CINC_DIR", "CinC")
