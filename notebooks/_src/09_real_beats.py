# %% [markdown]
# # 09 · Real beats: inter-patient splits, RR features and the EC57 table
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/09_real_beats.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 13 s; default not measured. On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - why a beat classifier must be scored on *patients it never saw*: the same model, trained and scored
#   once with beats of every record mixed at random (intra-patient) and once with whole records held out
#   (inter-patient), and the two numbers side by side;
# - what RR intervals add: an S (supraventricular premature) beat looks like a normal one and only comes
#   *early*; the kit's `context="rr"` hands a model four RR features next to the signal (`data.aux`);
# - how beat classifiers are reported: the AAMI EC57 table (sensitivity, positive predictivity, specificity,
#   F1 per class; macro-F1 over N, S, V, F with Q reported but not averaged).
#
# *Papers:* de Chazal, O'Dwyer, Reilly, "Automatic classification of heartbeats using ECG morphology and
# heartbeat interval features", IEEE TBME 51(7), 2004 (the DS1/DS2 inter-patient protocol and RR features).
# MIT-BIH Arrhythmia Database: Moody & Mark 2001, PhysioNet.

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
# `DATA_DIR` empty: the folder named by the environment variable `ERTS_KIT_MITDB_DIR` if set (e.g. the 22
# DS1 records), else a small MIT-BIH-like WFDB tree written on the fly (synthetic beats that follow the
# textbook rules: S beats early with a normal shape, V beats wide and early).

# %% tags=["parameters"]
SMOKE = False          # True: tiny run, seconds on a CPU (what the tests run)
SEED = 0
DATASET = "mitbih"     # this notebook reads MIT-BIH beats only
DATA_DIR = ""          # a folder of MIT-BIH records (DS1 at least); empty: $ERTS_KIT_MITDB_DIR or a demo tree
MODEL = "small_cnn"
POLICY = "full"        # the selection policy of every training run here
EPOCHS = 4
DEVICE = "auto"
BATCH_SIZE = 128
LR = 2e-3
FS = 120.0             # records are resampled to this rate: a 0.8 s beat is 96 samples at 120 Hz

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself.

# %%
import os

DATA_DIR = DATA_DIR or os.environ.get("ERTS_KIT_MITDB_DIR", "")
N_RECORDS = 6 if SMOKE else 22          # DS1 records used (the held-out ones included)
DEMO_SECONDS = 60 if SMOKE else 300     # length of each demo record when no real data is at hand
EPOCHS = 1 if SMOKE else EPOCHS
WIDTH = 8 if SMOKE else 16              # small_cnn channels of its first block

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG.

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="09_real_beats")

# %% [markdown]
# ## Words used in this notebook
# (All in the [glossary](../docs/glossary.md).) The [AAMI classes](../docs/glossary.md#aami-classes) N, S, V, F, Q;
# the [RR interval](../docs/glossary.md#rr-interval) and the RR features built from it; the
# [DS1 / DS2 inter-patient split](../docs/glossary.md#ds1--ds2-inter-patient-split) (whole records, never beats of
# one patient on both sides); [macro-F1](../docs/glossary.md#macro-f1) (here over N, S, V, F: Q is reported, not
# averaged); [validation and test splits](../docs/glossary.md#validation--test-split-best-validation-checkpoint);
# and the per-class sensitivity (Se: share of a class's beats found) and positive predictivity (+P: share of the
# beats called that class that really are) of the AAMI EC57 report.

# %% [markdown]
# ## Imports
# Everything below comes from `erts_kit`; the notebook only glues calls together.

# %%
%matplotlib inline
import tempfile

import matplotlib.pyplot as plt
import pandas as pd
import torch

from erts_kit.data.demo_tree import write_mitbih_beats_tree
from erts_kit.data.mitbih import DS1, load_mitbih
from erts_kit.ec57 import ec57_report
from erts_kit.models import build_model
from erts_kit.selection import make_policy
from erts_kit.training import TrainConfig, evaluate, train

# %% [markdown]
# ## The records
# Real records if a folder is given, otherwise a demo tree with DS1 record names.

# %%
if DATA_DIR:
    root, source = DATA_DIR, f"MIT-BIH records in {DATA_DIR}"
else:
    root = write_mitbih_beats_tree(tempfile.mkdtemp(prefix="mitdb-beats-"), DS1[:N_RECORDS], seconds=DEMO_SECONDS,
                                   seed=SEED)
    source = "a synthetic MIT-BIH-like demo tree (no real record ships with the kit)"
records = list(DS1[:N_RECORDS])
print(f"{len(records)} DS1 records from {source}")


# %% [markdown]
# ## One helper: train, then predict on a split
# `train` keeps the weights of the best validation epoch; here every run validates only after its last epoch,
# so no held-out beat chooses anything.

# %%
def fit_and_predict(data, split, seed=SEED):
    torch.manual_seed(seed)
    net = build_model(MODEL, data.n_leads, data.n_classes, n_aux=data.n_aux, width=WIDTH)
    cfg = TrainConfig(epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, lr_gamma=0.7, loss="cb_ce", cb_beta=0.9995,
                      cb_max_weight_ratio=None, seed=seed, device=DEVICE, eval_every=EPOCHS)
    res = train(net, data, make_policy(POLICY), cfg, progress=False)
    out = evaluate(res.model, data, split)
    return out["labels"], out["probabilities"].argmax(1)


# %% [markdown]
# ## 1. Intra-patient vs inter-patient: the same model, two splits
# *Intra-patient*: every beat of every record is dealt at random to train (80%), validation (10%) and test
# (10%), so the test beats come from patients the model trained on. *Inter-patient*: a third of the records
# (one of three record-wise folds, :func:`erts_kit.data.protocol.record_folds`) is held out whole; the model
# never sees a beat of those patients. Both use one beat window and no RR features.

# %%
common = dict(records=records, fs=FS, drop_from_train=["Q"], seed=SEED)
intra = load_mitbih(root, split="intra_patient", **common)
inter = load_mitbih(root, n_folds=3, fold=0, test_records=[], **common)
held_out = sorted(set(inter.meta.loc[inter.splits["val"], "record"]))
scores = {}
for name, data, split in (("intra-patient (random beats)", intra, "test"),
                          ("inter-patient (held-out records)", inter, "val")):
    y, pred = fit_and_predict(data, split)
    scores[name] = ec57_report(y, pred, data.class_names).macro_f1
pd.Series(scores, name="macro-F1 (N, S, V, F)").round(3).to_frame()

# %% [markdown]
# On the real records the intra-patient number is the one many papers print, and it does not carry over to a
# new patient: beats of one record look alike (same electrode placement, same heart), so a model can match a
# test beat to its training twins instead of learning the arrhythmia. Only the inter-patient number says what
# happens on the next patient. (On the synthetic demo tree the records differ little, so the gap is smaller.)
# Held-out records here:

# %%
held_out

# %% [markdown]
# ## 2. RR features: the timing a single beat cannot show
# `context="rr"` adds `data.aux`, four features per beat (:func:`erts_kit.data.rr.rr_aux`): the RR interval
# before the beat, after it, and the local average, each relative to the record's average (negative: earlier
# than this patient's usual beat), and the record's average itself. Normalised per record, they compare a beat
# with its own patient's pace.

# %%
rr = load_mitbih(root, context="rr", n_folds=3, fold=0, test_records=[], **common)
table = pd.DataFrame(rr.aux, columns=rr.aux_names).assign(beat_class=rr.meta["aami"].to_numpy())
table.groupby("beat_class").median().round(2)

# %%
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
for c in ("N", "S", "V"):
    ax.hist(table.loc[table.beat_class == c, "pre_rr_rel"], bins=40, range=(-0.8, 0.8), alpha=0.5, density=True,
            label=c)
ax.set(xlabel="pre_rr_rel (RR before the beat / record average - 1)", ylabel="density",
       title="S and V beats come early")
ax.legend();

# %% [markdown]
# ## 3. The EC57 table: beat window + RR features, inter-patient
# The model takes the RR features in its head (`build_model(..., n_aux=4)`); Grad-CAM maps stay on the signal.
# Sensitivity (Se) is the share of a class's beats found, positive predictivity (+P) the share of the beats
# called that class that are right. Q (unclassifiable beats: 8 in DS1) is reported but not averaged.

# %%
y, pred = fit_and_predict(rr, "val")
report = ec57_report(y, pred, rr.class_names, records=rr.meta.loc[rr.splits["val"], "record"].to_numpy())
print(f"macro-F1 over N, S, V, F: {report.macro_f1:.3f}  ({report.note})")
report.per_class.round(3)

# %%
report.confusion

# %% [markdown]
# ## Per record
# Scores differ a lot between patients: one record with many S beats can decide the S column.

# %%
report.per_record.round(2)

# %% [markdown]
# # Summary
# - A random split by beat puts every patient in train and test and scores the model on beats it has nearly
#   seen; hold out whole records (`load_mitbih(..., n_folds=k, fold=i)` or `val_records=[...]`; DS1/DS2 for
#   the published protocol).
# - `context="rr"` gives `data.aux`, RR intervals relative to the patient's pace; any kit model takes them with
#   `build_model(..., n_aux=4)`, and training, scoring, Grad-CAM and ERTS pass them along.
# - Report beats the EC57 way: Se and +P per class, macro-F1 over N, S, V, F; the per-record table shows how
#   much one patient weighs.
# - The measured recipe (3 record-wise folds of DS1, full vs DBPD vs ERTS) is in `benchmarks/results/mitbih.md`.
#
# ## Questions
# 1. Why does an intra-patient split flatter a beat classifier, and which class would you expect it to flatter most?
# 2. An S beat with a normal shape: which of the four RR features carries it, and why normalise per record?
# 3. Record 208 holds most F beats of DS1: what happens to the F column in the fold that holds it out?
#
# ## Experiments to try
# - Rerun with `-p EPOCHS 8`: do the intra- and inter-patient numbers move apart or together?
# - Train the section-1 inter-patient model with `context="rr"` and compare its S column with section 3's.
# - Point `DATA_DIR` at a folder with DS1 and DS2 (or pass both folders to `load_mitbih`) and score on DS2.
