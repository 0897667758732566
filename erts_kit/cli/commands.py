"""The ``erts-kit`` command: demo, train, compare, download, notebooks, gallery.

- ``erts-kit demo``: Full vs DBPD vs ERTS on the synthetic benchmark (flipped labels and artefacts
  in train, so the focus filter has something to find), a comparison table and a report, offline,
  in a few minutes on a laptop CPU.
- ``erts-kit train`` / ``erts-kit compare``: one policy / several policies, any dataset, model and
  seeds, from flags or ``--config file.yaml`` (flags override the file; ``--config paper`` is the
  ERTS reference set-up). Resumable: rerun the same command after an interruption.
- ``erts-kit download ptbxl|mitbih``: fetch a PhysioNet database (resumable, checksum-verified).
- ``erts-kit notebooks ...``: execute the notebook series with papermill (``erts_kit.course.runner``).
- ``erts-kit gallery [--smoke] [--out DIR]``: execute the series and render it as HTML (``erts_kit.course.gallery``).

User errors (unknown names, impossible settings, missing data, damaged input files) print one
line and exit with code 2, before any training starts where they can be known then; failures while
working (disk full, a folder that is not writable, an output folder in use by another process)
print one line and exit with code 1 (:mod:`erts_kit.cli.errors`). The output folder is locked
while a command writes to it, and checked to be writable before any data is loaded. Set
``ERTS_KIT_DEBUG=1`` for the traceback.

Example:
    >>> main(["train", "--policy", "nope"])  # doctest: +SKIP
    erts-kit: error: Unknown policy 'nope': expected one of 'full', 'dbpd', ...
    2
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UserError, error_line, require_lists
from .options import add_data_model_args, data_model_options, real_data_kwargs, split_file_sections

__all__ = ["build_parser", "load_config", "main"]

_FMT = argparse.ArgumentDefaultsHelpFormatter
_DATASETS = ("synthetic", "ptbxl", "cinc", "mitbih")
_SYNTHETIC_KEYS = ("n_samples", "label_flip_rate", "artifact_rate")


def _none_or_int(text: str) -> int | None:
    if text.strip().lower() in ("none", "null", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', got {text!r}") from None


def _none_or_float(text: str) -> float | None:
    if text.strip().lower() in ("none", "null", ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def _names() -> tuple[list[str], list[str]]:
    from ..models import list_models
    from ..selection import list_policies
    return list_models(), list_policies()


# --------------------------------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------------------------------
def _add_training_args(p: argparse.ArgumentParser, command: str) -> None:
    models, policies = _names()
    p.add_argument("--config", default=None,
                   help="YAML file of settings (keys = option names with '_', e.g. warm_up: 5); 'paper' loads the "
                        "packaged ERTS reference set-up (AdamW 3e-4, wd 0.01, StepLR 0.98, batch 32, seed 42, "
                        "100 epochs, cb_ce for PDD/ERTS, plain CE for Full). Flags given on the command line win")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="synthetic", help=f"dataset: {', '.join(_DATASETS)}")
    g.add_argument("--data-dir", default=None,
                   help="folder of a real database; None means data/ptbxl, data/cpsc2018 or data/mitdb "
                        "(mitbih: several folders separated by commas, e.g. data/ds1,data/ds2)")
    g.add_argument("--n-samples", type=int, default=2000, help="synthetic only: number of records")
    g.add_argument("--label-flip-rate", type=float, default=0.1,
                   help="synthetic only: share of training samples with a wrong label")
    g.add_argument("--artifact-rate", type=float, default=0.1,
                   help="synthetic only: share of training samples with a heavy artefact")
    g.add_argument("--fs", type=float, default=None,
                   help="sampling rate in Hz: cinc and mitbih resample every record to it (None: the records' own "
                        "rate); ptbxl reads records100 (100) or records500 (500)")
    g.add_argument("--class-order", default="kit", choices=["kit", "reference"],
                   help="cinc only: label indices in the kit's order or in the ERTS reference code's "
                        "(PTB-XL's order is the same in both)")
    data_group = g
    g = p.add_argument_group("model and policy")
    g.add_argument("--model", default="small_cnn", help=f"backbone: {', '.join(models)}")
    add_data_model_args(data_group, g)
    if command == "train":
        g.add_argument("--policy", default="xai_dbpd", help=f"selection policy: {', '.join(policies)}")
    else:
        g.add_argument("--policies", nargs="+", default=["full", "dbpd", "xai_dbpd"],
                       help=f"selection policies to compare: any of {', '.join(policies)}")
    g.add_argument("--tau", type=float, default=0.3, help="DBPD/SMRD: keep samples with p_true < tau (0: misclassified)")
    g.add_argument("--phi", type=float, default=0.7, help="ERTS: share of PDD candidates kept, in (0, 1]")
    g.add_argument("--gamma", type=float, default=0.99, help="SRD: keep int(gamma**epoch * batch) per batch, in (0, 1]")
    g.add_argument("--warm-up", type=int, default=5, help="PDD/ERTS: epochs 0..warm_up-1 use every sample")
    g.add_argument("--cam-start", type=int, default=3,
                   help="ERTS: epochs after warm-up before the focus filter starts (filter from warm_up + cam_start)")
    g.add_argument("--start-revision", type=_none_or_int, default=None,
                   help="PDD/ERTS: first revision epoch (every sample again), >= warm_up; none: no revision")
    g.add_argument("--focus", default="topk_mean", help="ERTS focus score (erts_kit.explain.FOCUS_SCORES)")
    g.add_argument("--class-floor", type=float, default=0.0,
                   help="PDD/ERTS: keep at least this share of each class's samples in a batch (hardest dropped "
                        "first), in [0, 1]; 0: off")
    g.add_argument("--fidelity", default="kit", choices=["kit", "reference"],
                   help="kit: the kit's own choices; reference: behave as the ERTS reference code (lead padding, "
                        "Grad-CAM ReLU order, DBPD rescue, loss reduction, train-mode fp32 scoring passes, "
                        "MobileNetV2 head); see erts_kit.training.fidelity")
    g = p.add_argument_group("training")
    g.add_argument("--seeds", type=int, nargs="+", default=[42], help="one run per seed")
    g.add_argument("--epochs", type=int, default=10, help="training epochs per run")
    g.add_argument("--batch-size", type=int, default=32, help="batch size")
    g.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate")
    g.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay")
    g.add_argument("--lr-gamma", type=float, default=0.98, help="StepLR decay per epoch")
    g.add_argument("--loss", default="ce", help="loss: ce, cb_ce (class-balanced) or bce (multi-label)")
    g.add_argument("--cb-beta", type=float, default=0.9999, help="cb_ce: beta of the effective number of samples")
    g.add_argument("--cb-max-weight-ratio", type=_none_or_float, default=50.0,
                   help="cb_ce: largest class weight at most this many times the smallest; none: no cap")
    g.add_argument("--sampler", default="shuffle",
                   help="shuffle, or class_balanced (every class drawn equally often, with replacement)")
    g.add_argument("--select-after-warmup", action="store_true",
                   help="choose the best checkpoint only among epochs >= the policy's warm_up")
    g.add_argument("--full-loss", default="same",
                   help="loss of the full-data baseline; 'same' = --loss (the paper used ce with cb_ce elsewhere)")
    g.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    g.add_argument("--out", default=f"runs/{command}", help="output folder (one sub-folder per run, results, report)")
    g.add_argument("--no-resume", action="store_true",
                   help="retrain every run from scratch instead of skipping finished runs and resuming interrupted ones")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    """The ``erts-kit`` argument parser (every option's help shows its default).

    Example:
        >>> build_parser().parse_args(["compare", "--seeds", "1", "2"]).seeds
        [1, 2]
    """
    ap = argparse.ArgumentParser(prog="erts-kit", formatter_class=_FMT,
                                 description="ERTS (explanation-guided sample selection) on top of Progressive "
                                             "Data Dropout, for ECG classification.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = _demo_defaults()
    p = sub.add_parser("demo", formatter_class=_FMT, help="Full vs DBPD vs ERTS on synthetic ECGs, with a report",
                       description="Train Full, DBPD and ERTS (xai_dbpd) with small_cnn on the synthetic benchmark "
                                   "(flipped labels and artefacts in the training split), print the comparison "
                                   "table and write report.md / report.html with figures. Offline. The ERTS schedule "
                                   "is scaled to the short run (see erts_kit/configs/demo.yaml).")
    p.add_argument("--out", default="runs/demo", help="output folder")
    p.add_argument("--epochs", type=int, default=demo["epochs"], help="epochs per policy")
    p.add_argument("--n-samples", type=int, default=demo["n_samples"], help="synthetic records (70%% train)")
    p.add_argument("--seed", type=int, default=demo["seed"], help="seed of the model, data order and policies")
    p.add_argument("--smoke", action="store_true", help="tiny run (seconds) to check the installation")
    p.add_argument("--overwrite", action="store_true",
                   help="replace runs in --out made with other settings (without it the demo refuses to touch them)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("train", formatter_class=_FMT, help="train one policy (one run per seed)",
                       description="Train one model with one selection policy, once per seed; write results.csv, "
                                   "results.json and the report into --out.")
    _add_training_args(p, "train")
    p.set_defaults(func=_cmd_grid)
    p = sub.add_parser("compare", formatter_class=_FMT, help="compare policies (policies x seeds), resumable",
                       description="Train one model per (policy, seed); rerunning the same command skips finished "
                                   "runs and resumes an interrupted one from its last.pt.")
    _add_training_args(p, "compare")
    p.set_defaults(func=_cmd_grid)
    p = sub.add_parser("download", formatter_class=_FMT, help="download PTB-XL or MIT-BIH from PhysioNet",
                       description="Download a PhysioNet database (resumable, SHA-256 verified).")
    p.add_argument("name", help="database: ptbxl or mitbih")
    p.add_argument("--dir", default=None, help="folder to download into; None means data/ptbxl or data/mitdb")
    p.add_argument("--fs", type=int, default=100, help="PTB-XL sampling rate to fetch: 100 or 500")
    p.add_argument("--records", nargs="+", default=None, help="MIT-BIH only: just these records (default all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_download)
    sub.add_parser("notebooks", add_help=False, help="run the notebook series with papermill "
                                                      "(options: erts-kit notebooks --help)")
    sub.add_parser("gallery", add_help=False, help="execute the series and render it as HTML "
                                                    "(options: erts-kit gallery --help)")
    return ap


def _explicit(argv: Sequence[str]) -> set[str]:
    """Names of the options typed on the command line (parsed again with every default suppressed)."""
    ap = build_parser()
    stack = [ap]
    while stack:
        p = stack.pop()
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                stack.extend(a.choices.values())
            elif a.dest != "help":
                a.default = argparse.SUPPRESS
    return set(vars(ap.parse_args(list(argv))))


# --------------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------------
def _packaged(name: str) -> Path:
    return Path(str(resources.files("erts_kit") / "configs" / f"{name}.yaml"))


def load_config(path_or_name: str) -> dict[str, Any]:
    """Read a YAML settings file; ``'paper'``, ``'demo'``, ``'mitbih_beats'`` are the packaged ones.

    Raises:
        FileNotFoundError: no such file (the message names the packaged ones).
        ValueError: the file is not valid YAML (a YAML tag such as ``!!python/object`` included) or not UTF-8.
        TypeError: the file is not a YAML mapping.

    Example:
        >>> c = load_config("paper")
        >>> c["lr"], c["batch_size"], c["epochs"], c["loss"], c["full_loss"]
        (0.0003, 32, 100, 'cb_ce', 'ce')
    """
    import yaml
    found = sorted(p.stem for p in Path(str(resources.files("erts_kit") / "configs")).glob("*.yaml"))
    packaged = [n for n in ("paper", "demo") if n in found] + [n for n in found if n not in ("paper", "demo")]
    path = _packaged(path_or_name) if path_or_name in packaged else Path(path_or_name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Config file {path} not found: pass a YAML file or one of the packaged "
                                f"configs {', '.join(map(repr, packaged))}.")
    try:
        with open(path, encoding="utf-8") as f:
            d = yaml.safe_load(f) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        raise ValueError(f"Cannot read the config file {path}{where}: {' '.join(str(what).split())}. Fix the file: "
                         "plain 'key: value' lines, no YAML tags such as !!python/...") from None
    if not isinstance(d, dict):
        raise TypeError(f"Expected {path} to hold a YAML mapping (key: value lines), got {type(d).__name__}.")
    return d


def _demo_defaults() -> dict[str, Any]:
    return load_config("demo")


def _settings(args: argparse.Namespace, explicit: set[str]) -> dict[str, Any]:
    """argparse defaults < --config file < flags typed on the command line."""
    skip = {"func", "command", "config", "no_resume", "no_progress"}
    s = {k: v for k, v in vars(args).items() if k not in skip}
    file: dict[str, Any] = {}
    if args.config:
        file = split_file_sections(load_config(args.config), args.config)
        sections = {"_data": file.pop("_data"), "_model": file.pop("_model")}
        allowed = set(s) | {"policy", "policies", "seed"}
        bad = sorted(set(file) - allowed, key=str)
        if bad:
            raise UserError(f"Unknown setting(s) {', '.join(map(str, bad))} in {args.config}: expected any of "
                            f"{', '.join(sorted(allowed))}.")
        require_lists(file, ["seeds", "policies"], args.config)
        for k, v in file.items():
            if k == "seed" and "seeds" not in file:
                k, v = "seeds", [v]
            if k in s and k not in explicit:
                s[k] = v
    if isinstance(s.get("seeds"), int):
        s["seeds"] = [s["seeds"]]
    if "dataset" in s and "model" in s:   # train / compare: the reader's and the model's options, checked
        _validate_names(s["dataset"], s["model"], [])
        s["data_options"], s["model_options"] = data_model_options(
            args, explicit, sections if args.config else None, args.config or "the command line", s["dataset"],
            s["model"])
    return s


def _experiment_config(s: dict[str, Any]):
    from ..results import ExperimentConfig
    data_kwargs = {k: s[k] for k in _SYNTHETIC_KEYS} if s["dataset"] == "synthetic" else {}
    if s["dataset"] == "synthetic":
        data_kwargs["seed"] = int(s.get("data_seed", 42))
    data_kwargs.update(real_data_kwargs(s))
    data_kwargs.update(s.get("data_options") or {})
    keys = ("batch_size", "lr", "weight_decay", "lr_gamma", "loss", "full_loss", "cb_beta", "device", "tau", "phi", "gamma",
            "warm_up", "cam_start", "start_revision", "focus", "data_dir", "sampler", "cb_max_weight_ratio",
            "select_after_warmup", "class_floor", "fidelity")
    return ExperimentConfig.from_dict({**{k: s[k] for k in keys if k in s}, "data_kwargs": data_kwargs,
                                       "model_kwargs": dict(s.get("model_options") or {})})


def _validate_names(dataset: str, model: str, policies: Sequence[str]) -> None:
    from .._validation import check_choice
    models, pols = _names()
    check_choice("dataset", dataset, _DATASETS)
    check_choice("model", model, models)
    for p in policies:
        check_choice("policy", str(p).strip().lower().replace("-", "_"), pols)


# --------------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------------
def _cmd_grid(args: argparse.Namespace, explicit: set[str]) -> int:
    from ..results import plan_grid
    s = _settings(args, explicit)
    policies = [s["policy"]] if args.command == "train" else list(s["policies"])
    if not isinstance(policies, list) or not policies:
        raise UserError(f"Expected at least one policy, got {policies!r}.")
    _validate_names(s["dataset"], s["model"], policies)
    cfg = _experiment_config(s)
    plan_grid(policies, s["seeds"], s["model"], s["epochs"], cfg, s["dataset"])   # refuse before loading data
    from .._lock import lock_folder
    from .run import check_data_folder, grid_locked
    check_data_folder(s["dataset"], cfg.data_dir)
    with lock_folder(s["out"]) as out:    # writable and ours, before loading data
        return grid_locked(args, s, policies, cfg, out)


def _demo_schedule(epochs: int, warm_up: int, cam_start: int) -> tuple[int, int]:
    """Shrink warm-up / cam_start so the ERTS filter runs in at least one epoch of a short demo."""
    if warm_up + cam_start < epochs:
        return warm_up, cam_start
    cam_start = min(cam_start, max(0, epochs - 1))
    return max(0, min(warm_up, epochs - 1 - cam_start)), cam_start


def _cmd_demo(args: argparse.Namespace, explicit: set[str]) -> int:
    from .._validation import check_int
    from ..results import ExperimentConfig
    t0 = time.perf_counter()
    d = _demo_defaults()
    smoke = d.pop("smoke", {}) or {}
    if args.smoke:
        d.update(smoke)
    for k in ("epochs", "n_samples", "seed"):
        if k in explicit or not args.smoke:
            d[k] = getattr(args, k)
    check_int("epochs", d["epochs"], minimum=1)
    check_int("n_samples", d["n_samples"], minimum=30)
    check_int("seed", d["seed"], minimum=0)
    warm_up, cam_start = _demo_schedule(d["epochs"], d["warm_up"], d["cam_start"])
    cfg = ExperimentConfig.from_dict({
        **{k: d[k] for k in ("batch_size", "lr", "weight_decay", "lr_gamma", "loss", "full_loss", "tau", "phi",
                             "focus", "start_revision")},
        "warm_up": warm_up, "cam_start": cam_start, "device": args.device,
        "data_kwargs": {"n_samples": d["n_samples"], "label_flip_rate": d["label_flip_rate"],
                        "artifact_rate": d["artifact_rate"], "seed": d["seed"],
                        "duration_s": float(d.get("duration_s", 10.0))}})
    from .._lock import lock_folder
    from .run import demo_locked
    with lock_folder(args.out) as out:    # writable and ours, before loading data
        return demo_locked(args, d, cfg, warm_up, cam_start, out, t0)


def _cmd_download(args: argparse.Namespace, explicit: set[str]) -> int:
    from .._validation import check_choice
    from ..data import DEFAULT_DATA_DIRS
    from ..data.download import download_database
    check_choice("database", args.name, ["ptbxl", "mitbih"])
    dest = args.dir or DEFAULT_DATA_DIRS[args.name]
    path = download_database(args.name, dest, fs=args.fs, records=args.records, progress=not args.no_progress)
    hint = f"--dataset {args.name} --data-dir {path}"
    print(f"{args.name} is in {path}; use it with: erts-kit compare {hint}")
    return 0


def _cmd_notebooks(argv: Sequence[str]) -> int:
    try:
        from ..course import runner as notebooks
    except ImportError as exc:  # pragma: no cover - the module ships with the kit
        raise UserError(f"erts_kit.course.runner is not available ({exc}).") from None
    return int(notebooks.main(list(argv)) or 0)


def _cmd_gallery(argv: Sequence[str]) -> int:
    from ..course import gallery
    return int(gallery.main(list(argv)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``erts-kit`` command line; return the exit code (2: bad input, 1: a failure, 130: Ctrl-C).

    Every error becomes one line on stderr (:func:`erts_kit.cli.errors.error_line`).

    Example:
        >>> main(["download", "nope"])  # doctest: +SKIP
        2
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "notebooks":
            return _cmd_notebooks(argv[1:])
        if argv and argv[0] == "gallery":
            return _cmd_gallery(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args, _explicit(argv)))
    except KeyboardInterrupt:
        print("\nerts-kit: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("ERTS_KIT_DEBUG"):
            raise
        line, code = error_line(exc)
        print(f"erts-kit: error: {line}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
