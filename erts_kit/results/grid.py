"""Grids of training runs (policies x seeds) -> one results table, resumable.

:func:`run_grid` trains one model per (policy, seed) with :func:`erts_kit.training.train` and writes,
for each run, ``<out_dir>/<policy>_seed<k>/``:

- ``settings.json`` (written first: what the run is; a rerun with other settings is refused),
- ``last.pt`` / ``best.pt`` (the training loop's checkpoints: an interrupted run resumes from ``last.pt``),
- ``history.csv`` (one row per epoch) and ``selection_log.npz`` (every per-sample decision),
- ``result.json`` (written atomically when the run is finished: its row of the results table).

A rerun skips every run whose ``result.json`` exists and resumes the others. After each run the
whole table is rewritten as ``<out_dir>/results.csv`` and ``results.json``. The folder is locked
while a grid writes to it (:mod:`erts_kit._lock`): a second process on the same folder is refused.

Costs are reported as the ERTS paper does (effective epochs, EE: samples through training forward +
backward / N) and as the kit's honest count (compute-equivalent epochs: scoring and Grad-CAM
passes included; see :mod:`erts_kit.selection.ledger`).

Example:
    >>> from erts_kit.data import load_dataset
    >>> data = load_dataset("synthetic", n_samples=60, seed=0, label_flip_rate=0.2)
    >>> df = run_grid(data, ["full"], [0], "small_cnn", epochs=1, out_dir="/tmp/erts_doc_grid",
    ...               config={"batch_size": 16}, resume=False, progress=False)  # doctest: +SKIP
    >>> list(df[["policy", "seed"]].itertuples(index=False, name=None))  # doctest: +SKIP
    [('full', 0)]
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._atomic import atomic_write
from .._lock import lock_folder
from .._validation import check_choice, check_int
from ..data import DATASETS, ECGData, load_dataset
from ..models import build_model, list_models
from ..selection import list_policies, make_policy
from ..training import (
    TrainConfig,
    fidelity_model_kwargs,
    fidelity_policy_params,
    pick_device,
    train,
)
from .class_stats import class_columns
from .filters import filter_precision_recall
from .run_folder import RunMismatch
from .run_folder import atomic_json as _atomic_json
from .run_folder import check_data as _check_data
from .run_folder import check_settings as _check_settings
from .run_folder import finished_row as _finished_row
from .run_folder import jsonable as _jsonable

__all__ = ["RESULT_COLUMNS", "ExperimentConfig", "RunMismatch", "build_policy", "plan_grid", "run_grid", "run_name"]

RESULT_COLUMNS = ["dataset", "model", "policy", "seed", "epochs", "loss", "macro_f1", "best_val_macro_f1",
                  "best_epoch", "effective_epochs", "compute_equivalent_epochs", "wall_seconds",
                  "filter_precision", "filter_recall", "filter_base_rate", "filter_n_dropped"]
"""Leading columns of the results table (per-phase ``seconds_<phase>`` and test metrics follow)."""

_SETTINGS_FREE = ("device", "num_workers", "pin_memory", "eval_every", "epochs")


@dataclass
class ExperimentConfig:
    """Everything of a grid except dataset, policies, seeds, model and epochs (which run_grid takes).

    Policy parameters are given once; each policy receives only those it takes (``full`` none,
    ``dbpd`` tau, ``srd`` gamma, ``xai_*`` also phi/cam_start/focus, all PDD ones warm_up and
    start_revision). ``full_loss`` is the loss of the full-data baseline: ``None`` means the same as
    ``loss``; the ERTS paper trained its baseline with plain ``'ce'`` while PDD/ERTS used ``'cb_ce'``
    (a confound the kit makes explicit: ``paper.yaml`` reproduces it, the default removes it).

    Example:
        >>> ExperimentConfig.from_dict({"phi": 0.5, "loss": "cb_ce"}).phi
        0.5
        >>> ExperimentConfig.from_dict({"ph": 0.5})
        Traceback (most recent call last):
        ...
        ValueError: Unknown setting 'ph': expected any of batch_size, lr, weight_decay, lr_gamma, loss, full_loss, cb_beta, device, amp, eval_every, num_workers, tau, phi, gamma, warm_up, cam_start, start_revision, focus, prune_ratio, rescore_every, drop_share, data_dir, data_kwargs, model_kwargs, sampler, cb_max_weight_ratio, select_after_warmup, class_floor, fidelity.
    """

    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    lr_gamma: float = 0.98
    loss: str = "ce"
    full_loss: str | None = None      # None: same as ``loss``
    cb_beta: float = 0.9999
    device: str = "auto"
    amp: bool = True
    eval_every: int = 1
    num_workers: int = 0
    tau: float = 0.3
    phi: float = 0.7
    gamma: float = 0.99
    warm_up: int = 5
    cam_start: int = 3
    start_revision: int | None = None
    focus: str = "topk_mean"
    prune_ratio: float = 0.5          # infobatch, noise_aware
    prune_at: str = "epoch"           # infobatch, noise_aware: prune before batching ("epoch") or within ("batch")
    rescore_every: int = 3            # cached_erts
    drop_share: float = 0.1           # noise_aware
    data_dir: str | None = None
    data_kwargs: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    sampler: str = "shuffle"                 # TrainConfig.sampler
    cb_max_weight_ratio: float | None = 50.0  # TrainConfig.cb_max_weight_ratio
    select_after_warmup: bool = False         # TrainConfig.select_after_warmup
    class_floor: float = 0.0                  # PDD/ERTS policies: per-class floor on the kept share
    fidelity: str = "kit"             # 'reference': the ERTS reference code's behaviour (erts_kit.training.fidelity)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ExperimentConfig:
        """Build from a plain dict (e.g. a YAML file), refusing unknown keys."""
        d = dict(d or {})
        names = [f.name for f in fields(cls)]
        for k in d:
            if k not in names:
                raise ValueError(f"Unknown setting {k!r}: expected any of {', '.join(names)}.")
        if d.get("full_loss") in ("same", ""):
            d["full_loss"] = None
        return cls(**d)

    def loss_for(self, policy: str) -> str:
        """The loss of a run of ``policy`` (``full_loss`` for the full-data baseline)."""
        return self.full_loss if policy == "full" and self.full_loss else self.loss

    def model_kwargs_for(self, model: str) -> dict[str, Any]:
        """The model options of a run: the fidelity preset's (lead padding, ...), then ``model_kwargs``.

        Example:
            >>> ExperimentConfig(fidelity="reference").model_kwargs_for("resnet18_2d")
            {'lead_padding': 10}
        """
        return {**fidelity_model_kwargs(model, self.fidelity), **self.model_kwargs}


def _as_config(config: ExperimentConfig | Mapping[str, Any] | None) -> ExperimentConfig:
    if isinstance(config, ExperimentConfig):
        return config
    if config is None or isinstance(config, Mapping):
        return ExperimentConfig.from_dict(config)
    raise TypeError(f"Expected config as an ExperimentConfig or a dict, got {type(config).__name__}.")


def run_name(policy: str, seed: int) -> str:
    """Folder name of one run, e.g. ``'xai_dbpd_seed42'``.

    Example:
        >>> run_name("xai_dbpd", 42)
        'xai_dbpd_seed42'
    """
    return f"{policy}_seed{seed}"


def build_policy(name: str, config: ExperimentConfig | Mapping[str, Any] | None = None, seed: int = 42):
    """A policy by name with the config's parameters (only those it takes) and ``seed``.

    Raises:
        ValueError: unknown name (lists the valid ones) or a parameter out of range (phi outside
            (0, 1], start_revision before the end of warm-up, ...).

    Example:
        >>> build_policy("xai_dbpd", {"phi": 0.5, "warm_up": 2, "cam_start": 1}).filter_start
        3
        >>> build_policy("dbpd", {"phi": 0.5}).params()["tau"]
        0.3
    """
    cfg = _as_config(config)
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    check_choice("policy", key, list_policies())
    takes = set(make_policy(key).params())
    params = {k: getattr(cfg, k) for k in ("tau", "phi", "gamma", "warm_up", "cam_start", "start_revision", "focus",
                                           "prune_ratio", "prune_at", "rescore_every", "drop_share") if k in takes}
    if cfg.class_floor and key != "full":   # shown in params() only when set
        params["class_floor"] = cfg.class_floor
    return make_policy(key, seed=seed, **params, **fidelity_policy_params(key, cfg.fidelity))


def _train_config(cfg: ExperimentConfig, policy: str, seed: int, epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                       lr_gamma=cfg.lr_gamma, loss=cfg.loss_for(policy), cb_beta=cfg.cb_beta, seed=seed,
                       device=cfg.device, amp=cfg.amp, num_workers=cfg.num_workers, eval_every=cfg.eval_every,
                       focus_score=cfg.focus, sampler=cfg.sampler, cb_max_weight_ratio=cfg.cb_max_weight_ratio,
                       select_after_warmup=cfg.select_after_warmup, fidelity=cfg.fidelity)


@dataclass
class _Run:
    policy: str
    seed: int
    policy_obj: Any
    train_config: TrainConfig
    settings: dict[str, Any]

    @property
    def name(self) -> str:
        return run_name(self.policy, self.seed)


def plan_grid(policies: Sequence[str], seeds: Sequence[int], model: str, epochs: int,
              config: ExperimentConfig | Mapping[str, Any] | None = None, dataset: str | None = None) -> list[_Run]:
    """Validate a grid before anything is trained; return its runs (policy, seed, policy object, TrainConfig).

    Refuses, with the fix in the message: unknown dataset/model/policy names, epochs < 1, a
    parameter out of range, an ERTS policy whose filter would never start within ``epochs``, a
    device that is not available, duplicate policies or seeds.

    Example:
        >>> [r.name for r in plan_grid(["full", "xai_dbpd"], [1], "small_cnn", 4, {"warm_up": 2, "cam_start": 1})]
        ['full_seed1', 'xai_dbpd_seed1']
        >>> plan_grid(["xai_dbpd"], [1], "small_cnn", 4)
        Traceback (most recent call last):
        ...
        ValueError: Policy 'xai_dbpd' starts its focus filter at epoch 8 (warm_up 5 + cam_start 3, counted from 0), but the run has only 4 epochs: the result would be plain DBPD. Lower --warm-up/--cam-start or raise --epochs.
    """
    cfg = _as_config(config)
    if dataset is not None:
        check_choice("dataset", dataset, DATASETS)
    check_choice("model", model, list_models())
    check_int("epochs", epochs, minimum=1)
    if isinstance(policies, str) or isinstance(seeds, (int, np.integer)):
        raise TypeError("Expected lists of policies and seeds, e.g. ['full', 'xai_dbpd'] and [42], got "
                        f"{policies!r} and {seeds!r}.")
    if not policies or not seeds:
        raise ValueError(f"Expected at least one policy and one seed, got policies={list(policies)}, seeds={list(seeds)}.")
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    keys = [p.strip().lower().replace("-", "_") if isinstance(p, str) else p for p in policies]
    for what, items, given, note in (("policies", keys, policies, " (names ignore case and '-' vs '_')"),
                                     ("seeds", seeds, seeds, "")):
        if len(set(items)) != len(items):
            raise ValueError(f"Expected distinct {what}, got {list(given)}{note}.")
    pick_device(cfg.device)
    runs = []
    for name in policies:
        for seed in seeds:
            pol = build_policy(name, cfg, seed)
            start = getattr(pol, "filter_start", None)
            if start is not None and start >= epochs:
                raise ValueError(f"Policy {pol.name!r} starts its focus filter at epoch {start} (warm_up "
                                 f"{pol.warm_up} + cam_start {pol.cam_start}, counted from 0), but the run has "
                                 f"only {epochs} epochs: the result would be plain "
                                 f"{getattr(getattr(pol, 'base', None), 'name', 'DBPD').upper()}. "
                                 "Lower --warm-up/--cam-start or raise --epochs.")
            tc = _train_config(cfg, pol.name, seed, epochs)
            settings = {"model": model, "model_kwargs": cfg.model_kwargs_for(model), "policy": pol.params(),
                        "train": _train_settings(tc), "epochs": epochs}
            runs.append(_Run(pol.name, seed, pol, tc, settings))
    return runs


def _train_settings(tc: TrainConfig) -> dict[str, Any]:
    # fidelity fields at their defaults are left out, so run folders made before they existed still match
    defaults = {"fidelity": "kit", "cam_relu_order": None, "loss_reduction": None, "cb_empty_class": None,
                "scoring_mode": None, "reference_passes": None, "scoring_fp32": None}
    return {k: v for k, v in asdict(tc).items()
            if k not in _SETTINGS_FREE and not (k in defaults and v == defaults[k])}


def _write_tables(rows: list[dict[str, Any]], out_dir: Path) -> pd.DataFrame:
    df = _frame(rows)
    _atomic_json(out_dir / "results.json", rows)
    csv = df.copy()
    for col in csv.columns:
        if csv[col].map(lambda v: isinstance(v, (dict, list))).any():
            csv[col] = csv[col].map(lambda v: json.dumps(_jsonable(v)))
    atomic_write(out_dir / "results.csv", lambda f: f.write(csv.to_csv(index=False).encode()))
    return df


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    lead = [c for c in RESULT_COLUMNS if c in df.columns]
    return df[lead + [c for c in df.columns if c not in lead]]


def _result_row(run: _Run, res: Any, data: ECGData, model: str, n_train: int) -> dict[str, Any]:
    h = res.history
    last = h.iloc[-1]
    best_ep = int(res.best_epoch)
    best_val = h.loc[h["epoch"] == best_ep, "val_macro_f1"]
    test = res.test_metrics or {}
    row: dict[str, Any] = {
        "dataset": data.name, "model": model, "policy": run.policy, "seed": run.seed, "epochs": len(h),
        "loss": run.train_config.loss, "macro_f1": float(test.get("macro_f1", float("nan"))),
        "best_val_macro_f1": float(best_val.iloc[0]) if len(best_val) else float("nan"), "best_epoch": best_ep,
        "effective_epochs": float(last["effective_epochs"]),
        "compute_equivalent_epochs": float(last.get("compute_equivalent_epochs", float("nan"))),
        "wall_seconds": float(h["seconds"].sum()),
    }
    for col in sorted(c for c in h.columns if c.startswith("seconds_")):
        row[col] = float(h[col].fillna(0).sum())
    for k in ("balanced_accuracy", "macro_auroc", "loss"):
        if k in test:
            row[f"test_{k}"] = float(test[k])
    row["filter_start"] = getattr(run.policy_obj, "filter_start", None)
    row["kept_frac_last"] = float(last["kept_frac"])
    row["n_train"] = n_train
    stats = None
    judged = run.policy.startswith("xai_") or getattr(run.policy_obj, "quality_filter", False)
    if judged and data.meta is not None and "corrupted" in data.meta.columns:
        stats = filter_precision_recall(res.selection_log.to_dataframe(), data.meta)
    for k in ("precision", "recall", "base_rate"):
        row[f"filter_{k}"] = stats[k] if stats else float("nan")
    row["filter_recall_all"] = stats["recall_all"] if stats else float("nan")
    row["filter_n_dropped"] = stats["n_dropped"] if stats else 0
    row["filter_by_kind"] = stats["by_kind"] if stats else {}
    row["filter_by_class"] = stats["by_class"] if stats else {}
    row.update(class_columns(res, data, int(getattr(run.policy_obj, "warm_up", 0) or 0)))
    row["params"] = run.policy_obj.params()
    row["device"] = res.device
    return row


def _load_data(dataset: str | ECGData, cfg: ExperimentConfig) -> ECGData:
    if isinstance(dataset, ECGData):
        return dataset
    if not isinstance(dataset, str):
        raise TypeError(f"Expected dataset as a name ({', '.join(DATASETS)}) or an ECGData, got {type(dataset).__name__}.")
    return load_dataset(dataset, cfg.data_dir, **cfg.data_kwargs)


def run_grid(dataset: str | ECGData, policies: Sequence[str], seeds: Sequence[int], model: str, epochs: int,
             out_dir: str | os.PathLike, config: ExperimentConfig | Mapping[str, Any] | None = None,
             resume: bool = True, progress: bool = True, *, on_mismatch: str = "raise") -> pd.DataFrame:
    """Train ``model`` once per (policy, seed) and collect one results row per run.

    Args:
        dataset: a name (``synthetic, ptbxl, cinc, mitbih``; loaded with the config's ``data_dir`` and
            ``data_kwargs``) or an :class:`~erts_kit.data.ECGData` already loaded.
        policies: policy names (:func:`erts_kit.selection.list_policies`).
        seeds: seeds; each seeds the model initialisation, the data order and the policy.
        model: backbone name (:func:`erts_kit.models.list_models`).
        epochs: training epochs of every run.
        out_dir: grid folder (one sub-folder per run, see the module docstring).
        config: :class:`ExperimentConfig` or a dict of its fields.
        resume: skip finished runs and resume interrupted ones; ``False`` retrains every run from scratch.
        progress: progress bars (runs, epochs, batches).
        on_mismatch: a run folder holding other settings, or trained on other data (its ``data.json``):
            ``"raise"`` (default: :class:`RunMismatch` / ``DataMismatch``, before any run is trained) or
            ``"overwrite"`` it.

    Returns:
        DataFrame, one row per run (:data:`RESULT_COLUMNS` first, then ``seconds_<phase>``, test
        metrics, ``filter_*``, ``params``, ``device``). ``df.attrs["executed"]`` lists the runs
        trained (or resumed) by this call, ``df.attrs["skipped"]`` the finished ones reused.

    Raises:
        ValueError / TypeError / FileNotFoundError: invalid settings, refused before any training;
            a damaged ``settings.json`` / ``result.json`` / ``history.csv`` (the message names it).
        erts_kit._lock.FolderLocked: another live process writes to ``out_dir``.
        OSError: ``out_dir`` cannot be written (checked before the data is loaded).
    """
    cfg = _as_config(config)
    check_choice("on_mismatch", on_mismatch, ["raise", "overwrite"])
    runs = plan_grid(policies, seeds, model, epochs, cfg, dataset if isinstance(dataset, str) else None)
    with lock_folder(out_dir) as out:
        return _run_locked(runs, _load_data(dataset, cfg), model, out, cfg, resume, progress, on_mismatch)


def _run_locked(runs: list[_Run], data: ECGData, model: str, out: Path, cfg: ExperimentConfig, resume: bool,
                progress: bool, on_mismatch: str) -> pd.DataFrame:
    for run in runs:
        run.settings["data"] = {**data.describe(), "data_kwargs": cfg.data_kwargs}
        run.settings["n_aux"] = data.n_aux   # the model's aux width: what rebuilds it from the folder
        if resume:   # every run checked before any is trained
            _check_settings(out / run.name, run.settings, on_mismatch)
            _check_data(out / run.name, data, on_mismatch)
    rows: list[dict[str, Any]] = []
    executed, skipped = [], []
    n_train = len(data.splits["train"]) if "train" in data.splits else 0
    bar = tqdm(runs, desc="runs", disable=not progress)
    for run in bar:
        bar.set_postfix_str(run.name)
        run_dir = out / run.name
        if not resume and run_dir.exists():
            shutil.rmtree(run_dir)
        result_path = run_dir / "result.json"
        if result_path.exists():
            rows.append(_finished_row(run_dir))
            skipped.append(run.name)
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        _atomic_json(run_dir / "settings.json", run.settings)
        torch.manual_seed(run.seed)
        net = build_model(model, data.n_leads, data.n_classes, n_aux=data.n_aux, **cfg.model_kwargs_for(model))
        t0 = time.perf_counter()
        res = train(net, data, run.policy_obj, run.train_config, run_dir=run_dir, progress=progress, resume=True)
        atomic_write(run_dir / "history.csv", lambda f, h=res.history: f.write(h.to_csv(index=False).encode()))
        res.selection_log.save(run_dir / "selection_log.npz")
        row = _result_row(run, res, data, model, n_train)
        row["process_seconds"] = time.perf_counter() - t0
        _atomic_json(result_path, row)
        rows.append(json.loads(result_path.read_text()))
        executed.append(run.name)
        _write_tables(rows, out)
    df = _write_tables(rows, out)
    df.attrs["executed"], df.attrs["skipped"] = executed, skipped
    return df
