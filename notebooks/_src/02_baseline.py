# %% [markdown]
# # 02 · A full-data baseline
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/02_baseline.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 20 s; default ≈ 11 min (extrapolated: 30 x a 1-epoch run of 22 s). On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - how to train an ECG classifier with one call, `erts_kit.training.train`, on a GPU when there is one;
# - how to read the per-epoch history (losses, validation macro-F1, time, effective epochs);
# - how to judge the result beyond one number: learning curves, confusion matrix and per-class F1.
#
# This full-data run (every sample, every epoch) is the reference every data-selection method of the
# series (PDD, ERTS) is compared with.
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
SMOKE = False          # True: tiny data, 2 epochs, seconds on a CPU (what the tests run)
SEED = 42
DATASET = "synthetic"  # or ptbxl, cinc, mitbih (real data: see notebook 01)
DATA_DIR = ""          # folder of a downloaded database; empty: the default data/<name> folder
MODEL = "small_cnn"    # any name of erts_kit.models.list_models()
POLICY = "full"        # the baseline trains on every sample; try "dbpd" or "xai_dbpd" later
EPOCHS = None          # None: 2 in smoke mode, 30 otherwise
DEVICE = "auto"        # "auto" takes CUDA, then Apple MPS, then the CPU
N_SAMPLES = None       # synthetic records; None: 240 in smoke mode, 4000 otherwise
BATCH_SIZE = 32
LR = 3e-4

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself.

# %%
EPOCHS = (2 if SMOKE else 30) if EPOCHS is None else EPOCHS
N_SAMPLES = (240 if SMOKE else 4000) if N_SAMPLES is None else N_SAMPLES

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG and picks the device.

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="02_baseline")

# %% [markdown]
# ## Words used in this notebook
# (Drawn and computed in [00_primer](00_primer.ipynb); all in the [glossary](../docs/glossary.md).)
# - **[Macro-F1](../docs/glossary.md#macro-f1)**: per class, F1 = 2 · precision · recall / (precision + recall); macro-F1 is their
#   plain mean, so a rare class counts as much as a common one (accuracy does not).
# - **[Epoch](../docs/glossary.md#epoch)**: one pass over the training set. **[Effective epochs](../docs/glossary.md#effective-epochs-ee)**: samples
#   trained on divided by the training-set size (the full-data baseline: 1 per epoch).
# - **[Validation / test split, best-validation checkpoint](../docs/glossary.md#validation--test-split-best-validation-checkpoint)**:
#   validation picks the epoch kept; test is used once, to report.
# - **[z-score](../docs/glossary.md#z-score)**: signals are centred and scaled per record and lead, so they have no mV units.
# - **[PDD](../docs/glossary.md#pdd-dbpd-smrd-srd)** and **[ERTS](../docs/glossary.md#erts)**, the methods this baseline is the reference for: PDD
#   trains each batch only on the samples the model still gets wrong or is unsure about; ERTS also computes, for each
#   of those, a Grad-CAM map (where the network looked) and keeps the ones that are hard *and* clearly explained.
#   Notebooks 05 and 06 build them step by step.

# %% [markdown]
# ## Imports
# Training, models, metrics and plots all come from `erts_kit`.

# %%
%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay

from erts_kit.data import load_dataset
from erts_kit.metrics import compute_metrics, metrics_table
from erts_kit.models import build_model, model_info
from erts_kit.results import mark_smoke, show_smoke_banner, smoke_banner
from erts_kit.selection import make_policy
from erts_kit.training import TrainConfig, evaluate, train

# %% [markdown]
# ## Data
# The synthetic set is generated clean here (no flipped labels, no artefacts) and z-scored per record and lead, like the real databases.

# %%
SYNTHETIC_OPTIONS = dict(n_samples=N_SAMPLES, seed=SEED)
data = load_dataset(DATASET, data_dir=DATA_DIR or None, **(SYNTHETIC_OPTIONS if DATASET == "synthetic" else {}))
print(data.describe())
data.class_counts()

# %% [markdown]
# ## Model
# `build_model` gives a freshly initialised backbone (seeded by the parameter check); every model names its Grad-CAM layer.

# %%
model = build_model(MODEL, n_leads=data.n_leads, n_classes=data.n_classes)
pd.Series(model_info(model, n_timesteps=data.n_timesteps))

# %% [markdown]
# ## Train
# One call: AdamW, StepLR, the best-validation checkpoint kept, test metrics with the best weights; the first line says which device it uses.

# %%
config = TrainConfig(epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED, device=DEVICE)
result = train(model, data, policy=make_policy(POLICY), config=config)
print(f"trained on {result.device}; best validation epoch {result.best_epoch} (epochs are numbered from 0)")

# %% [markdown]
# ## The history
# One row per epoch; `effective_epochs` counts samples trained on divided by the training-set size (here 1 per epoch: the baseline keeps everything).

# %%
history = result.history
history[["epoch", "train_loss", "val_loss", "val_macro_f1", "kept_frac", "effective_epochs", "seconds"]].round(4)

# %% [markdown]
# ## Learning curves
# Losses on the left, validation macro-F1 on the right; the dashed line marks the checkpoint kept.

# %%
fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(11, 3.5), layout="constrained")
history.plot(x="epoch", y=["train_loss", "val_loss"], marker="o", ax=ax_loss, title="loss")
history.plot(x="epoch", y="val_macro_f1", marker="o", ax=ax_f1, title="validation macro-F1", legend=False)
for ax in (ax_loss, ax_f1):
    ax.axvline(result.best_epoch, color="grey", linestyle="--", linewidth=1)
ax_loss.set_ylabel("cross-entropy"); ax_f1.set_ylabel("macro-F1")
mark_smoke(fig, SMOKE)
smoke_banner(SMOKE, f"{EPOCHS} epochs on {N_SAMPLES} records: the model has barely started learning, so validation "
                    "macro-F1 may fall between epochs and some classes may score F1 = 0. The curves show that the loop "
                    "runs and logs, not how the baseline learns (run with SMOKE = False).")

# %% [markdown]
# ## Test metrics
# The best-validation weights on the held-out test split, through `erts_kit.metrics.compute_metrics`.

# %%
test = evaluate(result.model, data, "test")
metrics = compute_metrics(test["labels"], test["probabilities"], data.class_names, multilabel=data.multilabel)
show_smoke_banner(SMOKE, "test metrics of a 2-epoch model on a few dozen test records.")
pd.Series({k: metrics[k] for k in ("macro_f1", "balanced_accuracy", "macro_auroc")}).round(4)

# %% [markdown]
# ## Confusion matrix
# Rows are the true classes, columns the predictions: which classes does the model mix up?

# %%
if not data.multilabel:
    ConfusionMatrixDisplay(metrics["confusion_matrix"], display_labels=data.class_names).plot(colorbar=False)
    plt.title("test confusion matrix")

# %% [markdown]
# ## Per-class F1
# Macro-F1 is the mean of these bars: one weak class pulls it down as much as a strong one lifts it.

# %%
table = metrics_table(test["labels"], test["probabilities"], data.class_names, multilabel=data.multilabel)
ax = table["f1"].plot.barh(figsize=(6, 0.4 * len(table) + 1), xlim=(0, 1), title="test F1 per class")
ax.set_xlabel("F1 (a missing bar: F1 = 0, the class was never predicted correctly)")
mark_smoke(ax, SMOKE)
print(f"classes with F1 = 0: {', '.join(table.index[table['f1'] == 0]) or 'none'}; "
      f"macro-F1 = mean of the bars = {table['f1'].mean():.3f}")
table.round(3)

# %% [markdown]
# # Summary
# - `train(model, data, policy, config)` runs the whole loop on the best device available and returns the
#   per-epoch `history`, the cost `ledger`, the `selection_log` and the model with its best-validation weights.
# - The full-data baseline trains on every sample every epoch: after E epochs it has used E effective epochs.
# - Judge a classifier per class: the confusion matrix and per-class F1 show which classes carry the macro-F1.
# - Note a confound of the paper: its baseline used plain cross-entropy, its PDD/ERTS runs a class-balanced one
#   (`TrainConfig(loss="cb_ce")`); compare like with like.
#
# ## Questions
# 1. Which synthetic classes are confused with each other, and does their kind of evidence (local or diffuse) explain it?
# 2. Why is the checkpoint with the best *validation* macro-F1 tested, and not the last one?
# 3. What would `effective_epochs` look like for a method that drops half of the samples from epoch 5 on?
# 4. Why can accuracy look good while macro-F1 is poor on an imbalanced database such as MIT-BIH?
#
# ## Experiments to try
# Each is an edit of the parameters cell (on Colab) or a papermill flag; the cost of each, measured on a 2-core CPU,
# is in [docs/instructors.md](../docs/instructors.md#02-baseline).
# - `EPOCHS = 60` (`-p EPOCHS 60`): does validation macro-F1 still improve, or does the gap between the losses widen?
# - `MODEL = "resnet1d_wang"` (`-p MODEL resnet1d_wang`), or a 2-D backbone of the paper, `MODEL = "resnet18_2d"`
#   (slow on a CPU: use a GPU): accuracy versus seconds per epoch.
# - `POLICY = "dbpd"` (`-p POLICY dbpd`): Progressive Data Dropout; compare `effective_epochs` and test macro-F1 with
#   this baseline.
# - `N_SAMPLES = 1000` (`-p N_SAMPLES 1000`): how much does the baseline lose with a quarter of the data?
