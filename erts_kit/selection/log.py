"""The selection log: for every epoch and every dataset index seen, the scores and the decision.

One row per (epoch, sample) the loop showed the policy: ``p_true``, ``focus``, ``combined``
(NaN where the policy did not compute them) and the :class:`~erts_kit.selection.base.Decision`.
Rows are keyed by *dataset index* (``batch.indices``), never by batch offset, so shuffling does not
scramble them (the reference code's ``survival_log`` stored offsets). Storage is compact: int32
epoch, int64 index, float32 (or float16) scores, int8 decision, written into fixed-size numpy
chunks that grow as the run goes.

Example:
    >>> import torch
    >>> from erts_kit.selection.base import BatchSelection, Decision
    >>> sel = BatchSelection(keep=torch.tensor([True, False]),
    ...                      decision=torch.tensor([Decision.KEPT, Decision.DROPPED_CONFIDENT], dtype=torch.int8),
    ...                      p_true=torch.tensor([0.1, 0.9]), focus=torch.full((2,), float('nan')),
    ...                      combined=torch.full((2,), float('nan')))
    >>> log = SelectionLog()
    >>> log.add(5, torch.tensor([42, 7]), sel)
    >>> log.to_dataframe()[["epoch", "index", "decision", "kept"]].values.tolist()
    [[5, 42, 'KEPT', True], [5, 7, 'DROPPED_CONFIDENT', False]]
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._atomic import atomic_write
from .._validation import check_choice, check_int
from .base import KEPT_DECISIONS, BatchSelection, Decision

__all__ = ["DECISION_NAMES", "SelectionLog"]

DECISION_NAMES = [d.name for d in sorted(Decision)]
_SCORES = ("p_true", "focus", "combined")
_COLUMNS = ("epoch", "index", *_SCORES, "decision")
_STATE_VERSION = 1
_DIGEST = "sha256"  # the .npz member holding the SHA-256 of every other member (since the digest exists)
_FIX = "Recompute it: delete the run folder that holds it, or start again with --no-resume (a new run_dir in Python)."


def _arrays_digest(members: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) of named arrays: names (sorted), dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(members):
        a = np.ascontiguousarray(members[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


class SelectionLog:
    """Per-epoch, per-sample scores and decisions of a selection policy.

    Args:
        score_dtype: ``"float32"`` (default) or ``"float16"`` (half the memory, ~3 decimal digits).
        chunk_size: rows per storage chunk.

    Example:
        >>> log = SelectionLog()
        >>> log.add_arrays(0, [3, 1], decision=[Decision.WARMUP, Decision.WARMUP])
        >>> len(log), log.epochs()
        (2, [0])
    """

    def __init__(self, score_dtype: str = "float32", chunk_size: int = 65536) -> None:
        self.score_dtype = check_choice("score_dtype", str(np.dtype(score_dtype)), ["float32", "float16"])
        self.chunk_size = check_int("chunk_size", chunk_size, minimum=1)
        self._dtypes = {"epoch": np.int32, "index": np.int64, "decision": np.int8,
                        **{s: np.dtype(self.score_dtype) for s in _SCORES}}
        self._chunks: list[dict[str, np.ndarray]] = []
        self._buf = self._new_chunk()
        self._fill = 0
        self._cache: dict[str, np.ndarray] | None = None

    def _new_chunk(self) -> dict[str, np.ndarray]:
        return {c: np.empty(self.chunk_size, dtype=self._dtypes[c]) for c in _COLUMNS}

    # -- writing -----------------------------------------------------------------------------
    def add(self, epoch: int, indices: torch.Tensor | np.ndarray, sel: BatchSelection) -> None:
        """Record one batch: its dataset ``indices`` (B,) and the policy's :class:`BatchSelection`."""
        self.add_arrays(epoch, indices, decision=sel.decision, p_true=sel.p_true, focus=sel.focus,
                        combined=sel.combined)

    def add_arrays(self, epoch: int, indices: Any, decision: Any, p_true: Any = None, focus: Any = None,
                   combined: Any = None) -> None:
        """Record rows from plain arrays (scores default to NaN)."""
        epoch = check_int("epoch", int(epoch) if isinstance(epoch, np.integer) else epoch, minimum=0)
        idx = _to_numpy(indices).astype(np.int64).reshape(-1)
        n = len(idx)
        cols: dict[str, np.ndarray] = {"epoch": np.full(n, epoch, np.int32), "index": idx}
        dec = _to_numpy(decision).reshape(-1)
        if len(dec) != n:
            raise ValueError(f"Expected {n} decisions (one per index), got {len(dec)}.")
        if n and (dec.min() < 0 or dec.max() > max(Decision)):
            raise ValueError(f"Expected decision values in [0, {int(max(Decision))}] (erts_kit.selection.Decision), "
                             f"got range [{dec.min()}, {dec.max()}].")
        cols["decision"] = dec.astype(np.int8)
        for name, val in (("p_true", p_true), ("focus", focus), ("combined", combined)):
            arr = np.full(n, np.nan) if val is None else _to_numpy(val).reshape(-1)
            if len(arr) != n:
                raise ValueError(f"Expected {n} values of {name} (one per index), got {len(arr)}.")
            cols[name] = arr
        self._append(cols, n)

    def _append(self, cols: dict[str, np.ndarray], n: int) -> None:
        self._cache = None
        start = 0
        while start < n:
            take = min(n - start, self.chunk_size - self._fill)
            for c in _COLUMNS:
                self._buf[c][self._fill:self._fill + take] = cols[c][start:start + take]
            self._fill += take
            start += take
            if self._fill == self.chunk_size:
                self._chunks.append(self._buf)
                self._buf = self._new_chunk()
                self._fill = 0

    # -- reading -----------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """All rows as one numpy array per column (``epoch, index, p_true, focus, combined, decision``)."""
        if self._cache is None:
            self._cache = {c: np.concatenate([ch[c] for ch in self._chunks] + [self._buf[c][:self._fill]])
                           for c in _COLUMNS}
        return self._cache

    def __len__(self) -> int:
        return len(self._chunks) * self.chunk_size + self._fill

    def epochs(self) -> list[int]:
        """Sorted distinct epochs present in the log."""
        return [int(e) for e in np.unique(self.arrays()["epoch"])]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per record: ``epoch, index, p_true, focus, combined, decision, kept``.

        ``decision`` is a pandas Categorical of the :class:`Decision` names (all categories present,
        in enum order); ``kept`` is True for KEPT, RESCUED, WARMUP, REVISION, FULL and FLOOR.
        """
        a = self.arrays()
        dec = a["decision"].astype(np.int64)
        return pd.DataFrame({
            "epoch": a["epoch"],
            "index": a["index"],
            "p_true": a["p_true"],
            "focus": a["focus"],
            "combined": a["combined"],
            "decision": pd.Categorical.from_codes(dec, categories=DECISION_NAMES),
            "kept": np.isin(dec, [int(d) for d in KEPT_DECISIONS]),
        })

    def epoch(self, e: int) -> pd.DataFrame:
        """The rows of epoch ``e`` (index reset), as :meth:`to_dataframe` gives them.

        Raises:
            ValueError: the log holds no row for epoch ``e``.
        """
        df = self.to_dataframe()
        out = df[df["epoch"] == e].reset_index(drop=True)
        if out.empty:
            raise ValueError(f"No rows for epoch {e}: the log holds epochs {self.epochs()}.")
        return out

    def kept_counts(self, by: str = "epoch", labels: Any = None,
                    class_names: Sequence[str] | None = None) -> pd.Series | pd.DataFrame:
        """Counts of kept samples, grouped.

        Args:
            by: ``"epoch"`` (Series: kept per epoch), ``"class"`` (DataFrame epoch x class, needs
                ``labels``), ``"decision"`` (DataFrame epoch x decision, all decisions, not only kept) or
                ``"sample"`` (Series: epochs each dataset index was kept).
            labels: (N,) class id of every dataset index (e.g. ``data.labels``), for ``by="class"``.
            class_names: optional names for the class columns.

        Example:
            >>> log = SelectionLog()
            >>> log.add_arrays(0, [0, 1, 2], decision=[Decision.KEPT, Decision.DROPPED_CONFIDENT, Decision.RESCUED])
            >>> log.kept_counts("class", labels=[0, 1, 1], class_names=["a", "b"]).to_dict("records")
            [{'a': 1, 'b': 1}]
        """
        check_choice("by", by, ["epoch", "class", "decision", "sample"])
        df = self.to_dataframe()
        if by == "epoch":
            return df.groupby("epoch")["kept"].sum().astype(np.int64)
        if by == "sample":
            return df.groupby("index")["kept"].sum().astype(np.int64)
        if by == "decision":
            return pd.crosstab(df["epoch"], df["decision"], dropna=False)
        if labels is None:
            raise ValueError("kept_counts(by='class') needs labels: pass labels=data.labels (one per dataset index).")
        lab = np.asarray(labels)
        if lab.ndim == 2:  # multi-hot: first positive class
            lab = lab.argmax(axis=1)
        if len(df) and df["index"].max() >= len(lab):
            raise ValueError(f"Expected labels for every dataset index (at least {df['index'].max() + 1}), "
                             f"got {len(lab)}: pass the labels of the whole dataset, not of one split.")
        n_classes = len(class_names) if class_names is not None else int(lab.max()) + 1 if len(lab) else 0
        kept = df[df["kept"]]
        cls = pd.Categorical(lab[kept["index"].to_numpy()], categories=range(n_classes))
        out = pd.crosstab(pd.Categorical(kept["epoch"], categories=self.epochs()), cls, dropna=False)
        out.index.name, out.columns.name = "epoch", "class"
        if class_names is not None:
            out.columns = pd.Index(list(class_names), name="class")
        return out

    def summary(self, labels: Any = None, class_names: Sequence[str] | None = None) -> pd.DataFrame:
        """Per epoch: ``seen``, ``kept`` (every kept decision), ``kept_frac``, ``n_<decision>`` counts, mean p_true/focus.

        With ``labels`` (the class of every dataset index, e.g. ``data.labels``), also
        ``kept_frac_<class>``: the share of that class's rows of the epoch that were kept (NaN when the
        epoch showed none of it; multi-hot labels: every positive class counts).

        Example:
            >>> log = SelectionLog()
            >>> log.add_arrays(0, [0, 1], decision=[Decision.KEPT, Decision.RESCUED], p_true=[0.1, 0.3])
            >>> log.summary()[["seen", "kept", "n_rescued", "mean_p_true"]].round(2).to_dict("records")
            [{'seen': 2, 'kept': 2, 'n_rescued': 1, 'mean_p_true': 0.2}]
            >>> log.add_arrays(1, [0, 1, 2], decision=[Decision.DROPPED_CONFIDENT, Decision.KEPT, Decision.KEPT])
            >>> log.summary(labels=[0, 1, 1], class_names=["a", "b"])[["kept_frac_a", "kept_frac_b"]].to_dict("records")
            [{'kept_frac_a': 1.0, 'kept_frac_b': 1.0}, {'kept_frac_a': 0.0, 'kept_frac_b': 1.0}]
        """
        df = self.to_dataframe()
        g = df.groupby("epoch")
        out = pd.DataFrame({"seen": g.size(), "kept": g["kept"].sum().astype(np.int64)})
        out["kept_frac"] = out["kept"] / out["seen"]
        counts = pd.crosstab(df["epoch"], df["decision"], dropna=False)
        counts.columns = [f"n_{str(c).lower()}" for c in counts.columns]
        out = out.join(counts)
        out["mean_p_true"] = g["p_true"].mean()
        out["mean_focus"] = g["focus"].mean()
        if labels is not None:
            out = out.join(self._kept_frac_by_class(df, labels, class_names))
        return out

    @staticmethod
    def _kept_frac_by_class(df: pd.DataFrame, labels: Any, class_names: Sequence[str] | None) -> pd.DataFrame:
        lab = np.asarray(labels)
        idx = df["index"].to_numpy()
        if len(idx) and idx.max() >= len(lab):
            raise ValueError(f"Expected labels for every dataset index (at least {idx.max() + 1}), got {len(lab)}: "
                             "pass the labels of the whole dataset, not of one split.")
        if lab.ndim == 2:
            hot = lab[idx] > 0.5
        else:
            n_cls = len(class_names) if class_names is not None else int(lab.max()) + 1 if len(lab) else 0
            hot = np.eye(n_cls, dtype=bool)[lab[idx].astype(np.int64)]
        names = list(class_names) if class_names is not None else list(range(hot.shape[1]))
        seen = pd.DataFrame(hot, columns=names).groupby(df["epoch"].to_numpy()).sum()
        kept = pd.DataFrame(hot & df["kept"].to_numpy()[:, None], columns=names).groupby(df["epoch"].to_numpy()).sum()
        frac = kept / seen.where(seen > 0)
        frac.columns = [f"kept_frac_{c}" for c in names]
        return frac

    # -- persistence, checkpoints, DDP -------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the log to a compressed ``.npz`` (plain arrays, loadable with ``allow_pickle=False``).

        The file also holds ``sha256``, a SHA-256 of every other array in it, that :meth:`load` verifies.
        The write is atomic: a failure (e.g. disk full: ``OSError`` ENOSPC, naming the file) leaves any
        previous file unchanged.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        members = {"version": np.int64(_STATE_VERSION), "decision_names": np.array(DECISION_NAMES), **self.arrays()}
        digest = np.array(_arrays_digest({k: np.asarray(v) for k, v in members.items()}))
        return atomic_write(path, lambda f: np.savez_compressed(f, **members, **{_DIGEST: digest}))

    @classmethod
    def load(cls, path: str | Path) -> SelectionLog:
        """Read a log written by :meth:`save`, checking its SHA-256 digest.

        Files written before the digest existed still load: without it, only the CRC-32 that the
        ``.npz`` (zip) format keeps per array guards them.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: the file is damaged (not a readable ``.npz``, a missing column, or content that
                does not match its digest) or from an incompatible kit version; the message names the
                file and the fix (``--no-resume``, or a new run folder).

        Example:
            >>> import tempfile, os
            >>> log = SelectionLog(); log.add_arrays(0, [3, 1], decision=[0, 1])
            >>> p = log.save(os.path.join(tempfile.mkdtemp(), "selection_log.npz"))
            >>> len(SelectionLog.load(p))
            2
            >>> _ = open(p, "r+b").write(b"garbage")
            >>> SelectionLog.load(p)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: .../selection_log.npz is damaged...Recompute it: delete the run folder that holds it...
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                members = {k: z[k] for k in z.files}
        except (FileNotFoundError, IsADirectoryError):
            raise
        except Exception as err:  # noqa: BLE001 - BadZipFile, zlib.error, EOFError, a garbled header...
            first = str(err).strip().split("\n")[0][:200]
            raise ValueError(f"{path} is damaged: it cannot be read as a selection log ({type(err).__name__}: "
                             f"{first}). {_FIX}") from None
        missing = [c for c in ("decision_names", *_COLUMNS) if c not in members]
        if missing:
            raise ValueError(f"{path} is damaged or not a selection log: expected the arrays {list(_COLUMNS)}, "
                             f"{missing} are missing. {_FIX}")
        if _DIGEST in members:
            expected = str(members.pop(_DIGEST))
            got = _arrays_digest(members)
            if expected != got:
                raise ValueError(f"{path} is damaged: its content does not match the SHA-256 digest written with "
                                 f"it (expected {expected[:16]}..., got {got[:16]}...). {_FIX}")
        names = [str(s) for s in members["decision_names"]]
        if names != DECISION_NAMES[:len(names)]:   # a log of an older kit knows fewer decisions: fine
            raise ValueError(f"The log at {path} uses decisions {names}, this kit uses {DECISION_NAMES}: "
                             f"it was written by an incompatible version.")
        cols = {c: members[c] for c in _COLUMNS}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) != 1 or any(v.ndim != 1 for v in cols.values()):
            raise ValueError(f"{path} is damaged: expected 1-D columns of one length, got lengths "
                             f"{ {c: v.shape for c, v in cols.items()} }. {_FIX}")
        return cls._from_columns(cols)

    @classmethod
    def _from_columns(cls, cols: dict[str, np.ndarray], chunk_size: int = 65536) -> SelectionLog:
        dtype = "float16" if cols["p_true"].dtype == np.float16 else "float32"
        log = cls(score_dtype=dtype, chunk_size=chunk_size)
        log._append(cols, len(cols["index"]))
        return log

    def state_dict(self) -> dict[str, Any]:
        """Tensors and primitives only (checkpoints load with ``weights_only=True``)."""
        a = self.arrays()
        return {"version": _STATE_VERSION, "score_dtype": self.score_dtype,
                **{c: torch.from_numpy(a[c].copy()) for c in _COLUMNS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the log's content with a :meth:`state_dict`."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"Expected a SelectionLog state of version {_STATE_VERSION}, got {state.get('version')!r}.")
        other = self._from_columns({c: _to_numpy(state[c]) for c in _COLUMNS}, self.chunk_size)
        self.__dict__.update(other.__dict__)

    def truncate(self, after_epoch: int) -> None:
        """Drop every row of epochs > ``after_epoch`` (e.g. a partly logged epoch before a resume)."""
        a = self.arrays()
        keep = a["epoch"] <= after_epoch
        other = self._from_columns({c: a[c][keep] for c in _COLUMNS}, self.chunk_size)
        self.__dict__.update(other.__dict__)

    @classmethod
    def merge(cls, logs: Sequence[SelectionLog | dict[str, Any]]) -> SelectionLog:
        """Combine the logs of DDP ranks (objects or their ``state_dict()``), sorted by (epoch, index).

        Rows are kept as recorded: a sample a padded ``DistributedSampler`` showed twice in one epoch
        appears twice. The sort makes the result independent of rank order.

        Example:
            >>> a, b = SelectionLog(), SelectionLog()
            >>> a.add_arrays(0, [4, 0], decision=[0, 1]); b.add_arrays(0, [2], decision=[0])
            >>> SelectionLog.merge([a, b]).arrays()["index"].tolist()
            [0, 2, 4]
        """
        if not logs:
            raise ValueError("Expected at least one SelectionLog to merge, got none.")
        parts = []
        for lg in logs:
            if isinstance(lg, SelectionLog):
                parts.append(lg.arrays())
            elif isinstance(lg, dict):
                parts.append({c: _to_numpy(lg[c]) for c in _COLUMNS})
            else:
                raise TypeError(f"Expected SelectionLog objects or their state_dict(), got {type(lg).__name__}.")
        dtype = np.result_type(*[p["p_true"].dtype for p in parts])
        cols = {c: np.concatenate([p[c] for p in parts]) for c in _COLUMNS}
        for s in _SCORES:
            cols[s] = cols[s].astype(dtype)
        order = np.lexsort((cols["index"], cols["epoch"]))
        return cls._from_columns({c: v[order] for c, v in cols.items()})

    def __repr__(self) -> str:
        return f"SelectionLog(rows={len(self)}, epochs={len(self.epochs())}, score_dtype={self.score_dtype!r})"
