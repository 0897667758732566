# %% [markdown]
# # 07 · Kept vs dropped: exploring a run's selection log interactively
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/07_kept_vs_dropped.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 17 s; default ≈ 4 min (extrapolated: 12 x a 1-epoch run of 18 s). On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - how to read a run's selection log: for every epoch and every training sample, `p_true`, `focus`, `combined`
#   and the decision (WARMUP, KEPT, DROPPED_CONFIDENT, DROPPED_LOW_FOCUS, RESCUED, ...);
# - with the **kept-vs-dropped explorer**, to put a kept sample and a dropped one side by side, with their Grad-CAM
#   map, their scores and — on the synthetic set — whether the sample was corrupted;
# - with the **threshold explorer**, to see how many samples per class DBPD + the ERTS filter would keep at other
#   `tau` / `phi` values, recomputed from the logged scores without retraining;
# - why a notebook with widgets must check its callbacks: ipywidgets hides their exceptions.
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
SMOKE = False          # True: tiny data and a scaled-down schedule, seconds on a CPU (what the tests run)
SEED = 42
DATASET = "synthetic"  # or ptbxl, cinc, mitbih (with DATA_DIR, or the default data/<name> folder)
DATA_DIR = ""          # folder of a downloaded database; empty: the default folder
MODEL = "small_cnn"    # any name of erts_kit.models.list_models()
POLICY = "xai_dbpd"    # the policy of the short training run (an ERTS one logs focus scores)
EPOCHS = None          # None: 3 in smoke mode, 12 otherwise
DEVICE = "auto"        # auto takes CUDA, then Apple MPS, then the CPU
TAU = 0.3              # DBPD threshold of the run (the threshold explorer starts from it)
PHI = 0.7              # ERTS kept fraction of the run (idem)
WARM_UP = None         # None: 1 in smoke mode, 5 otherwise
CAM_START = None       # None: 1 in smoke mode, 3 otherwise
RUN_DIR = ""           # a finished run folder (selection_log.npz + best.pt, e.g. from run_grid) to load instead of training
LEAD = 1               # lead drawn by the explorer (1: lead II of a 12-lead record)
N_SAMPLES = None       # synthetic records; None: 150 in smoke mode, 1000 otherwise
DURATION_S = None      # synthetic record length; None: 5 s in smoke mode, 10 s otherwise
LABEL_FLIP_RATE = 0.1  # synthetic: share of training labels replaced by another class
ARTIFACT_RATE = 0.1    # synthetic: share of training records given one heavy artefact

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself. Smoke mode uses 5 s records and scales the schedule down
# (warm-up 1, filter from epoch 2, 3 epochs): the run is only there to fill the log.

# %%
EPOCHS = (3 if SMOKE else 12) if EPOCHS is None else EPOCHS
WARM_UP = (1 if SMOKE else 5) if WARM_UP is None else WARM_UP
CAM_START = (1 if SMOKE else 3) if CAM_START is None else CAM_START
N_SAMPLES = (150 if SMOKE else 1000) if N_SAMPLES is None else N_SAMPLES
DURATION_S = (5.0 if SMOKE else 10.0) if DURATION_S is None else DURATION_S

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG and
# picks the device (a GPU when there is one: the line below says which).

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="07_kept_vs_dropped")

# %% [markdown]
# ## Words used in this notebook
# (All in the [glossary](../docs/glossary.md).)
# - **[Selection log](../docs/glossary.md#selection-log)**: per epoch and training sample, p_true, focus, combined score and the
#   decision: WARMUP (warm-up epoch, every sample trained), KEPT, DROPPED_CONFIDENT (PDD: p_true above tau),
#   DROPPED_LOW_FOCUS (ERTS: ranked below the top phi), RESCUED (kept by the class-aware rescue).
# - **[Candidates, phi, rescue](../docs/glossary.md#candidates-phi-rescue)**, **[tau](../docs/glossary.md#pdd-dbpd-smrd-srd)**: as in notebook 06.
# - The signals are **[z-scored](../docs/glossary.md#z-score)**: the ECG grid is labelled in z-score units. The Grad-CAM band runs from
#   pale yellow (low) to dark red (high), with its colour bar.

# %% [markdown]
# ## Imports
# The explorers live in `erts_kit.viz.widgets`; their callbacks are guarded, so an error in one shows in the widget and fails the run.

# %%
%matplotlib inline
from pathlib import Path

import pandas as pd
from IPython.display import display

from erts_kit.data import load_dataset
from erts_kit.results import build_policy
from erts_kit.models import build_model
from erts_kit.results import show_smoke_banner
from erts_kit.selection import SelectionLog
from erts_kit.training import TrainConfig, load_checkpoint, train
from erts_kit.viz import raise_widget_errors
from erts_kit.viz.widgets import (kept_vs_dropped_explorer, pick_pair, render_pair, threshold_explorer,
                                  would_keep_counts)

# %% [markdown]
# ## Data
# The run's dataset: the log's indices refer to it (with `RUN_DIR`, load the same data the run used).

# %%
SYNTHETIC_OPTIONS = dict(n_samples=N_SAMPLES, duration_s=DURATION_S, seed=SEED, label_flip_rate=LABEL_FLIP_RATE,
                         artifact_rate=ARTIFACT_RATE)
data = load_dataset(DATASET, data_dir=DATA_DIR or None, **(SYNTHETIC_OPTIONS if DATASET == "synthetic" else {}))
print(data.describe())

# %% [markdown]
# ## A short run (or a finished one)
# Without `RUN_DIR` we train `POLICY` briefly; with it we load its selection log and best weights.

# %%
model = build_model(MODEL, data.n_leads, data.n_classes)
if RUN_DIR:
    from erts_kit.results import open_run
    log, best = open_run(RUN_DIR, data)  # an error naming both datasets if the run was trained on other data
    model.load_state_dict(best["model"])
else:
    policy = build_policy(POLICY, dict(tau=TAU, phi=PHI, warm_up=WARM_UP, cam_start=CAM_START), seed=SEED)
    result = train(model, data, policy, TrainConfig(epochs=EPOCHS, seed=SEED, device=DEVICE), progress=not SMOKE)
    log, model = result.selection_log, result.model
log_df = log.to_dataframe()
log

# %% [markdown]
# ## The log, summarised
# Per epoch: samples seen, kept, each decision's count, mean `p_true` and mean `focus` (NaN where not computed).

# %%
show_smoke_banner(SMOKE, f"{EPOCHS} epochs on {N_SAMPLES} records: the log is filled to exercise the explorers, "
                        "not to show what the filter does.")
log.summary().round(3)

# %% [markdown]
# ## The kept-vs-dropped explorer
# Pick an epoch, a class and a decision: left a kept sample, right a dropped one, each with its Grad-CAM map
# (for its given label) under the trace, the evidence mask shaded, scores and corruption in the title.

# %%
kvd = kept_vs_dropped_explorer(log_df, data, model=model, lead=LEAD, seed=SEED)
display(kvd)

# %% [markdown]
# ## Driving it from code
# Setting a control's value runs the same callback a click would: here the last epoch with dropped-for-low-focus
# samples (if any), showing one of them on the right.

# %%
low_focus_epochs = sorted(log_df.loc[log_df["decision"] == "DROPPED_LOW_FOCUS", "epoch"].unique())
if low_focus_epochs:
    kvd.controls["epoch"].value = int(low_focus_epochs[-1])
    kvd.controls["decision"].value = "DROPPED_LOW_FOCUS"

# %% [markdown]
# ## The same view as a static figure
# For printed or exported copies, where widgets do not render: the functions behind the explorer, called directly.

# %%
epoch = int(kvd.controls["epoch"].value)
kept_idx, dropped_idx = pick_pair(log_df, data, epoch, decision=kvd.controls["decision"].value, seed=SEED)
render_pair(log_df, data, epoch, kept_idx, dropped_idx, model=model, lead=LEAD);

# %% [markdown]
# ## The threshold explorer
# Move `tau` and `phi`: the bars show, per class, how many samples of the epoch DBPD + the ERTS filter would keep,
# and the histogram the logged focus of the candidates. The whole epoch is filtered as one batch, and samples that
# had no focus logged rank last: an approximation of a rerun, not a rerun.

# %%
thr = threshold_explorer(log_df, data, tau=TAU, phi=PHI)
display(thr)

# %% [markdown]
# ## The paper's ablation, from the log
# `phi` in {0.5, 0.7, 0.9} at the run's `tau`: what each would keep, per class, in the explorer's epoch. The last
# slider move is the explorer's callback, run from code.

# %%
shown = int(thr.controls["epoch"].value)
ablation = {phi: would_keep_counts(log_df, data.labels, shown, tau=TAU, phi=phi, class_names=data.class_names)["kept"]
            for phi in (0.5, 0.7, 0.9)}
thr.controls["phi"].value = 0.5
display(pd.DataFrame(ablation).rename(columns=lambda p: f"phi={p}"))

# %% [markdown]
# ## Did any widget callback fail?
# ipywidgets swallows callback exceptions (the widget shows a traceback, the cell passes). The explorers route
# them to a registry; this call raises if any callback failed since the widgets were built, so a broken explorer
# fails the notebook (and its papermill test).

# %%
raise_widget_errors()
print("every widget callback ran without error")

# %% [markdown]
# # Summary
# - The selection log keys every decision by dataset index and epoch, so any sample's history can be looked up.
# - The kept-vs-dropped explorer shows what the filter saw: a sample's Grad-CAM map, `p_true`, `focus`, and on the
#   synthetic set whether its label was flipped or an artefact was added.
# - The threshold explorer recomputes, from logged scores, what other `tau` / `phi` would keep, per class.
# - Widget callbacks are guarded: their errors are shown in the widget *and* raised by `raise_widget_errors()`.
#
# ## Questions
# 1. Find a sample dropped for low focus whose label was flipped: where does its Grad-CAM map point?
# 2. Find a clean sample dropped for low focus: is its class one with diffuse evidence?
# 3. With `tau` raised in the threshold explorer, why do some candidates have no logged focus?
# 4. Which classes lose the most samples at `phi = 0.5`, and does the class-aware rescue protect them?
#
# ## Experiments to try
# Each is an edit of the parameters cell or a papermill flag; costs (2-core CPU) in
# [docs/instructors.md](../docs/instructors.md#07-kept-vs-dropped).
# - `EPOCHS = 20` (`-p EPOCHS 20`): more filter epochs; does the share of corrupted samples among the dropped ones change
#   over time?
# - `LABEL_FLIP_RATE = 0.3` (`-p LABEL_FLIP_RATE 0.3`): browse the flipped samples with the decision filter set to
#   DROPPED_LOW_FOCUS.
# - `POLICY = "xai_srd"` (`-p POLICY xai_srd`): SRD logs no `p_true` of its own before the filter; what does the
#   threshold explorer show?
# - Train a run with `erts_kit.results.run_grid` and open it here with `RUN_DIR = "<its run folder>"`
#   (`-p RUN_DIR <its run folder>`), with the data settings that run used.
