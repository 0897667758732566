# %% [markdown]
# # 03 · Grad-CAM on ECGs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/erts-kit/erts-kit/blob/v0.1.0/notebooks/03_gradcam.ipynb)
#
# **Runtime** on a 2-core CPU (shared machine, so upper bounds): smoke 15 s; default ≈ 6 min (extrapolated: 15 x a 1-epoch run of 23 s). On Colab choose a GPU runtime for the default settings. Details: notebooks/README.md, runtime guide.
#
# **What you will learn**
# - what Grad-CAM computes on a 1-D ECG network, and the one Captum call that gives it;
# - how to read a map over one lead and over the 12-lead grid, next to where the evidence really is;
# - why the layer matters: an earlier layer gives a finer map in time, a later one a coarser, more class-specific map;
# - that the kit's fast engine (trunk without autograd, head with it) gives Captum's maps, at a fraction of the cost.
#
# ERTS computes Grad-CAM for the *true* class at the model's explanation layer, in eval mode, and scores it at
# the layer's own resolution.
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
DATASET = "synthetic"  # this notebook needs the synthetic set (its evidence mask)
DATA_DIR = ""          # not used: the synthetic set is generated
MODEL = "small_cnn"    # a 1-D model of erts_kit.models.list_models() (small_cnn, resnet1d_wang, inception1d)
POLICY = "full"        # the short training run uses every sample
EPOCHS = None          # None: 2 in smoke mode, 15 otherwise
DEVICE = "auto"
N_SAMPLES = None       # synthetic records; None: 240 in smoke mode, 3000 otherwise
N_EXPLAIN = None       # samples in the engine comparison; None: 16 in smoke mode, 256 otherwise
EXPLAIN_CLASS = "PVC"  # class of the record explained: PVC, PAC (local evidence), AF, ST, AVB1 (diffuse), NORM

# %% [markdown]
# ## Cost knobs
# Sizes that follow `SMOKE` unless you set them yourself.

# %%
EPOCHS = (2 if SMOKE else 15) if EPOCHS is None else EPOCHS
N_SAMPLES = (240 if SMOKE else 3000) if N_SAMPLES is None else N_SAMPLES
N_EXPLAIN = (16 if SMOKE else 256) if N_EXPLAIN is None else N_EXPLAIN

# %% [markdown]
# ## Check the parameters
# A wrong type or value stops here with a message naming the parameter; this also seeds every RNG and picks the device.

# %%
import erts_kit.course.params

P = erts_kit.course.params.check_params(globals(), notebook="03_gradcam")
assert DATASET == "synthetic", "03_gradcam needs DATASET = 'synthetic': it compares maps with the evidence mask"
assert MODEL in ("small_cnn", "resnet1d_wang", "inception1d"), "03_gradcam draws 1-D maps: choose a 1-D MODEL"

# %% [markdown]
# ## Grad-CAM in one formula
# For a convolutional layer with K channels $A_k(t)$ over W time steps and the network's logit $y^c$ for class c:
#
# $$\alpha_k^c = \frac{1}{W}\sum_{t=1}^{W} \frac{\partial y^c}{\partial A_k(t)}, \qquad
#   L^c(t) = \mathrm{ReLU}\Big(\sum_{k=1}^{K} \alpha_k^c\, A_k(t)\Big).$$
#
# Each channel is weighted by how much raising it would raise the class score (its mean gradient); the weighted sum,
# negative values cut off, is the map: where the layer found evidence *for* class c, one value per time step of the
# layer. [00_primer](00_primer.ipynb) computes it by hand and checks it against the kit; see also the
# [glossary](../docs/glossary.md#grad-cam). The signals here are [z-scored](../docs/glossary.md#z-score): the ECG grid is in z-score units, not mV.
#
# Why the course needs it: [ERTS](../docs/glossary.md#erts) computes this map for every sample the data-dropout method would train
# on, scores how *focused* it is, and trains preferentially on hard samples with focused maps (notebooks 04 and 06).

# %% [markdown]
# ## Imports
# Grad-CAM, plots and the ground-truth overlap all come from `erts_kit`; Captum is called once by hand.

# %%
%matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from captum.attr import LayerAttribution, LayerGradCam

from erts_kit.data import load_dataset
from erts_kit.explain import gradcam
from erts_kit.explain.groundtruth import evidence_overlap
from erts_kit.models import build_model
from erts_kit.results import show_smoke_banner
from erts_kit.selection import make_policy
from erts_kit.training import TrainConfig, train
from erts_kit.viz.ecg import plot_ecg, plot_ecg_grid

# %% [markdown]
# ## Data and a briefly trained model
# A clean synthetic set (z-scored) and a model trained for a few epochs: Grad-CAM explains a trained model, not a random one.

# %%
data = load_dataset("synthetic", n_samples=N_SAMPLES, seed=SEED)
model = build_model(MODEL, n_leads=data.n_leads, n_classes=data.n_classes)
result = train(model, data, policy=make_policy(POLICY),
               config=TrainConfig(epochs=EPOCHS, seed=SEED, device=DEVICE), progress=False)
model = result.model.eval()
device = next(model.parameters()).device
print(f"trained on {result.device}; validation macro-F1 {result.history.val_macro_f1.max():.3f}; "
      f"explanation layer {model.cam_layer_name!r}")

# %% [markdown]
# ## One record to explain
# A test record of `EXPLAIN_CLASS`; for PVC the evidence is one premature wide beat, so a good map should light up there.

# %%
meta = data.meta
test = data.split("test")
i = int(next(j for j in test if meta.class_true[j] == EXPLAIN_CLASS))
x = torch.as_tensor(data.signals[i : i + 1], device=device)        # (1, leads, T)
y = int(data.labels[i])
print(f"record {i}: class {data.class_names[y]} ({meta.evidence_kind[i]} evidence, "
      f"{data.evidence_mask[i].mean():.0%} of the record in the mask)")

# %% [markdown]
# ## The Captum call
# `LayerGradCam` on the model's explanation layer, for the true class; the result has the layer's time resolution W, not T.

# %%
captum_map = LayerGradCam(model, model.cam_layer).attribute(x, target=y, relu_attributions=False)
print(f"input {tuple(x.shape)} -> Captum output {tuple(captum_map.shape)} (batch, 1, W): "
      f"one value per {data.n_timesteps // captum_map.shape[-1]} input samples")
cam = torch.relu(captum_map[0, 0]).detach().cpu()                  # (W,), positive evidence only

# %% [markdown]
# ## The same map with one kit call
# `erts_kit.explain.gradcam` runs Captum (or the fast engine) in eval mode and leaves the model exactly as it was.

# %%
kit_map = gradcam(model, x, y, engine="captum")[0].cpu()
print("max |kit - Captum| =", float((kit_map - cam).abs().max()))

# %% [markdown]
# ## Overlay on one lead
# The coloured band under the trace is the map, min-max scaled: pale yellow = low, dark red = high (colour bar on
# the right); the blue shading is the evidence mask.

# %%
plot_ecg(data.signals[i], data.fs, lead=data.lead_names.index("II"), cam=cam, mask=data.evidence_mask[i],
         title=f"record {i} ({data.class_names[y]}), lead II: Grad-CAM at {model.cam_layer_name}");

# %% [markdown]
# ## Overlay on the 12-lead grid
# A 1-D model has one map for all leads (the convolution mixes the leads from its first layer on).

# %%
plot_ecg_grid(data.signals[i], data.fs, data.lead_names, cam=cam, mask=data.evidence_mask[i],
              title=f"record {i} ({data.class_names[y]}): one Grad-CAM map shared by the 12 leads");

# %% [markdown]
# ## Why the layer matters
# The same call at the trunk's second convolution: a finer time resolution, but features that know less about the class.

# %%
early = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)][1]
layers = {"2nd convolution (early)": early, f"{model.cam_layer_name} (ERTS layer)": model.cam_layer}
maps = {name: torch.relu(LayerGradCam(model, layer).attribute(x, target=y, relu_attributions=False))
        for name, layer in layers.items()}
fig, axes = plt.subplots(len(maps), 1, figsize=(10, 2.2 * len(maps)), sharex=True, layout="constrained")
for ax, (name, m) in zip(axes, maps.items()):
    plot_ecg(data.signals[i], data.fs, lead=data.lead_names.index("II"), cam=m[0, 0].detach().cpu(),
             mask=data.evidence_mask[i], ax=ax, title=f"{name}: W = {m.shape[-1]} ({1000 * data.n_timesteps / m.shape[-1] / data.fs:.0f} ms per value)")

# %% [markdown]
# ## Which layer points at the evidence?
# Over the clean local-evidence test records (PVC, PAC): the share of each map's positive mass inside the evidence mask.

# %%
local = np.array([j for j in test if meta.evidence_kind[j] == "local" and not meta.corrupted[j]])
xl = torch.as_tensor(data.signals[local], device=device)
yl = torch.as_tensor(data.labels[local], device=device)
overlap = {}
for name, layer in layers.items():
    up = LayerAttribution.interpolate(LayerGradCam(model, layer).attribute(xl, target=yl), data.n_timesteps, "linear")
    overlap[name] = evidence_overlap(up[:, 0].detach().cpu(), data.evidence_mask[local])
chance = data.evidence_mask[local].mean()
show_smoke_banner(SMOKE, f"a model trained {EPOCHS} epochs on {N_SAMPLES} records: whether its maps sit on the "
                           "evidence says little about a trained one.")
pd.DataFrame({"mean mass inside the mask": {k: np.nanmean(v) for k, v in overlap.items()},
              "a uniform map would give": chance}).round(3)

# %% [markdown]
# ## The fast engine equals Captum
# Same maps (signed, before ReLU) for a batch of test records and their true classes; the difference is asserted to be rounding only.
#
# Where its speed comes from: the trunk needs no autograd, so nothing has to be kept for a backward pass, and on a CPU
# in eval mode the engine streams the batch 16 samples at a time (`chunk="auto"`): each activation stays small enough
# for the caches. `chunk=None` turns that off, to see its share. (Captum called slice by slice gains most of that
# too; BENCHMARKS.md measures all four at batch 256.) What the engine can skip depends on where the layer sits:
# everything *after* it (the head) must run forward and backward in both engines, so the deeper the head, the smaller
# the gain.

# %%
idx = test[:N_EXPLAIN]
xb = torch.as_tensor(data.signals[idx], device=device)
yb = torch.as_tensor(data.labels[idx], device=device)
_ = gradcam(model, xb[:2], yb[:2], engine="captum"), gradcam(model, xb[:2], yb[:2], engine="fast")   # warm-up
t0 = time.perf_counter()
fast = gradcam(model, xb, yb, engine="fast", relu=False)
t_fast = time.perf_counter() - t0
t0 = time.perf_counter()
ref = gradcam(model, xb, yb, engine="captum", relu=False)
t_captum = time.perf_counter() - t0
t0 = time.perf_counter()
whole = gradcam(model, xb, yb, engine="fast", relu=False, chunk=None)
t_whole = time.perf_counter() - t0
max_diff = float(max((fast - ref).abs().max(), (whole - ref).abs().max()))
scale = float(ref.abs().max())
print(f"{len(idx)} maps of width {fast.shape[-1]}: max |fast - Captum| = {max_diff:.2e} (map scale {scale:.2e})")
print(f"time: fast {t_fast * 1000:.1f} ms, Captum {t_captum * 1000:.1f} ms (ratio {t_captum / t_fast:.1f}x, one run, {device}); "
      f"fast without micro-batches {t_whole * 1000:.1f} ms")
assert max_diff <= 1e-5 * max(1.0, scale), "the fast engine should reproduce Captum's maps"
show_smoke_banner(SMOKE, f"{len(idx)} maps, one timing on a shared machine: the equality check holds at any size, "
                  "the speed ratio does not (BENCHMARKS.md has measured ones).")

# %% [markdown]
# # Summary
# - Grad-CAM weights each channel of a layer by the mean gradient of the class logit and sums them,
#   $L^c(t) = \mathrm{ReLU}(\sum_k \alpha_k^c A_k(t))$ with $\alpha_k^c$ the time-mean of $\partial y^c / \partial A_k(t)$:
#   one value per time step *of that layer* (W = T / 8 for `small_cnn`), upsampled only for display.
# - Captum's `LayerGradCam(model, model.cam_layer).attribute(x, target=y)` is the reference; `erts_kit.explain.gradcam`
#   wraps it and adds a fast engine that gives the same maps without a backward pass through the trunk, streaming
#   the batch in micro-batches on a CPU.
# - The layer sets the resolution and what the map means: earlier layers are sharper in time but less class-specific.
#
# ## Questions
# 1. Why does a 1-D model give one map for all twelve leads, and what would a 2-D backbone give instead?
# 2. The ERTS focus score is computed on the map *before* upsampling: what changes if you upsample first?
# 3. Why can the fast engine skip autograd in the trunk and still give the exact same map? Why may it split the batch
#    in eval mode but not in train mode (think of BatchNorm)?
# 4. For an AF record (diffuse evidence), what should a "good" map look like?
# 5. The paper explains ResNet-18 at `layer3`, which leaves `layer4`, its costliest stage, in the head. Why can no
#    engine that gives Captum's exact map save much time there? (BENCHMARKS.md times the trunk and the head apart.)
#
# ## Experiments to try
# Each is an edit of the parameters cell or a papermill flag; costs (2-core CPU) in
# [docs/instructors.md](../docs/instructors.md#03-grad-cam).
# - `EPOCHS = 1` versus `EPOCHS = 30` (`-p EPOCHS 1`, `-p EPOCHS 30`): does the map move onto the premature beat as
#   the model learns?
# - `MODEL = "resnet1d_wang"` (`-p MODEL resnet1d_wang`): a deeper trunk; compare its map width and the mass inside
#   the mask.
# - `EXPLAIN_CLASS = "AF"` (diffuse evidence) or `EXPLAIN_CLASS = "PAC"` (`-p EXPLAIN_CLASS AF`): how do the maps and
#   the mask compare?
# - `N_EXPLAIN = 1024` (`-p N_EXPLAIN 1024`): does the speed ratio of the fast engine grow with the batch?
