"""Grids of training runs (policies x seeds) -> one results table, resumable, plus the filter's ground truth.

:func:`run_grid` trains one model per (policy, seed) with :func:`erts_kit.train.train` and writes,
for each run, ``<out_dir>/<policy>_seed<k>/``:

- ``settings.json`` (written first: what the run is; a rerun with other settings is refused),
- ``last.pt`` / ``best.pt`` (the training loop's checkpoints: an interrupted run resumes from ``last.pt``),
- ``history.csv`` (one row per epoch) and ``selection_log.npz`` (every per-sample decision),
- ``result.json`` (written atomically when the run is finished: its row of the results table).

A rerun skips every run whose ``result.json`` exists and resumes the others. After each run the
whole table is rewritten as ``<out_dir>/results.csv`` and ``results.json``.

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
import math
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

from ._atomic import atomic_write
from ._validation import check_choice, check_int
from .data import DATASETS, ECGData, load_dataset
from .selection import Decision, SelectionLog, list_policies, make_policy
from .train import TrainConfig, pick_device, train

__all__ = [
    "RESULT_COLUMNS",
    "ExperimentConfig",
    "build_policy",
    "filter_precision_recall",
    "filter_table",
    "load_histories",
    "pick_examples",
    "plan_grid",
    "run_grid",
    "run_name",
    "summarise",
]

RESULT_COLUMNS = ["dataset", "model", "policy", "seed", "epochs", "loss", "macro_f1", "best_val_macro_f1",
                  "best_epoch", "effective_epochs", "compute_equivalent_epochs", "wall_seconds",
                  "filter_precision", "filter_recall", "filter_base_rate", "filter_n_dropped"]
"""Leading columns of the results table (per-phase ``seconds_<phase>`` and test metrics follow)."""

_FILTERED = ("DROPPED_LOW_FOCUS", "RESCUED")
_CANDIDATE = ("KEPT", "DROPPED_LOW_FOCUS", "RESCUED")
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
        ValueError: Unknown setting 'ph': expected any of batch_size, lr, weight_decay, lr_gamma, loss, full_loss, cb_beta, device, amp, eval_every, num_workers, tau, phi, gamma, warm_up, cam_start, start_revision, focus, data_dir, data_kwargs, model_kwargs.
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
    data_dir: str | None = None
    data_kwargs: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)

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
    params = {k: getattr(cfg, k) for k in ("tau", "phi", "gamma", "warm_up", "cam_start", "start_revision", "focus")
              if k in takes}
    return make_policy(key, seed=seed, **params)


def _train_config(cfg: ExperimentConfig, policy: str, seed: int, epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                       lr_gamma=cfg.lr_gamma, loss=cfg.loss_for(policy), cb_beta=cfg.cb_beta, seed=seed,
                       device=cfg.device, amp=cfg.amp, num_workers=cfg.num_workers, eval_every=cfg.eval_every,
                       focus_score=cfg.focus)


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
    from .models import list_models
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
    for what, items in (("policies", policies), ("seeds", seeds)):
        if len(set(items)) != len(items):
            raise ValueError(f"Expected distinct {what}, got {list(items)}.")
    pick_device(cfg.device)
    runs = []
    for name in policies:
        for seed in seeds:
            pol = build_policy(name, cfg, seed)
            start = getattr(pol, "filter_start", None)
            if start is not None and start >= epochs:
                raise ValueError(f"Policy {pol.name!r} starts its focus filter at epoch {start} (warm_up "
                                 f"{pol.warm_up} + cam_start {pol.cam_start}, counted from 0), but the run has "
                                 f"only {epochs} epochs: the result would be plain {pol.base.name.upper()}. "
                                 "Lower --warm-up/--cam-start or raise --epochs.")
            tc = _train_config(cfg, pol.name, seed, epochs)
            settings = {"model": model, "model_kwargs": dict(cfg.model_kwargs), "policy": pol.params(),
                        "train": {k: v for k, v in asdict(tc).items() if k not in _SETTINGS_FREE}, "epochs": epochs}
            runs.append(_Run(pol.name, seed, pol, tc, settings))
    return runs


# --------------------------------------------------------------------------------------------------
# filter ground truth
# --------------------------------------------------------------------------------------------------
def _decision_names(dec: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(dec.dtype) and not isinstance(dec.dtype, pd.CategoricalDtype):
        return np.array([Decision(int(v)).name for v in dec.to_numpy()], dtype=object)
    return dec.astype(str).str.upper().to_numpy(dtype=object)


def filter_precision_recall(selection_log_df: pd.DataFrame, meta: pd.DataFrame) -> dict[str, Any]:
    """How well "dropped for low focus" finds the corrupted samples, over the epochs the ERTS filter ran.

    Counts are sample-epochs (a sample dropped in 3 filter epochs counts 3 times). Filter epochs are
    those with a DROPPED_LOW_FOCUS or RESCUED decision or a computed focus; the filter's candidates
    are the rows it judged (KEPT, DROPPED_LOW_FOCUS, RESCUED; a rescued sample counts as kept).

    - ``precision`` = corrupted among the dropped; compare with ``base_rate`` = corrupted among the
      candidates (what dropping at random would give);
    - ``recall`` = dropped among the corrupted candidates; ``recall_all`` = among every corrupted
      row of those epochs (PDD's confident drops included);
    - ``by_kind``: per kind of sample (``clean``, ``label_flip`` and each ``artifact_kind``):
      candidates, dropped and drop rate (a flipped sample with an artefact counts in both kinds);
    - ``by_class``: the same for the *clean* candidates of each true class (needs ``class_true`` in
      ``meta``; keys ``"<class> (<evidence_kind>)"``): are classes with diffuse evidence (AF, ST) dropped
      more often than those with one local event (PVC, PAC)?

    Args:
        selection_log_df: :meth:`SelectionLog.to_dataframe` (columns ``epoch, index, decision``;
            ``decision`` as names or :class:`~erts_kit.selection.Decision` values; ``focus`` optional).
        meta: per-sample ground truth indexed by dataset index, with a bool ``corrupted`` column
            (``flipped`` and ``artifact_kind`` optional), as :func:`~erts_kit.data.make_synthetic` gives.

    Returns:
        dict with ``precision, recall, recall_all, base_rate, n_candidates, n_dropped,
        n_corrupted_candidates, n_true_positive, epochs, by_kind, by_class``; rates are NaN where undefined
        (e.g. no filter epoch: a non-ERTS policy).

    Raises:
        ValueError: ``meta`` has no ``corrupted`` column (no ground truth: real databases).

    Example:
        >>> log = pd.DataFrame({"epoch": [3, 3, 3, 3], "index": [0, 1, 2, 3],
        ...                     "decision": ["DROPPED_LOW_FOCUS", "DROPPED_LOW_FOCUS", "KEPT", "KEPT"]})
        >>> meta = pd.DataFrame({"corrupted": [True, False, True, False]})
        >>> r = filter_precision_recall(log, meta)
        >>> r["precision"], r["recall"], r["base_rate"]
        (0.5, 0.5, 0.5)
    """
    if "corrupted" not in meta.columns:
        raise ValueError("meta has no 'corrupted' column: the filter's precision/recall needs ground truth "
                         "(the synthetic dataset has it; real databases do not).")
    for col in ("epoch", "index", "decision"):
        if col not in selection_log_df.columns:
            raise ValueError(f"Expected a selection log with columns epoch, index, decision, got "
                             f"{list(selection_log_df.columns)}: pass SelectionLog.to_dataframe().")
    df = selection_log_df
    dec = _decision_names(df["decision"])
    idx = df["index"].to_numpy(np.int64)
    if len(idx) and idx.max() >= len(meta):
        raise ValueError(f"The log refers to dataset index {idx.max()}, but meta has {len(meta)} rows: pass "
                         "the meta of the whole dataset (data.meta), not of one split.")
    active = np.isin(dec, _FILTERED)
    if "focus" in df.columns:
        active |= np.isfinite(df["focus"].to_numpy(np.float64))
    epochs = sorted(int(e) for e in np.unique(df["epoch"].to_numpy()[active]))
    in_ep = np.isin(df["epoch"].to_numpy(), epochs)
    corrupted = meta["corrupted"].to_numpy(bool)[idx]
    cand = in_ep & np.isin(dec, _CANDIDATE)
    dropped = in_ep & (dec == "DROPPED_LOW_FOCUS")
    tp = int((dropped & corrupted).sum())
    n_cand, n_drop = int(cand.sum()), int(dropped.sum())
    n_cc = int((cand & corrupted).sum())
    n_corr_all = int((in_ep & corrupted).sum())

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    kinds: dict[str, np.ndarray] = {"clean": ~corrupted}
    if "flipped" in meta.columns:
        kinds["label_flip"] = meta["flipped"].to_numpy(bool)[idx]
    if "artifact_kind" in meta.columns:
        ak = meta["artifact_kind"].astype(str).to_numpy()[idx]
        for k in sorted(set(ak) - {"none"}):
            kinds[k] = ak == k
    def rates(groups: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        return {k: {"n_candidates": int((cand & m).sum()), "n_dropped": int((dropped & m).sum()),
                    "drop_rate": ratio(int((dropped & m).sum()), int((cand & m).sum()))} for k, m in groups.items()}

    classes: dict[str, np.ndarray] = {}
    if "class_true" in meta.columns:
        true_cls = meta["class_true"].astype(str).to_numpy()[idx]
        evidence = (meta["evidence_kind"].astype(str).to_numpy()[idx] if "evidence_kind" in meta.columns
                    else np.full(len(idx), "?", dtype=object))
        for c in pd.unique(meta["class_true"].astype(str)):
            m = true_cls == c
            ev = evidence[m][0] if m.any() else "?"
            classes[f"{c} ({ev})"] = m & ~corrupted
    return {"precision": ratio(tp, n_drop), "recall": ratio(tp, n_cc), "recall_all": ratio(tp, n_corr_all),
            "base_rate": ratio(n_cc, n_cand), "n_candidates": n_cand, "n_dropped": n_drop,
            "n_corrupted_candidates": n_cc, "n_true_positive": tp, "epochs": epochs, "by_kind": rates(kinds),
            "by_class": rates(classes)}


def filter_table(stats: Mapping[str, Any]) -> pd.DataFrame:
    """The ``by_kind`` part of :func:`filter_precision_recall` as a table (one row per kind).

    Example:
        >>> filter_table({"by_kind": {"clean": {"n_candidates": 4, "n_dropped": 1, "drop_rate": 0.25}}}).to_dict("index")
        {'clean': {'n_candidates': 4, 'n_dropped': 1, 'drop_rate': 0.25}}
    """
    out = pd.DataFrame.from_dict(dict(stats.get("by_kind") or {}), orient="index",
                                 columns=["n_candidates", "n_dropped", "drop_rate"])
    out.index.name = "kind"
    return out


# --------------------------------------------------------------------------------------------------
# results table
# --------------------------------------------------------------------------------------------------
def summarise(results_df: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds, per (dataset, model, policy), in the grid's policy order.

    Columns: ``n_seeds`` and ``<metric>_mean`` / ``<metric>_std`` for macro_f1, best_val_macro_f1,
    effective_epochs, compute_equivalent_epochs, wall_seconds and the filter's precision/recall
    (std is NaN with one seed).

    Example:
        >>> df = pd.DataFrame({"dataset": "s", "model": "m", "policy": ["full", "full", "dbpd"],
        ...                    "seed": [1, 2, 1], "macro_f1": [0.5, 0.7, 0.4]})
        >>> s = summarise(df)
        >>> s[["policy", "n_seeds", "macro_f1_mean"]].round(3).values.tolist()
        [['full', 2, 0.6], ['dbpd', 1, 0.4]]
        >>> round(float(s["macro_f1_std"].iloc[0]), 4)
        0.1414
    """
    for col in ("policy", "seed"):
        if col not in results_df.columns:
            raise ValueError(f"Expected a results table with a {col!r} column (run_grid's output), "
                             f"got columns {list(results_df.columns)}.")
    keys = [k for k in ("dataset", "model", "policy") if k in results_df.columns]
    metrics = [m for m in ("macro_f1", "best_val_macro_f1", "effective_epochs", "compute_equivalent_epochs",
                           "wall_seconds", "filter_precision", "filter_recall", "filter_base_rate")
               if m in results_df.columns]
    df = results_df.copy()
    for m in metrics:
        df[m] = pd.to_numeric(df[m], errors="coerce")
    g = df.groupby(keys, sort=False)
    out = g.size().rename("n_seeds").to_frame()
    for m in metrics:
        out[f"{m}_mean"] = g[m].mean()
        out[f"{m}_std"] = g[m].std(ddof=1)
    return out.reset_index()


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, Path):
        return str(v)
    return v


def _atomic_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(_jsonable(obj), indent=1).encode()))


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
    if run.policy.startswith("xai_") and data.meta is not None and "corrupted" in data.meta.columns:
        stats = filter_precision_recall(res.selection_log.to_dataframe(), data.meta)
    for k in ("precision", "recall", "base_rate"):
        row[f"filter_{k}"] = stats[k] if stats else float("nan")
    row["filter_recall_all"] = stats["recall_all"] if stats else float("nan")
    row["filter_n_dropped"] = stats["n_dropped"] if stats else 0
    row["filter_by_kind"] = stats["by_kind"] if stats else {}
    row["filter_by_class"] = stats["by_class"] if stats else {}
    row["params"] = run.policy_obj.params()
    row["device"] = res.device
    return row


def _check_settings(run_dir: Path, settings: dict[str, Any], on_mismatch: str) -> None:
    path = run_dir / "settings.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())
    if old == _jsonable(settings):
        return
    if on_mismatch == "overwrite":
        shutil.rmtree(run_dir)
        return
    raise ValueError(f"{run_dir} holds a run with other settings ({path}). Use another --out folder, delete "
                     f"{run_dir}, or pass resume=False to retrain it.")


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
        on_mismatch: a run folder holding another setting: ``"raise"`` (default) or ``"overwrite"`` it.

    Returns:
        DataFrame, one row per run (:data:`RESULT_COLUMNS` first, then ``seconds_<phase>``, test
        metrics, ``filter_*``, ``params``, ``device``). ``df.attrs["executed"]`` lists the runs
        trained (or resumed) by this call, ``df.attrs["skipped"]`` the finished ones reused.

    Raises:
        ValueError / TypeError / FileNotFoundError: invalid settings, refused before any training.
    """
    cfg = _as_config(config)
    check_choice("on_mismatch", on_mismatch, ["raise", "overwrite"])
    runs = plan_grid(policies, seeds, model, epochs, cfg, dataset if isinstance(dataset, str) else None)
    data = _load_data(dataset, cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from .models import build_model
    rows: list[dict[str, Any]] = []
    executed, skipped = [], []
    n_train = len(data.splits["train"]) if "train" in data.splits else 0
    bar = tqdm(runs, desc="runs", disable=not progress)
    for run in bar:
        bar.set_postfix_str(run.name)
        run_dir = out / run.name
        run.settings["data"] = {**data.describe(), "data_kwargs": cfg.data_kwargs}
        if not resume and run_dir.exists():
            shutil.rmtree(run_dir)
        _check_settings(run_dir, run.settings, on_mismatch)
        result_path = run_dir / "result.json"
        if result_path.exists():
            rows.append(json.loads(result_path.read_text()))
            skipped.append(run.name)
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        _atomic_json(run_dir / "settings.json", run.settings)
        torch.manual_seed(run.seed)
        net = build_model(model, data.n_leads, data.n_classes, **cfg.model_kwargs)
        t0 = time.perf_counter()
        res = train(net, data, run.policy_obj, run.train_config, run_dir=run_dir, progress=progress, resume=True)
        res.history.to_csv(run_dir / "history.csv", index=False)
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


# --------------------------------------------------------------------------------------------------
# reading runs back: histories, examples for the report
# --------------------------------------------------------------------------------------------------
def load_histories(out_dir: str | os.PathLike, results_df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{run name: history}`` of the runs in ``results_df``, read from ``<out_dir>/<run>/history.csv``.

    Example:
        >>> load_histories("/nonexistent", pd.DataFrame({"policy": [], "seed": []}))
        {}
    """
    out = {}
    for pol, seed in results_df[["policy", "seed"]].itertuples(index=False, name=None):
        path = Path(out_dir) / run_name(pol, int(seed)) / "history.csv"
        if path.exists():
            out[run_name(pol, int(seed))] = pd.read_csv(path)
    return out


def pick_examples(run_dir: str | os.PathLike, data: ECGData, model: str, n: int = 3,
                  model_kwargs: Mapping[str, Any] | None = None, lead: int | None = None) -> dict[str, list]:
    """Kept and dropped-for-low-focus samples of an ERTS run's last filter epoch, with Grad-CAM maps.

    Takes the ``n`` kept candidates with the highest combined score and the ``n`` dropped ones with
    the lowest, and computes their true-class (observed label) Grad-CAM with the run's best weights
    (``best.pt``): the decision itself was taken with the weights of that epoch.

    Returns:
        ``{"kept": [Example...], "dropped": [Example...]}`` (:class:`erts_kit.report.Example`); empty
        lists if the run has no filter epoch.
    """
    from .checkpoint import load_checkpoint
    from .explain import gradcam
    from .models import build_model
    from .report import Example

    run_dir = Path(run_dir)
    log = SelectionLog.load(run_dir / "selection_log.npz").to_dataframe()
    dec = _decision_names(log["decision"])
    filt = log[np.isin(dec, _FILTERED)]
    if filt.empty:
        return {"kept": [], "dropped": []}
    epoch = int(filt["epoch"].max())
    ep = log[log["epoch"] == epoch]
    ep_dec = _decision_names(ep["decision"])
    kept = ep[np.isin(ep_dec, ("KEPT", "RESCUED")) & ep["focus"].notna()].sort_values("combined", ascending=False)
    dropped = ep[ep_dec == "DROPPED_LOW_FOCUS"].sort_values("combined")
    net = build_model(model, data.n_leads, data.n_classes, **dict(model_kwargs or {}))
    net.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    net.eval()
    lead = (1 if data.n_leads > 1 else 0) if lead is None else lead
    out: dict[str, list] = {}
    for kind, rows in (("kept", kept.head(n)), ("dropped", dropped.head(n))):
        idx = rows["index"].to_numpy(np.int64)
        if len(idx) == 0:
            out[kind] = []
            continue
        x = torch.as_tensor(np.asarray(data.signals[idx]), dtype=torch.float32)
        y = torch.as_tensor(data.labels[idx])
        y = (y.float().argmax(1) if y.dim() == 2 else y).long()   # multi-hot: first positive class
        cams = gradcam(net, x, y).numpy()
        items = []
        for j, r in enumerate(rows.itertuples(index=False)):
            i = int(r.index)
            items.append(Example(signal=np.asarray(data.signals[i]), fs=float(data.fs), cam=cams[j],
                                 title=_example_title(data, i, epoch, float(r.p_true), float(r.focus)),
                                 mask=None if data.evidence_mask is None else data.evidence_mask[i], lead=lead))
        out[kind] = items
    return out


def _example_title(data: ECGData, i: int, epoch: int, p_true: float, focus: float) -> str:
    m = data.meta.iloc[i] if data.meta is not None else pd.Series(dtype=object)
    label = data.class_names[int(data.labels[i])] if data.labels.ndim == 1 else "multi-label"
    parts = [f"#{i} label {label}"]
    if "class_true" in m and str(m["class_true"]) != label:
        parts.append(f"(true {m['class_true']}: FLIPPED)")
    if "artifact_kind" in m and str(m["artifact_kind"]) != "none":
        parts.append(f"artefact: {m['artifact_kind']}")
    parts.append(f"| epoch {epoch}, p_true {p_true:.2f}, focus {focus:.2f}")
    return " ".join(parts)
