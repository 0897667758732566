"""The embedded synthetic ECG benchmark: labelled multi-lead ECGs with ground truth, offline, in seconds.

``make_synthetic`` draws beat-by-beat P-QRS-T waves in a 3-D heart-vector frame, projects them onto
1, 2 or 12 leads through a per-sample jittered lead matrix, adds heart-rate variability and
clean-level noise, and returns an :class:`~erts_kit.data.dataset.ECGData` with

- six classes (``SYNTHETIC_CLASSES``) whose evidence is local (PVC, PAC: one ectopic beat),
  diffuse (AF, ST, AVB1: every beat) or absent (NORM) -- see ``CLASS_EVIDENCE`` and
  :mod:`erts_kit.data.synthetic_beats` for the morphology of each;
- ``evidence_mask`` (N, T): where the evidence of the TRUE class lies in time;
- known corruptions, recorded per sample in ``meta``: flipped labels (``label_flip_rate``) and heavy
  artefacts (``artifact_rate``, kinds in :mod:`erts_kit.data.synthetic_noise`);
- stratified train/val/test splits.

Signals are in mV (not normalised: apply ``erts_kit.data.normalize.zscore_per_lead`` for training;
note a ``flat_lead`` artefact has zero variance). The same arguments always give the same bytes.
Speed: about 10,000 x 12 x 1000 in a few seconds on one CPU core (see benchmarks/bench_synthetic.py).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import check_choice, check_int, check_range
from .dataset import ECGData
from .synthetic_beats import (
    CLASS_DESCRIPTIONS,
    CLASS_EVIDENCE,
    SYNTHETIC_CLASSES,
    evidence_spans,
    fibrillatory_waves,
    make_rhythm,
    render_vcg,
    wave_table,
)
from .synthetic_leads import STANDARD_LEADS, lead_matrices, resolve_lead_names
from .synthetic_noise import (
    ARTIFACT_KINDS,
    add_white_noise,
    apply_artifact,
    clean_wander,
)

__all__ = [
    "ARTIFACT_KINDS",
    "CLASS_DESCRIPTIONS",
    "CLASS_EVIDENCE",
    "STANDARD_LEADS",
    "SYNTHETIC_CLASSES",
    "make_synthetic",
    "stratified_split",
]

_CHUNK = 512          # samples rendered at once (fixed: part of what makes the output reproducible)


def _class_counts(n: int, probs: np.ndarray) -> np.ndarray:
    """Split n into counts proportional to probs (largest remainder), e.g. balanced classes."""
    raw = probs * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int,
                     names: Sequence[str] = ("train", "val", "test")) -> dict[str, np.ndarray]:
    """Split dataset indices by class so every split keeps the class proportions.

    Within each class the indices are shuffled (seeded) and cut at the cumulative fractions, so it
    also works for tiny sets (a class with one sample goes to the first split).

    Example:
        >>> s = stratified_split(np.array([0] * 10 + [1] * 10), (0.6, 0.2, 0.2), seed=0)
        >>> [len(s[k]) for k in ("train", "val", "test")]
        [12, 4, 4]
    """
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(fractions)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        bounds = np.floor(cuts * len(idx) + 0.5).astype(np.int64)        # round half up
        for name, lo, hi in zip(names, np.r_[0, bounds[:-1]], bounds):
            parts[name].append(idx[lo:hi])
    return {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}


def _check_args(n_samples, n_leads, fs, duration_s, seed, label_flip_rate, artifact_rate, classes,
                class_probs, artifact_kinds, corrupt, split_fractions, noise_scale):
    check_int("n_samples", n_samples, minimum=1)
    check_int("n_leads", n_leads, minimum=1)
    check_range("fs", fs, 100, 500)
    check_range("duration_s", duration_s, 3.0, 600.0)
    check_int("seed", seed, minimum=0)
    check_range("label_flip_rate", label_flip_rate, 0.0, 1.0)
    check_range("artifact_rate", artifact_rate, 0.0, 1.0)
    check_range("noise_scale", noise_scale, 0.0, 10.0)
    check_choice("corrupt", corrupt, ["train", "all"])
    names = list(SYNTHETIC_CLASSES if classes is None else classes)
    for c in names:
        check_choice("class", c, SYNTHETIC_CLASSES)
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"Expected a non-empty list of distinct classes, got {names}.")
    if label_flip_rate > 0 and len(names) < 2:
        raise ValueError(f"label_flip_rate={label_flip_rate} needs at least 2 classes to flip between, "
                         f"got {names}: add classes or set label_flip_rate=0.")
    probs = np.full(len(names), 1.0 / len(names)) if class_probs is None else np.asarray(class_probs, float)
    if probs.shape != (len(names),) or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"Expected class_probs: {len(names)} non-negative numbers summing to 1 "
                         f"(one per class of {names}), got {class_probs}.")
    kinds = list(ARTIFACT_KINDS if artifact_kinds is None else artifact_kinds)
    for k in kinds:
        check_choice("artifact kind", k, ARTIFACT_KINDS)
    if not kinds:
        raise ValueError(f"Expected at least one artifact kind from {ARTIFACT_KINDS}, got [].")
    fr = np.asarray(split_fractions, float)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"Expected split_fractions (train, val, test) of 3 non-negative numbers summing "
                         f"to 1, e.g. (0.7, 0.15, 0.15), got {split_fractions}.")
    return names, probs, kinds, fr


def make_synthetic(n_samples: int = 2000, n_leads: int = 12, fs: float = 100, duration_s: float = 10.0,
                   seed: int = 42, label_flip_rate: float = 0.0, artifact_rate: float = 0.0, *,
                   classes: Sequence[str] | None = None, class_probs: Sequence[float] | None = None,
                   lead_names: Sequence[str] | None = None, artifact_kinds: Sequence[str] | None = None,
                   corrupt: str = "train", split_fractions: Sequence[float] = (0.7, 0.15, 0.15),
                   noise_scale: float = 1.0) -> ECGData:
    """Generate the synthetic ECG benchmark (deterministic from ``seed``, offline).

    Args:
        n_samples: number of records N.
        n_leads: 1 (lead II), 2 (MLII, V1) or 12 (I II III aVR aVL aVF V1..V6); any other count
            with explicit ``lead_names``.
        fs: sampling rate in Hz, 100 to 500. T = round(duration_s * fs).
        duration_s: record length in seconds (default 10 s at 100 Hz: the PTB-XL shape, T = 1000).
        seed: the only source of randomness: same arguments, same bytes.
        label_flip_rate: fraction of the corruptible samples whose observed label is replaced by a
            different class drawn uniformly (exactly round(rate * pool) samples).
        artifact_rate: fraction of the corruptible samples given one heavy artefact (kinds cycled so
            they are balanced, then shuffled). Flips and artefacts are drawn independently.
        classes: subset of ``SYNTHETIC_CLASSES`` to generate (class ids follow this order).
        class_probs: class proportions (default balanced); counts are exact (largest remainder).
        lead_names: which leads to return (names from ``STANDARD_LEADS`` or ``MLII``).
        artifact_kinds: subset of ``ARTIFACT_KINDS`` to draw from (default all five).
        corrupt: "train" (default: only the train split is corrupted, so validation and test
            measure the clean task) or "all" (every split, to study noisy evaluation).
        split_fractions: (train, val, test), stratified by the true class with ``seed``.
        noise_scale: multiplies the clean baseline wander and white noise (0: noiseless).

    Returns:
        ECGData with float32 signals (N, leads, T) in mV, ``labels`` = observed labels,
        ``evidence_mask`` (N, T) bool for the TRUE class (NORM: all False; see
        :func:`erts_kit.data.synthetic_beats.evidence_spans`), splits "train"/"val"/"test", and
        ``meta`` columns: label_true, label, class_true, class_observed, split, flipped, artifact,
        artifact_kind ('none' or the kind), corrupted (= flipped | artifact), evidence_kind
        ('local' | 'diffuse' | 'none', of the true class), heart_rate (bpm, mean over the record),
        event_time_s (time of the PVC/PAC beat, NaN otherwise).

    Raises:
        ValueError / TypeError: on out-of-range rates, fs, duration, unknown classes, lead names,
            artefact kinds or bad fractions, with the expected values.

    Example:
        >>> d = make_synthetic(n_samples=4, n_leads=2, seed=0)
        >>> d.signals.shape, d.signals.dtype.name, d.lead_names
        ((4, 2, 1000), 'float32', ['MLII', 'V1'])
        >>> sorted(d.splits), d.evidence_mask.shape
        (['test', 'train', 'val'], (4, 1000))
    """
    names, probs, kinds, fractions = _check_args(
        n_samples, n_leads, fs, duration_s, seed, label_flip_rate, artifact_rate, classes, class_probs,
        artifact_kinds, corrupt, split_fractions, noise_scale)
    leads = resolve_lead_names(n_leads, lead_names)
    fs = float(fs)
    n_timesteps = round(duration_s * fs)
    n_classes = len(names)
    root = np.random.SeedSequence(seed)
    rng = np.random.default_rng(root.spawn(1)[0])

    label_true = rng.permutation(np.repeat(np.arange(n_classes), _class_counts(n_samples, probs)))
    splits = stratified_split(label_true, fractions, seed=int(rng.integers(2**31)))
    pool = splits["train"] if corrupt == "train" else np.arange(n_samples)
    flipped = np.zeros(n_samples, bool)
    flipped[rng.choice(pool, round(label_flip_rate * len(pool)), replace=False)] = True
    label = label_true.copy()
    label[flipped] = (label_true[flipped] + rng.integers(1, max(n_classes, 2), flipped.sum())) % n_classes
    artifact_kind = np.full(n_samples, "none", dtype=object)
    hit = rng.choice(pool, round(artifact_rate * len(pool)), replace=False)
    artifact_kind[hit] = np.array(kinds, dtype=object)[rng.permutation(len(hit)) % len(kinds)]

    global_cls = np.array([SYNTHETIC_CLASSES.index(c) for c in names])[label_true]
    signals = np.empty((n_samples, len(leads), n_timesteps), dtype=np.float32)
    evidence = np.empty((n_samples, n_timesteps), dtype=bool)
    heart_rate = np.empty(n_samples)
    event_time = np.empty(n_samples)
    n_chunks = -(-n_samples // _CHUNK)
    for c, child in enumerate(root.spawn(n_chunks)):
        sl = slice(c * _CHUNK, min(n_samples, (c + 1) * _CHUNK))
        crng = np.random.default_rng(child)
        cls = global_cls[sl]
        rhythm = make_rhythm(crng, cls, duration_s)
        vcg = render_vcg(wave_table(crng, rhythm, cls), n_timesteps, fs)          # (n, 3, T)
        vcg += clean_wander(crng, len(cls), n_timesteps, fs) * np.float32(noise_scale)
        af = np.flatnonzero(cls == SYNTHETIC_CLASSES.index("AF"))
        vcg[af] += fibrillatory_waves(crng, len(af), n_timesteps, fs)
        x = signals[sl]                                                           # a view: fill in place
        np.matmul(lead_matrices(crng, len(cls), leads), vcg, out=x)               # (n, leads, T)
        add_white_noise(crng, x, noise_scale)
        for i in np.flatnonzero(artifact_kind[sl] != "none"):
            apply_artifact(crng, x[i], artifact_kind[sl][i], fs, leads)
        evidence[sl] = evidence_spans(rhythm, cls, n_timesteps, fs)
        heart_rate[sl] = rhythm.heart_rate(duration_s)
        event_time[sl] = rhythm.event_time

    artifact = artifact_kind != "none"
    split_of = np.empty(n_samples, dtype=object)
    for k, idx in splits.items():
        split_of[idx] = k
    meta = pd.DataFrame({
        "label_true": label_true.astype(np.int64), "label": label.astype(np.int64),
        "class_true": np.array(names, dtype=object)[label_true],
        "class_observed": np.array(names, dtype=object)[label],
        "split": split_of, "flipped": flipped, "artifact": artifact,
        "artifact_kind": artifact_kind.astype(str), "corrupted": flipped | artifact,
        "evidence_kind": [CLASS_EVIDENCE[names[i]] for i in label_true],
        "heart_rate": heart_rate.round(1), "event_time_s": event_time,
    })
    return ECGData(signals=signals, labels=label.astype(np.int64), class_names=list(names), fs=fs,
                   lead_names=leads, meta=meta, splits=splits, evidence_mask=evidence, name="synthetic")
