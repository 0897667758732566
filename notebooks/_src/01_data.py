# %% [markdown]
# # 01 · The data: a synthetic ECG benchmark with ground truth, and the real databases
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/01_data.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 14 s; default 40 s. On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - what the kit's synthetic 12-lead ECG set contains: six classes, their balance, and where the
#   class evidence lies in time (*local* evidence: one ectopic beat; *diffuse* evidence: every beat);
# - what each known corruption (flipped label, five kinds of heavy artefact) looks like, sample by sample;
# - how the real databases are loaded (PTB-XL, CPSC 2018 / Georgia from PhysioNet/CinC 2020, MIT-BIH),
#   the download command, and the MIT-BIH inter-patient split DS1/DS2, shown on a tiny WFDB tree
#   written on the fly (or on your own copy of a database).
#
# *Papers:* ERTS — Dangeti, Gu, Weng, Gowda, "Using Explainability as a Training-Time Reliability
# Signal for Efficient ECG Classification", arXiv 2606.12252 (2026). PDD — Progressive Data Dropout,
# arXiv 2505.22342 (NeurIPS 2025).

# %% [markdown]
# ## Setup
# On Colab this installs the kit; anywhere else it does nothing.

# %%
# Setup. On Colab: install the kit from ERTS_KIT_SOURCE (pinned to a release; the one place it is set),
# turn on widget support and check for a GPU. Anywhere else this cell does nothing.
ERTS_KIT_SOURCE = "erts-kit @ git+https://github.com/erts-kit/erts-kit.git@v0.1.0"
import os, sys
if "google.colab" in sys.modules:
    ERTS_KIT_SOURCE = os.environ.get("ERTS_KIT_SOURCE", ERTS_KIT_SOURCE)  # the Colab test installs a local wheel
    %pip install -q "{ERTS_KIT_SOURCE}"
    from importlib.metadata import version
    print(f"Installed erts-kit {version('erts-kit')} from {ERTS_KIT_SOURCE}")
    from google.colab import output
    output.enable_custom_widget_manager()  # Colab draws ipywidgets 8 widgets only with this
    import torch
    print(f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else
          "No GPU. For full runs choose Runtime > Change runtime type > a GPU (e.g. T4), then run all cells "
          "again; SMOKE = True runs on a CPU.")

# %% [markdown]
# ## Parameters
# Change them here or with `papermill -p NAME value`; `SMOKE = True` makes a tiny, fast run.

# %% tags=["parameters"]
SMOKE = False          # True: tiny data, seconds on a CPU (what the tests run)
SEED = 42
DATASET = "synthetic"  # part 2 with DATA_DIR set: which reader to use (mitbih, ptbxl, cinc)
DATA_DIR = ""          # a downloaded database folder; empty: write a tiny MIT-BIH-like WFDB tree
MODEL = "small_cnn"    # not used in this notebook (every notebook takes the same parameters)
POLICY = "full"        # not used in this notebook
EPOCHS = 1             # not used in this notebook
DEVICE = "auto"
N_SAMPLES = None       # synthetic records; None: 120 in smoke mode, 2000 otherwise
LABEL_FLIP_RATE = 0.1  # share of training samples whose label is replaced by another class
ARTIFACT_RATE = 0.1    # share of training samples given one heavy artefact

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself.

# %%
N_SAMPLES = (120 if SMOKE else 2000) if N_SAMPLES is None else N_SAMPLES
DEMO_SECONDS = 30 if SMOKE else 120    # length of each record of the tiny MIT-BIH-like tree

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG.

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="01_data")

# %% [markdown]
# ## Words used in this notebook
# New to ECGs? Notebook [00_primer](00_primer.ipynb) draws each of these on a labelled beat; the
# [glossary](../docs/glossary.md) has them all.
# - **ECG**: the heart's electrical activity over time; a **lead** is one view of it (12-lead: I, II, III, aVR, aVL,
#   aVF, V1-V6). Each beat is a **P wave** (atria), a **QRS complex** (ventricles) and a **T wave** (recovery):
#   **P-QRS-T**. The **RR interval** is one heart cycle, the **PR interval** the delay from P to QRS.
# - An **ectopic beat** starts outside the heart's normal pacemaker: a PVC (ventricular) or a PAC (atrial). A
#   first-degree **AV block** is a PR interval above 0.2 s in every beat.
# - **AAMI classes** (MIT-BIH beats): **N** normal, **S** supraventricular ectopic, **V** ventricular ectopic,
#   **F** fusion, **Q** paced or unclassifiable.
# - **Evidence**: where a class shows in a record, *local* (one beat) or *diffuse* (every beat); a **Grad-CAM** map
#   (notebook 03) is *focused* when it concentrates on a few time steps.
# - **[PDD](../docs/glossary.md#pdd-dbpd-smrd-srd)** (Progressive Data Dropout) trains each batch only on the samples the model still
#   finds hard; **[ERTS](../docs/glossary.md#erts)** adds a filter that keeps, among those, the ones whose Grad-CAM map is focused. The
#   corruptions of this set are there to test whether that filter finds bad samples.

# %% [markdown]
# ## Imports
# Everything below comes from `erts_kit`; the notebook only glues calls together.

# %%
%matplotlib inline
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from erts_kit.data.cinc import CINC_CLASSES, load_cinc2020
from erts_kit.data.demo_tree import write_mitbih_demo_tree
from erts_kit.data.mitbih import AAMI_CLASSES, AAMI_MAP, DS1, DS2, PACED, load_mitbih
from erts_kit.data.ptbxl import PTBXL_CLASSES, load_ptbxl
from erts_kit.data.synthetic import (ARTIFACT_KINDS, CLASS_DESCRIPTIONS, CLASS_EVIDENCE, SYNTHETIC_CLASSES,
                                     make_synthetic)
from erts_kit.viz.ecg import plot_ecg, plot_ecg_grid

# %% [markdown]
# # Part 1 — the synthetic benchmark
#
# Real databases cannot be shipped, so the kit *generates* a labelled 12-lead set in seconds,
# deterministically from `SEED`: beat-by-beat [P-QRS-T]({G}#p-wave-qrs-complex-t-wave) waves, heart-rate variability, noise, six classes,
# known corruptions and, for every record, a mask of where its class evidence lies.
#
# ## Generate it
# Same arguments, same bytes: the set is 10 s at 100 Hz per record (T = 1000, the PTB-XL shape).

# %%
data = make_synthetic(n_samples=N_SAMPLES, seed=SEED, label_flip_rate=LABEL_FLIP_RATE,
                      artifact_rate=ARTIFACT_RATE)
data.describe()

# %% [markdown]
# ## The six classes
# Each class has a kind of evidence: **local** (one beat in the record), **diffuse** (every beat) or none.
# PVC and PAC are [ectopic beats]({G}#ectopic-beat), AVB1 a first-degree [AV block]({G}#av-block) (a long
# [PR interval]({G}#pr-interval)); the primer (00) draws each.

# %%
pd.DataFrame({"evidence": CLASS_EVIDENCE, "what the signal shows": CLASS_DESCRIPTIONS}).loc[SYNTHETIC_CLASSES]

# %% [markdown]
# ## A 12-lead record on ECG paper
# A clean PVC record; the blue band is its evidence mask (the premature wide beat).

# %%
meta = data.meta
i_pvc = int(meta.index[(meta.class_true == "PVC") & ~meta.corrupted][0])
plot_ecg_grid(data.signals[i_pvc], data.fs, data.lead_names, mask=data.evidence_mask[i_pvc],
              title=f"record {i_pvc}: {meta.class_true[i_pvc]} (evidence shaded)");

# %% [markdown]
# ## Class balance
# Classes are balanced by construction and the splits are stratified, so every split keeps the proportions.

# %%
balance = pd.crosstab(meta.class_true, meta.split).loc[SYNTHETIC_CLASSES, ["train", "val", "test"]]
ax = balance.plot.bar(figsize=(7, 3), rot=0, title="records per class and split (true class)")
ax.set_xlabel("true class"); ax.set_ylabel("records")
balance

# %% [markdown]
# ## Local vs diffuse evidence
# One clean record per class, lead II, evidence shaded: a single beat for PVC/PAC, the whole record for AF/ST/AVB1.

# %%
fig, axes = plt.subplots(len(SYNTHETIC_CLASSES), 1, figsize=(10, 1.9 * len(SYNTHETIC_CLASSES)),
                         sharex=True, layout="constrained")
for ax, name in zip(axes, SYNTHETIC_CLASSES):
    i = int(meta.index[(meta.class_true == name) & ~meta.corrupted][0])
    plot_ecg(data.signals[i], data.fs, lead=data.lead_names.index("II"), mask=data.evidence_mask[i], ax=ax,
             title=f"{name} ({CLASS_EVIDENCE[name]}): {CLASS_DESCRIPTIONS[name]}")
fig.supylabel("lead II (mV)", fontsize=9)

# %% [markdown]
# ## How much of the record is evidence?
# The share of time steps inside the mask, per class: this is what a "focused" explanation can cover at most.

# %%
coverage = (pd.DataFrame({"class": meta.class_true, "evidence": meta.evidence_kind,
                          "share of time in the mask": data.evidence_mask.mean(axis=1)})
            .groupby(["evidence", "class"])["share of time in the mask"].describe()[["count", "mean", "min", "max"]])
coverage.round(3)

# %% [markdown]
# ## The known corruptions
# Only the training split is corrupted (by default), so validation and test measure the clean task.

# %%
pd.crosstab([meta.flipped.rename("label flipped"), meta.artifact_kind], meta.split)

# %% [markdown]
# ## A flipped label
# The signal shows one class, the label used for training says another; nothing in the signal is wrong.

# %%
i_flip = int(meta.index[meta.flipped & ~meta.artifact][0])
plot_ecg(data.signals[i_flip], data.fs, lead=1, mask=data.evidence_mask[i_flip],
         title=f"record {i_flip}: the signal is {meta.class_true[i_flip]}, the label says {meta.class_observed[i_flip]}");

# %% [markdown]
# ## Each artefact, before and after
# The same seed without artefacts gives the same records bit for bit, except the corrupted ones: we can show both.

# %%
clean = make_synthetic(n_samples=N_SAMPLES, seed=SEED, label_flip_rate=LABEL_FLIP_RATE, artifact_rate=0.0)
untouched = ~meta.artifact.to_numpy()
assert np.array_equal(clean.signals[untouched], data.signals[untouched]), "only the artefacts should differ"
kinds = [k for k in ARTIFACT_KINDS if (meta.artifact_kind == k).any()]
fig, axes = plt.subplots(len(kinds), 2, figsize=(14, 2.0 * len(kinds)), squeeze=False, layout="constrained")
for row, kind in zip(axes, kinds):
    i = int(meta.index[meta.artifact_kind == kind][0])
    lead = int(np.abs(data.signals[i] - clean.signals[i]).max(axis=1).argmax())   # the lead it changed most
    plot_ecg(clean.signals[i], data.fs, lead=lead, ax=row[0], title=f"record {i}, lead {data.lead_names[lead]}: clean")
    plot_ecg(data.signals[i], data.fs, lead=lead, ax=row[1], title=f"with artefact '{kind}'")

# %% [markdown]
# # Part 2 — the real databases
#
# | database | records | labels in the kit | reader |
# |---|---|---|---|
# | PTB-XL (PhysioNet) | 21,799 × 12 leads, 10 s, 100/500 Hz | 5 superclasses (paper: highest-likelihood SCP code; or multi-label) | `load_ptbxl(root, fs=100, labels="paper")` |
# | CPSC 2018, Georgia (PhysioNet/CinC 2020) | 6,877 / 10,344 × 12 leads | 8 classes from SNOMED-CT `# Dx:` codes | `load_cinc2020(root, n_timesteps=1000)` |
# | MIT-BIH Arrhythmia | 48 × 2 leads, 30 min, 360 Hz | AAMI beat classes N S V F Q | `load_mitbih(root, context="beat")` |
#
# **Download** (once, outside the notebooks; resumable and SHA-256 checked):
#
# ```bash
# erts-kit download mitbih --dir data/mitdb
# erts-kit download ptbxl --dir data/ptbxl
# ```
# or, from Python:
#
# ```python
# from erts_kit.data import download_database
# download_database("mitbih", "data/mitdb")            # ~100 MB
# download_database("ptbxl", "data/ptbxl", fs=100)     # ~1 GB
# ```
#
# CPSC 2018 and Georgia come from the PhysioNet/CinC Challenge 2020 training set
# (`training/cpsc_2018/`, `training/georgia/`, https://physionet.org/content/challenge-2020/): download
# them by hand and point `load_cinc2020` at the folder. Then rerun this notebook with
# `-p DATASET mitbih -p DATA_DIR data/mitdb` (or `ptbxl` / `cinc`) to see your copy below.
#
# ## The label sets
# Class names as the readers return them.

# %%
pd.Series({"PTB-XL": PTBXL_CLASSES, "CinC 2020": CINC_CLASSES, "MIT-BIH (AAMI)": AAMI_CLASSES}, name="classes")

# %% [markdown]
# ## MIT-BIH: beats, AAMI classes and the inter-patient split
# Beat symbols map to five [AAMI classes]({G}#aami-classes) (N normal, S supraventricular ectopic, V ventricular
# ectopic, F fusion, Q paced/unclassifiable); training and test records come from different patients
# ([DS1 / DS2]({G}#ds1--ds2-inter-patient-split)).

# %%
print("AAMI map:", {c: [s for s, a in AAMI_MAP.items() if a == c] for c in AAMI_CLASSES})
print(f"DS1 (train, {len(DS1)} records):", " ".join(DS1))
print(f"DS2 (test,  {len(DS2)} records):", " ".join(DS2))
print("paced, left out:", " ".join(PACED))

# %% [markdown]
# ## A tiny MIT-BIH-like tree, written on the fly
# With `DATA_DIR` empty, `write_mitbih_demo_tree` writes three synthetic 2-lead, 360 Hz records (two DS1 names, one DS2 name)
# with `wfdb.wrsamp`, and their beat annotations with `wfdb.wrann`: each beat is "N" except the premature beat of a PVC ("V") or PAC ("A") record.

# %%
tree = write_mitbih_demo_tree(tempfile.mkdtemp(prefix="mitdb-demo-"), seconds=DEMO_SECONDS, seed=SEED)
sorted(p.name for p in tree.iterdir())

# %% [markdown]
# ## Load it (or your own copy)
# `DATA_DIR` set: the reader named by `DATASET` loads your folder; otherwise `load_mitbih` reads the demo tree.

# %%
READERS = {"mitbih": load_mitbih, "ptbxl": load_ptbxl, "cinc": load_cinc2020}
if DATA_DIR:
    reader = DATASET if DATASET in READERS else "mitbih"
    real = READERS[reader](DATA_DIR)
else:
    reader = "mitbih"
    real = load_mitbih(tree, records=["101", "106", "100"], n_val_records=1, seed=SEED)
print(f"{reader}: {real.describe()}")
real.class_counts()

# %% [markdown]
# ## Which records (or patients) land in which split
# MIT-BIH: one DS1 record is held out for validation, DS2 is the test set; no patient is in two splits.

# %%
split_of = pd.Series("none", index=real.meta.index, name="split")
for name, idx in real.splits.items():
    split_of.iloc[idx] = name
pd.crosstab(real.meta["record"], split_of) if "record" in real.meta else split_of.value_counts()

# %% [markdown]
# ## One sample of each class
# MIT-BIH samples are beat windows centred on the R peak (0.8 s by default, `context="multibeat"` for 3 s).

# %%
present = [c for c in range(real.n_classes) if (real.labels == c).any()]
fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 2.4), squeeze=False, layout="constrained")
for ax, c in zip(axes[0], present):
    i = int(np.flatnonzero(real.labels == c)[0])
    plot_ecg(real.signals[i], real.fs, lead=0, ax=ax, title=f"{real.class_names[c]} (#{i}, z-scored)")

# %% [markdown]
# # Summary
# - `make_synthetic` gives a deterministic, labelled 12-lead set with six balanced classes, an evidence mask
#   per record (local for PVC/PAC, diffuse for AF/ST/AVB1) and known corruptions in the training split only.
# - The corruptions are recorded per sample in `data.meta` (`flipped`, `artifact_kind`, `corrupted`), so later
#   notebooks can measure whether a selection rule drops them.
# - The real readers return the same `ECGData` container; MIT-BIH uses the inter-patient split DS1/DS2.
#
# ## Questions
# 1. Why can a "focused" Grad-CAM map be right for a PVC record and wrong for an AF record?
# 2. Which artefact kinds change the label-relevant information and which only add noise?
# 3. A flipped-label record looks perfectly normal: what signal could a training loop use to notice it?
# 4. Why does a beat-window classifier on MIT-BIH struggle with S (supraventricular) beats across patients?
#
# ## Experiments to try
# - Rerun with `-p ARTIFACT_RATE 0.5` and look at the corruption table: which splits change?
# - Set `SEED` to another value: do the plots change while the class balance stays exact?
# - Download MIT-BIH and rerun with `-p DATASET mitbih -p DATA_DIR data/mitdb`: how many S and F beats are in DS2?
