# %% [markdown]
# # 00 · Primer: the ECG and machine-learning words this course uses
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/00_primer.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 12 s; default 11 s. On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - what one heartbeat looks like on an ECG: the **P wave**, the **QRS complex** and the **T wave**, and the
#   intervals measured between them (**PR**, **QRS**, **QT**, **RR**);
# - what a **lead** is, and why a 12-lead ECG shows the same beat twelve ways;
# - what the classes of this course look like: an **ectopic beat** (PVC, PAC), **atrial fibrillation**, an
#   **ST change**, a first-degree **AV block**, and the **AAMI classes N, S, V, F, Q** of MIT-BIH;
# - the machine-learning words of the series: **p_true**, **macro-F1**, **Grad-CAM** (with its formula),
#   **focus**, **PDD** and **ERTS** in plain words, **effective epochs** and **compute-equivalent epochs**,
#   and what a **smoke** run is for.
#
# Every figure is drawn from the kit's synthetic generator (or from your MIT-BIH copy when `ERTS_KIT_MITDB_DIR`
# names it), and every number in the text is computed in this notebook. The words are collected in the
# [glossary](../docs/glossary.md), which every later notebook links to.
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
SMOKE = False          # True: fewer synthetic records (the primer is cheap either way)
SEED = 42
DATASET = "synthetic"  # the figures use the synthetic generator; MIT-BIH beats are added when DATA_DIR is set
DATA_DIR = ""          # a MIT-BIH folder (NNN.hea/.dat/.atr); empty: $ERTS_KIT_MITDB_DIR if set, else none
MODEL = "small_cnn"    # the network whose Grad-CAM is computed by hand below (untrained: only the formula matters)
POLICY = "full"        # not used in this notebook
EPOCHS = 1             # not used in this notebook
DEVICE = "auto"

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG.

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="00_primer")

# %% [markdown]
# ## Imports
# The beat figure and every score come from `erts_kit`; `scikit-learn` checks the hand-computed macro-F1.

# %%
%matplotlib inline
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import f1_score

from erts_kit.data.mitbih import AAMI_CLASSES, AAMI_MAP, load_mitbih
from erts_kit.data.synthetic import CLASS_DESCRIPTIONS, CLASS_EVIDENCE, SYNTHETIC_CLASSES, make_synthetic
from erts_kit.explain import focus_score, gradcam
from erts_kit.models import build_model
from erts_kit.results import check_claim, smoke_banner
from erts_kit.selection.ledger import CostLedger
from erts_kit.viz.ecg import plot_ecg, plot_ecg_grid
from erts_kit.viz.primer import plot_labelled_beat

# The primer draws single records, not training sets: empty splits and absent classes are expected here.
warnings.filterwarnings("ignore", message="(Split '.*' is empty|Classes .* have no training sample)")

# %% [markdown]
# # Part 1 — the ECG
#
# An **electrocardiogram (ECG)** records, on the skin, the electrical activity that makes the heart contract. In a
# normal heartbeat the signal starts in the **sinus node** (the heart's pacemaker, in the right atrium), spreads
# over the two **atria** (the upper chambers), is delayed in the **AV node** (atrioventricular node, the gate
# between atria and ventricles), then spreads fast over the two **ventricles** (the lower chambers, which pump),
# which finally recover. Each step leaves a mark:
#
# | mark | what the heart does | normal size |
# |---|---|---|
# | **P wave** | the atria are activated | small bump, < 0.12 s |
# | **PR interval** (start of P to start of QRS) | the AV node delays the signal | 0.12-0.20 s |
# | **QRS complex** (Q dip, R spike, S dip) | the ventricles are activated | narrow, < 0.12 s |
# | **ST segment** | the ventricles are fully activated: the line should be flat, at baseline | |
# | **T wave** | the ventricles recover | broader bump |
# | **RR interval** (R to the next R) | one heart cycle; heart rate = 60 / RR beats per minute | 0.6-1.0 s at rest |
#
# ECG paper is drawn at 25 mm/s and 10 mm/mV: a small square is 0.04 s × 0.1 mV, a large one 0.2 s × 0.5 mV.
#
# ## One beat, labelled
# A normal (NORM) record of the synthetic generator, noise turned off, lead II, 250 Hz. The landmarks are found by
# peak search (`erts_kit.viz.primer`); the PR and QT brackets use approximate onsets.

# %%
N_RECORDS = 12 if SMOKE else 60
clean = make_synthetic(n_samples=N_RECORDS, seed=SEED, fs=250, noise_scale=0.0)
meta = clean.meta
first_of = {c: int(meta.index[meta.class_true == c][0]) for c in SYNTHETIC_CLASSES}
II = clean.lead_names.index("II")
ax, norm_iv = plot_labelled_beat(clean.signals[first_of["NORM"]][II], clean.fs,
                                 title=f"record {first_of['NORM']} (NORM), lead II: one heartbeat and the next R peak")
print(f"measured on this beat: PR ~{norm_iv['PR']:.2f} s, QRS {norm_iv['QRS']:.2f} s, RR {norm_iv['RR']:.2f} s "
      f"(heart rate {60 / norm_iv['RR']:.0f} bpm)")

# %% [markdown]
# ## The same on a real beat (when a MIT-BIH copy is at hand)
# With `DATA_DIR` (or the environment variable `ERTS_KIT_MITDB_DIR`) naming a MIT-BIH folder, the first normal beat
# of record 119 (lead MLII, 360 Hz, in mV) is labelled the same way; otherwise this cell says how to get one.

# %%
MITDB = DATA_DIR or os.environ.get("ERTS_KIT_MITDB_DIR", "")
if MITDB:
    real = load_mitbih(MITDB, records=["119"], context="multibeat", normalize=False, n_val_records=0)
    j = int(np.flatnonzero(real.meta["aami"].to_numpy() == "N")[0])
    plot_labelled_beat(real.signals[j][0], real.fs, title=f"MIT-BIH record 119, beat {j} (N), lead MLII")
else:
    print("No MIT-BIH folder: set DATA_DIR (or ERTS_KIT_MITDB_DIR) to one; `erts-kit download mitbih --dir data/mitdb` "
          "fetches it (notebook 01).")

# %% [markdown]
# ## Leads: one heartbeat seen from several directions
# A **lead** is one voltage measured between electrodes (or between one electrode and an average of others). The
# standard **12-lead ECG** has six *limb leads* (I, II, III, aVR, aVL, aVF: the heart seen in the frontal plane)
# and six *chest leads* (V1-V6: the horizontal plane). They all record the same beats, so the waves come at the
# same times, but each lead sees them from its own angle: a wave can be tall in one lead, flat or upside down in
# another (aVR is usually inverted). MIT-BIH has two leads per record (MLII, a modified lead II, and usually V1);
# PTB-XL and the CinC 2020 sets have twelve.

# %%
three = [clean.lead_names.index(n) for n in ("I", "II", "aVR", "V1")]
i = first_of["NORM"]
plot_ecg_grid(clean.signals[i][three, : int(3 * clean.fs)], clean.fs, [clean.lead_names[k] for k in three],
              title=f"record {i}: the first 3 s in four of its twelve leads");

# %% [markdown]
# ## What each class's evidence looks like
# The six synthetic classes, lead II, 4 s around the evidence (blue shading: the generator's **evidence mask**,
# where the class shows):
#
# - **NORM**: normal **sinus rhythm** (every beat starts in the sinus node, regular RR, 55-100 bpm).
# - **PVC** (premature ventricular contraction): an **ectopic beat** (one that starts outside the sinus node), here in
#   the ventricles: it comes early, has no P wave, a wide bizarre QRS and a T wave pointing the other way, followed
#   by a long (compensatory) pause. *Local* evidence: one beat.
# - **PAC** (premature atrial contraction): an ectopic beat that starts in the atria: early, with an abnormal P wave
#   and a normal, narrow QRS. Local evidence.
# - **AF** (atrial fibrillation): the atria quiver instead of beating: no P waves, a wavy baseline, and an
#   *irregularly irregular* RR. *Diffuse* evidence: the whole record.
# - **ST** (ST change): the ST segment sits above or below the baseline in every beat (a sign of ischaemia). Diffuse.
# - **AVB1** (first-degree **AV block**): the AV node is slow, so the PR interval is longer than 0.2 s in every
#   beat; every P is still followed by a QRS. Diffuse.

# %%
fig, axes = plt.subplots(3, 2, figsize=(13, 7), layout="constrained")
for ax, name in zip(axes.ravel(), SYNTHETIC_CLASSES):
    k = first_of[name]
    event = meta.event_time_s[k]
    start = 0.0 if np.isnan(event) else float(np.clip(event - 2.0, 0, 6))
    plot_ecg(clean.signals[k], clean.fs, lead=II, mask=clean.evidence_mask[k], ax=ax, colorbar=False,
             title=f"{name} ({CLASS_EVIDENCE[name]}): {CLASS_DESCRIPTIONS[name]}")
    ax.set_xlim(start, start + 4.0)

# %% [markdown]
# ## A first-degree AV block, measured
# The PR interval of the first AVB1 record against the NORM one above, measured by the same peak search; the check
# fails the notebook if the generator ever stops producing the textbook difference (PR above 0.2 s).

# %%
_, avb_iv = plot_labelled_beat(clean.signals[first_of["AVB1"]][II], clean.fs,
                               title=f"record {first_of['AVB1']} (AVB1), lead II: a long PR interval")
print(f"PR ~{avb_iv['PR']:.2f} s (AVB1) against ~{norm_iv['PR']:.2f} s (NORM); P peak to R peak "
      f"{avb_iv['P_to_R']:.2f} s against {norm_iv['P_to_R']:.2f} s")
print(check_claim(avb_iv["PR"] > 0.2 > norm_iv["PR"], "the AVB1 beat's PR exceeds 0.2 s and the NORM beat's does not",
                  f"PR {avb_iv['PR']:.2f} s vs {norm_iv['PR']:.2f} s"))

# %% [markdown]
# ## The AAMI classes of MIT-BIH
# MIT-BIH labels every beat with a symbol; the **AAMI** standard (EC57, of the Association for the Advancement of
# Medical Instrumentation) groups the symbols into five classes, the usual targets of beat classifiers:
#
# | class | meaning | examples |
# |---|---|---|
# | **N** | normal and bundle-branch-block beats (start in the sinus node) | normal, left/right bundle branch block |
# | **S** | supraventricular ectopic beats (start in the atria or the AV junction) | atrial premature (like PAC) |
# | **V** | ventricular ectopic beats | premature ventricular contraction (like PVC), ventricular escape |
# | **F** | fusion of a ventricular and a normal beat | |
# | **Q** | paced or unclassifiable beats | paced records are left out |
#
# S beats are hard across patients: an S beat looks almost like an N beat and differs mainly by coming early, which
# one beat's window cannot show (notebook 01). The symbols the kit maps to each class:

# %%
pd.Series({c: " ".join(s for s, a in AAMI_MAP.items() if a == c) for c in AAMI_CLASSES}, name="MIT-BIH symbols")

# %% [markdown]
# # Part 2 — the machine-learning words
#
# ## Logits, softmax and p_true
# A classifier outputs one number per class (the **logits**); the **softmax** turns them into probabilities that sum
# to 1. **p_true** is the probability the model gives to the sample's label (the *given* label: if the label is
# wrong, p_true is the probability of the wrong class). PDD and ERTS use p_true to decide which samples still teach
# the model something: a low p_true means a *hard* sample.

# %%
logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
labels = torch.tensor([0, 2])
probs = logits.softmax(dim=1)
p_true = probs[torch.arange(2), labels]
pd.DataFrame(probs.numpy().round(3), columns=["class 0", "class 1", "class 2"]).assign(label=labels.numpy(),
                                                                                       p_true=p_true.numpy().round(3))

# %% [markdown]
# ## Macro-F1
# For one class c: **precision** = of the samples predicted c, the share that are c; **recall** = of the samples
# that are c, the share predicted c; **F1** = 2 · precision · recall / (precision + recall). **Macro-F1** is the plain
# mean of the per-class F1, so every class counts the same however rare it is. **Accuracy** (share of correct
# predictions) can look good on an imbalanced set while a rare class is never found; macro-F1 cannot.
#
# Below: 18 N beats, 2 S beats, and a model that calls everything N.

# %%
y_true = np.array([0] * 18 + [1] * 2)
y_pred = np.zeros(20, dtype=int)
per_class = []
for c in (0, 1):
    tp = int(((y_pred == c) & (y_true == c)).sum())
    precision = tp / max(1, int((y_pred == c).sum()))
    recall = tp / int((y_true == c).sum())
    per_class.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
macro = float(np.mean(per_class))
accuracy = float((y_pred == y_true).mean())
print(f"accuracy {accuracy:.2f}; F1 of N {per_class[0]:.3f}, of S {per_class[1]:.3f}; macro-F1 {macro:.3f}")
assert np.isclose(macro, f1_score(y_true, y_pred, average="macro", zero_division=0)), "hand macro-F1 != scikit-learn"

# %% [markdown]
# ## Grad-CAM, with its formula
# **Grad-CAM** (gradient-weighted class activation mapping) answers "where in the input did the network find
# evidence for class c?". Take a convolutional layer whose output has K channels over W time steps, $A_k(t)$, and the
# network's logit for class c, $y^c$. Each channel gets a weight, the mean gradient of the logit over time, and the
# map is the weighted sum of the channels, negative values cut off:
#
# $$\alpha_k^c = \frac{1}{W}\sum_{t=1}^{W} \frac{\partial y^c}{\partial A_k(t)}, \qquad
#   L^c(t) = \mathrm{ReLU}\Big(\sum_{k=1}^{K} \alpha_k^c\, A_k(t)\Big).$$
#
# The map has the layer's resolution W (for `small_cnn` on a 10 s, 100 Hz record: W = 125, one value per 80 ms); it
# is upsampled to the signal only for display. Below the formula is computed by hand on an untrained `MODEL` and
# compared with the kit's `gradcam` (Captum's `LayerGradCam` inside); notebook 03 applies it to a trained model.

# %%
model = build_model(MODEL, n_leads=12, n_classes=6).eval()
x = torch.as_tensor(make_synthetic(n_samples=6, seed=SEED).signals[:1])        # (1, 12, 1000)
kept = {}
hook = model.cam_layer.register_forward_hook(lambda mod, inp, out: kept.update(A=out))
logit = model(x)[0, 1]                                                          # class 1
hook.remove()
A = kept["A"]                                                                   # (1, K, W)
(grad,) = torch.autograd.grad(logit, A)
alpha = grad.mean(dim=-1, keepdim=True)                                         # (1, K, 1)
by_hand = torch.relu((alpha * A).sum(dim=1))                                    # (1, W)
kit = gradcam(model, x, target=1, engine="captum")
print(f"layer {model.cam_layer_name}: A has K = {A.shape[1]} channels over W = {A.shape[2]} steps; "
      f"max |by hand - kit| = {float((by_hand - kit).abs().max().detach()):.1e}")
assert torch.allclose(by_hand, kit, atol=1e-5 * max(1.0, float(kit.abs().max()))), "the formula should give the kit's map"

# %% [markdown]
# ## Focus
# ERTS scores how *focused* a map is: min-max normalise the map to [0, 1], then take the mean of its top 10 %
# (k = max(1, W // 10) values). Notebook 04 shows what this rewards; here the two extremes, computed:

# %%
W = 20
spike = torch.zeros(W); spike[7] = 1.0
plateau = torch.zeros(W); plateau[:10] = 1.0
print(f"k = {max(1, W // 10)}; focus of one spike {float(focus_score(spike[None], 'topk_mean')):.2f}, "
      f"of a plateau over half the map {float(focus_score(plateau[None], 'topk_mean')):.2f}")

# %% [markdown]
# ## PDD and ERTS in plain words
# - **Progressive Data Dropout (PDD)**: after a few **warm-up** epochs on every sample, each batch trains only on the
#   samples that are still hard. **DBPD** keeps those with p_true below a threshold **tau**; **SMRD** keeps as many at
#   random (the control); **SRD** keeps a shrinking random share. A forward pass scores every sample first.
# - **ERTS** (Explainability as a Reliability signal for Training Samples) adds a filter on top of PDD: among the
#   samples PDD would keep (the **candidates**), it computes Grad-CAM, ranks them by **(1 - p_true) × focus** and keeps
#   the top fraction **phi**; every class keeps at least one sample (the **rescue**). The bet: a hard sample with a
#   diffuse map is more likely *corrupted* (a wrong label, an artefact) than informative. The course tests that bet.
#
# ## Effective epochs and compute-equivalent epochs
# An **epoch** is one pass over the training set. **Effective epochs (EE)**, what the papers publish, count only the
# samples that were trained on, divided by the training-set size N. **Compute-equivalent epochs** count every pass at
# its nominal cost per sample — a scoring forward 1 unit, a Grad-CAM pass 2, a training step (forward + backward) 3 —
# divided by 3N, so a full-data epoch is 1 on both scales. Below, one PDD epoch on N = 100 samples that scores all
# 100 and trains on its 30 candidates, and one ERTS epoch that explains those 30 and trains on phi = 0.7 of them:

# %%
cost = {}
for name, gradcams, trained in (("PDD", 0, 30), ("ERTS", 30, 21)):
    ledger = CostLedger()
    ledger.add_scored(100); ledger.add_gradcam(gradcams); ledger.add_train(trained)
    ledger.end_epoch(0)
    cost[name] = (ledger.effective_epochs(100), ledger.compute_equivalent_epochs(100))
    print(f"{name}: EE {cost[name][0]:.2f}, compute-equivalent epochs {cost[name][1]:.2f} "
          f"= (100 x 1 + {gradcams} x 2 + {trained} x 3) / 300")
print(check_claim(cost["ERTS"][0] < cost["PDD"][0] and cost["ERTS"][1] > cost["PDD"][1],
                  "ERTS has the lower EE and the higher compute cost", f"EE {cost['ERTS'][0]:.2f} vs {cost['PDD'][0]:.2f}, "
                  f"compute {cost['ERTS'][1]:.2f} vs {cost['PDD'][1]:.2f}"))

# %% [markdown]
# **Wall-clock** (seconds on a given machine) is the third measure: the unit costs are nominal, real passes take what
# the hardware gives them, and validation and data loading cost every policy the same. Notebooks 05, 06 and 08 put
# the three side by side and say, in a *verdict* cell, where they disagree.
#
# ## Smoke runs
# Every notebook has a `SMOKE` parameter. `SMOKE = True` shrinks the data and the epochs so the whole notebook runs in
# seconds (that is what the tests run). Its numbers test the code, not the methods: each smoke result carries the
# banner below.

# %%
smoke_banner(True, "this is what a smoke result looks like: it shows the code runs, not what the method does.")

# %% [markdown]
# # Summary
# - A heartbeat is P (atria), a PR delay (AV node), QRS (ventricles) and T (recovery); RR is one cycle. A lead is
#   one view of the same beats; a 12-lead ECG has twelve.
# - Local evidence is one ectopic beat (PVC, PAC); diffuse evidence is in every beat (AF, ST change, AV block). MIT-BIH
#   beats are grouped into the AAMI classes N, S, V, F, Q.
# - Macro-F1 is the mean of per-class F1; Grad-CAM is a gradient-weighted sum of a layer's channels; focus is the mean
#   of the top decile of the min-max-normalised map; EE counts training passes only, compute-equivalent epochs count
#   every pass.
#
# ## Questions
# 1. Which wave would you look at to tell a PAC from a PVC, and why does the QRS width help?
# 2. Why does a first-degree AV block leave the RR interval normal while the PR interval is long?
# 3. In the macro-F1 example, what is the smallest change to the predictions that lifts macro-F1 above 0.5?
# 4. Why does the Grad-CAM weight $\alpha_k^c$ average the gradient over time instead of using it step by step?
# 5. In the ledger example ERTS trains on fewer samples than PDD and still costs more compute. For which phi (or which
#    Grad-CAM unit cost) would the two cost the same?
#
# ## Experiments to try
# - Set `SEED = 7` in the parameters cell (`-p SEED 7`): do the measured PR and RR change, and does the AV-block check still hold?
# - Download MIT-BIH (notebook 01) and set `DATA_DIR = "data/mitdb"` (`-p DATA_DIR data/mitdb`): compare the real beat with the synthetic one.
