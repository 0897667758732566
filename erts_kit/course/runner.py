"""Execute the notebook series with papermill, log each runtime, and report every failure at once.

For course staff (batch runs of parameterised assignments) and for the test-suite. Each notebook
runs in its own kernel; its executed copy goes to ``output_dir`` (``notebooks/_executed/``, git-ignored).
A notebook counts as failed when a cell raises, **or** when its executed copy holds an error output,
a stderr traceback, or a widget (Output widget state) that shows one: ipywidgets callbacks swallow
exceptions, so without this scan a notebook whose explorer shows a traceback would pass.

Every cell runs under a per-cell timeout (:data:`DEFAULT_CELL_TIMEOUT_S` unless given; ``0``: none);
a cell that times out fails its notebook and is named by index and first line. Notebooks execute
with :mod:`erts_kit.course.engine`, papermill's engine without the lost-reply stall of widget cells.

Convention the runner relies on (checked by ``tests/test_notebooks.py``): every numbered notebook
``NN_name.ipynb`` has exactly one cell tagged ``parameters`` defining at least ``SMOKE, SEED,
DATASET, DATA_DIR, MODEL, POLICY, EPOCHS``. The runner always passes ``SMOKE`` (True unless
``smoke=False`` / ``--full``): smoke mode makes a notebook run in seconds to a minute on a CPU.
Every other parameter name must be an identifier that the notebook's ``parameters`` cell assigns
(:mod:`erts_kit.course.nbparams`): papermill writes names as code, so an unknown or code-like name
stops the run before any kernel starts.

Command line::

    python -m erts_kit.course.runner [--params file.yaml] [--out dir] [--full] [names...]

Example:
    >>> split_parameters({"all": {"SEED": 1}, "03_gradcam": {"EPOCHS": 2}}, "03_gradcam", smoke=True)
    {'SMOKE': True, 'SEED': 1, 'EPOCHS': 2}
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from .nbparams import check_parameter_names, notebook_parameter_names
from .scan import WIDGET_STATE_KEY, notebook_errors

__all__ = [
    "WIDGET_STATE_KEY",
    "DEFAULT_CELL_TIMEOUT_S",
    "NotebookFailures",
    "cell_timeout",
    "find_notebooks",
    "load_parameters",
    "main",
    "notebook_errors",
    "run_notebooks",
    "split_parameters",
]

logger = logging.getLogger(__name__)

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
#: Per-cell timeout in seconds when none is given: smoke runs take well under a minute per notebook;
#: a full run's longest cell (a training grid on a CPU) can take hours. ``timeout=0`` means no limit.
DEFAULT_CELL_TIMEOUT_S = {"smoke": 600.0, "full": 6 * 3600.0}
CHECK_CELL_TAG = "erts-kit-widget-check"
# Appended to every executed copy: fails the run if a guarded widget callback errored after build time
# (e.g. a cell that moves a slider programmatically). Imports nothing the notebook did not import.
_CHECK_CELL_SOURCE = (
    "# Added by erts_kit.course.runner: fail if a widget callback raised (ipywidgets would hide it).\n"
    "import sys as _sys\n"
    "if 'erts_kit.viz._callbacks' in _sys.modules:\n"
    "    _sys.modules['erts_kit.viz._callbacks'].raise_widget_errors()"
)


class NotebookFailures(RuntimeError):
    """Raised after a run when notebooks failed; lists every failure.

    Attributes:
        results: the full results DataFrame (one row per notebook run so far).
        failures: the rows with ``status == "failed"``.
    """

    def __init__(self, results: pd.DataFrame) -> None:
        self.results = results
        self.failures = results[results["status"] == "failed"]
        lines = [f"{len(self.failures)} of {len(results)} notebook(s) failed:"]
        for row in self.failures.itertuples():
            lines.append(f"- {row.name} ({row.seconds:.1f} s): {row.error}\n  executed copy: {row.output}")
        super().__init__("\n".join(lines))


# -- finding notebooks and parameters ------------------------------------------------------------
def find_notebooks(paths_or_dir: str | Path | Iterable[str | Path] = "notebooks",
                   names: Sequence[str] | None = None) -> list[Path]:
    """The notebooks to run: a folder's ``NN_*.ipynb`` (sorted), one file, or a list of files.

    Args:
        paths_or_dir: a folder, a notebook file, or a list of notebook files.
        names: optional selection within a folder: a stem (``"03_gradcam"``), its number
            (``"03"``), or a path.

    Raises:
        FileNotFoundError: a path does not exist, or a name matches no notebook (the message lists them).

    Example:
        >>> find_notebooks([])
        []
    """
    if isinstance(paths_or_dir, (str, Path)):
        root = Path(paths_or_dir)
        if root.is_dir():
            found = sorted(root.glob(NOTEBOOK_GLOB))
        elif root.is_file():
            found = [root]
        else:
            raise FileNotFoundError(f"No notebook or folder at {root}: pass a folder of NN_*.ipynb notebooks "
                                    f"or a notebook file.")
    else:
        found = [Path(p) for p in paths_or_dir]
        missing = [str(p) for p in found if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"Notebooks not found: {missing}.")
    if not names:
        return found
    chosen: list[Path] = []
    for name in names:
        as_path = Path(name)
        if as_path.suffix == ".ipynb" and as_path.is_file():
            chosen.append(as_path)
            continue
        hits = [p for p in found if p.stem == name or p.stem.split("_", 1)[0] == name]
        if not hits:
            raise FileNotFoundError(f"No notebook named {name!r}: expected one of "
                                    f"{[p.stem for p in found]} (or its number, e.g. '03').")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def load_parameters(parameters: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """Parameters as a dict, read from a ``.yaml``/``.yml``/``.json`` file when given a path.

    Example:
        >>> load_parameters({"SEED": 1})
        {'SEED': 1}
    """
    if parameters is None:
        return {}
    if isinstance(parameters, dict):
        return copy.deepcopy(parameters)
    path = Path(parameters)
    if not path.is_file():
        raise FileNotFoundError(f"No parameter file at {path}: pass a YAML/JSON file or a dict.")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml
        loaded = yaml.safe_load(text)
    elif path.suffix == ".json":
        loaded = json.loads(text)
    else:
        raise ValueError(f"Expected a parameter file ending in .yaml, .yml or .json, got {path.name}.")
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise TypeError(f"Expected a mapping of parameters in {path}, got {type(loaded).__name__}.")
    return loaded


def _is_per_notebook(params: dict[str, Any]) -> bool:
    return bool(params) and all(isinstance(v, dict) and (k == "all" or re.match(r"^\d\d_", str(k)))
                                for k, v in params.items())


def split_parameters(params: dict[str, Any], name: str, smoke: bool = True) -> dict[str, Any]:
    """The parameters one notebook receives: ``SMOKE``, then ``"all"``, then its own section.

    ``params`` is either flat (``{"EPOCHS": 3}``: every notebook) or per notebook
    (``{"all": {...}, "03_gradcam": {...}}``: keys ``"all"`` or notebook stems ``NN_name``).

    Example:
        >>> split_parameters({"EPOCHS": 3}, "01_intro", smoke=False)
        {'SMOKE': False, 'EPOCHS': 3}
    """
    out: dict[str, Any] = {"SMOKE": bool(smoke)}
    if _is_per_notebook(params):
        out.update(params.get("all", {}))
        out.update(params.get(name, {}))
    else:
        out.update(params)
    return out


def _check_names(paths: Sequence[Path], params: dict[str, Any], smoke: bool) -> None:
    """Refuse, before any kernel starts, names that are not identifiers or not a notebook's parameters."""
    failed: list[tuple[str, str]] = []
    for path in paths:
        try:
            check_parameter_names(split_parameters(params, path.stem, smoke), notebook_parameter_names(path),
                                  path.stem)
        except ValueError as err:
            failed.append((path.stem, str(err)))
    if failed:
        more = [name for name, _ in failed[1:]]
        raise ValueError(failed[0][1] + (f" Bad parameter names for {len(more)} more notebook(s) too: "
                                         f"{', '.join(more)}." if more else ""))


# -- running ---------------------------------------------------------------------------------------
def _write_with_check_cell(path: Path, dest: Path) -> Path:
    """Copy the notebook to ``dest`` with the widget-check cell appended."""
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_CHECK_CELL_SOURCE, metadata={"tags": [CHECK_CELL_TAG]}))
    nbformat.write(nb, str(dest))
    return dest


def _record_input_path(out_path: Path, path: Path) -> None:
    """Point the executed copy's papermill metadata at the original notebook, not the temporary copy."""
    nb = nbformat.read(str(out_path), as_version=4)
    nb.metadata.setdefault("papermill", {})["input_path"] = str(path)
    nbformat.write(nb, str(out_path))


def cell_timeout(timeout: float | None, smoke: bool) -> float | None:
    """The per-cell timeout papermill gets: the default for ``None``, no limit for ``0``.

    Raises:
        ValueError: a negative or non-finite timeout.

    Example:
        >>> cell_timeout(None, smoke=True), cell_timeout(0, smoke=True), cell_timeout(30, smoke=False)
        (600.0, None, 30.0)
    """
    if timeout is None:
        return DEFAULT_CELL_TIMEOUT_S["smoke" if smoke else "full"]
    timeout = float(timeout)
    if not math.isfinite(timeout) or timeout < 0:
        raise ValueError(f"Expected a per-cell timeout in seconds >= 0 (0: no limit), got {timeout}.")
    return timeout or None


def _run_one(path: Path, out_path: Path, params: dict[str, Any], kernel_name: str,
             timeout: float | None) -> tuple[str, float, str]:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from .engine import ENGINE_NAME, CellTimedOut

    problems: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="erts_nb_") as tmp:
        src = _write_with_check_cell(path, Path(tmp) / path.name)
        try:
            pm.execute_notebook(str(src), str(out_path), parameters=params, kernel_name=kernel_name,
                                progress_bar=False, cwd=str(path.parent.resolve()), execution_timeout=timeout,
                                engine_name=ENGINE_NAME)
        except PapermillExecutionError as exc:
            problems.append(f"cell [{exc.exec_count}]: {exc.ename}: {exc.evalue}".splitlines()[0].rstrip(":"))
        except CellTimedOut as exc:
            problems.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - kernel death, timeout, bad notebook: report, go on
            problems.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
    seconds = time.perf_counter() - start
    if out_path.is_file():
        _record_input_path(out_path, path)
        found = notebook_errors(out_path)
        if problems:  # the failing cell's own error output repeats the exception papermill raised
            found = [p for p in found if not p.startswith("cell ")]
        problems.extend(found)
    return ("failed" if problems else "ok"), seconds, "; ".join(problems)


def run_notebooks(paths_or_dir: str | Path | Iterable[str | Path] = "notebooks",
                  parameters: dict[str, Any] | str | Path | None = None,
                  output_dir: str | Path = "notebooks/_executed", smoke: bool = True,
                  kernel_name: str = "python3", progress: bool = True, stop_on_error: bool = False,
                  names: Sequence[str] | None = None, timeout: float | None = None) -> pd.DataFrame:
    """Execute notebooks with papermill, one kernel each, and report every failure together.

    Each notebook gets ``SMOKE`` (= ``smoke``) plus the ``parameters`` that apply to it (see
    :func:`split_parameters`), runs with its own folder as working directory, and is written to
    ``output_dir/<name>.ipynb``. A cell that raises, an error output, a stderr traceback, a widget
    showing a traceback, or a guarded widget callback that failed after build time (checked by a cell
    the runner appends) marks it failed. All notebooks run; then, if any failed,
    :class:`NotebookFailures` lists them all.

    Args:
        paths_or_dir: a folder (its ``NN_*.ipynb``, sorted), a notebook, or a list of notebooks.
        parameters: dict or path to a YAML/JSON file, flat or ``{"all": {...}, "03_gradcam": {...}}``.
        output_dir: where executed copies go (created).
        smoke: pass ``SMOKE=True`` (fast settings) or ``SMOKE=False`` (full runs).
        kernel_name: Jupyter kernel to run in.
        progress: show a tqdm progress bar and one line per notebook.
        stop_on_error: raise at the first failed notebook instead of running the rest.
        names: run only these notebooks of the folder (stems or numbers, e.g. ``["03"]``).
        timeout: per-cell timeout in seconds; ``None``: :data:`DEFAULT_CELL_TIMEOUT_S` (600 s in smoke
            mode, 6 h otherwise); ``0``: no limit. A cell that times out fails its notebook, and the
            error names the cell (index and first line).

    Returns:
        DataFrame, one row per notebook: ``name, status ("ok"/"failed"), seconds, error, output``.

    Raises:
        NotebookFailures: when any notebook failed (its ``results`` holds the DataFrame).
        FileNotFoundError: no such notebook or folder.
        ValueError: a parameter name that is not a Python identifier or not assigned in that notebook's
            ``parameters`` cell (or parameters for a notebook without one): checked for every notebook
            before any runs; the message lists the names the notebook knows.

    Example:
        >>> run_notebooks("tests/nb_fixtures/good.ipynb", output_dir="/tmp/erts_nb")  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    paths = find_notebooks(paths_or_dir, names)
    params = load_parameters(parameters)
    per_cell = cell_timeout(timeout, smoke)
    _check_names(paths, params, smoke)
    if _is_per_notebook(params):
        unknown = sorted(set(params) - {"all"} - {p.stem for p in paths})
        if unknown:
            logger.warning("Parameter sections %s match no notebook of this run (%s).",
                           unknown, [p.stem for p in paths])
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    bar = tqdm(paths, desc="notebooks", unit="nb", disable=not progress)
    for path in bar:
        bar.set_postfix_str(path.stem)
        out_path = out_dir / path.name
        status, seconds, error = _run_one(path, out_path, split_parameters(params, path.stem, smoke),
                                          kernel_name, per_cell)
        rows.append({"name": path.stem, "status": status, "seconds": round(seconds, 2), "error": error,
                     "output": str(out_path)})
        line = f"{path.stem}: {status} in {seconds:.1f} s" + (f" -- {error}" if error else "")
        logger.info(line)
        if progress:
            tqdm.write(line)
        if status == "failed" and stop_on_error:
            break
    bar.close()
    results = pd.DataFrame(rows, columns=["name", "status", "seconds", "error", "output"])
    if (results["status"] == "failed").any():
        raise NotebookFailures(results)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the series, print a runtime table, exit 1 if any notebook failed.

    Example:
        >>> main(["--dir", "tests/nb_fixtures", "--out", "/tmp/erts_nb", "good"])  # doctest: +SKIP
        0
    """
    ap = argparse.ArgumentParser(prog="python -m erts_kit.course.runner",
                                 description="Execute the erts_kit notebooks with papermill (smoke mode by default).")
    ap.add_argument("names", nargs="*", help="notebooks to run: stems (03_gradcam), numbers (03) or paths; "
                                             "default: every NN_*.ipynb of --dir")
    ap.add_argument("--dir", default="notebooks", help="folder of the notebooks (default: notebooks)")
    ap.add_argument("--params", default=None, help="YAML/JSON parameters, flat or {all: {...}, NN_name: {...}}")
    ap.add_argument("--out", default="notebooks/_executed", help="folder for executed copies")
    ap.add_argument("--full", action="store_true", help="SMOKE=False: full-length runs")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="per-cell timeout in seconds; 0: no limit (default: 600 in smoke mode, 21600 with --full)")
    ap.add_argument("--stop-on-error", action="store_true", help="stop at the first failing notebook")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        results = run_notebooks(args.dir, parameters=args.params, output_dir=args.out, smoke=not args.full,
                                kernel_name=args.kernel, progress=not args.no_progress,
                                stop_on_error=args.stop_on_error, names=args.names or None, timeout=args.timeout)
    except NotebookFailures as exc:
        print(exc.results.drop(columns="error").to_string(index=False))
        print(f"\n{exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(results.drop(columns="error").to_string(index=False))
    print(f"\nall {len(results)} notebook(s) ran in {results['seconds'].sum():.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
