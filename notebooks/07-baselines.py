# %% [markdown]
# # 7. Baselines, beyond the paper: what SOAP adds, and what the row split leaks
#
# The paper's pixel classifier reaches a test accuracy of 0.6863 (Table 1), with nothing to judge the
# number by. A reviewer would ask three things, answered here on exactly the pixels the `spectra`
# stage sampled (`pixelsoap.experiments.baselines`):
#
# - **Chance.** A random guess scores 1/10; always answering the most frequent class scores that
#   class's share of the test rows.
# - **The raw pixels around a pixel.** The same classifier (Fig. 8, the profile's
#   `experiment1.final.classifier` settings) on the grey levels of the `window` x `window` pixels
#   centred on the sampled pixel (grey / 255, zero outside the image) plus the pixel's position (x, y
#   scaled to [0, 1]). Whatever SOAP adds over that window is what the spectrum is worth.
# - **The image-wise split.** The paper splits the sampled rows at random, so pixels of one image sit
#   on both sides of training and validation. Here the same rows are also split by source image (what
#   `spectra.split: image` samples: the pixels depend on the seed alone, only the split changes), and
#   both feature sets are trained under both splits. The test rows come from MNIST's test images under
#   either split, so a leak shows in the validation accuracy, not in the test accuracy.
#
# Every model is trained with `baselines.n_seeds` seeds (`seed`, `seed + 1`, ...; one grouped call
# of the training engine) and reported as the mean with its 95 % Student-t interval over the seeds.
# To fit the default run's time, the models train on the first `baselines.n_train` training +
# validation rows of the `spectra` stage (the rows are independent draws: a prefix is a random
# sample of them); the test rows are all of the stage's.

# %% tags=["parameters"]
# Opened by hand, the notebook runs on the active profile (params.yaml, else params/default.yaml);
# `make reproduce` injects the same sections, from params.yaml, after this cell.
from pixelsoap.runtime.profiles import active_params

_profile = active_params(["spectra", "experiment1", "baselines"])
seed = _profile["seed"]
dataset = _profile["dataset"]
spectra = _profile["spectra"]
experiment1 = _profile["experiment1"]
baselines = _profile["baselines"]
# Opened by hand it writes figures and results under scratch/ (gitignored); `make reproduce`
# injects outputs = "pipeline": set that here to write the pipeline's own files.
outputs = "scratch"

# %%
import time

import pandas as pd

from pixelsoap import published
from pixelsoap.data import load_images
from pixelsoap.experiments import baselines as base
from pixelsoap.experiments.spectra import load as load_spectra
from pixelsoap.models import classifier as models
from pixelsoap.plots import save_figure
from pixelsoap.plots.baselines import fig23_baselines
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import atomic_path, write_json

paths.use_outputs(outputs)  # scratch/ by hand, the project's figures/ and results/ in the pipeline

started = time.perf_counter()
settings = base.parse_section(baselines)
config = models.ClassifierConfig.from_mapping({**experiment1["final"]["classifier"], "seed": seed})
out = paths.results_dir() / "baselines"
data = load_spectra()
train_images, _ = load_images("train", dataset)
test_images, _ = load_images("test", dataset)
print(settings)
print(config)
print(f"spectra stage: {len(data.train_all):,} training + validation rows, {len(data.test):,} test rows; "
      f"used here: {min(settings.n_train or len(data.train_all), len(data.train_all)):,} + all test rows")

# %% [markdown]
# ## Training the four models
# SOAP spectra or the raw-pixel window, each under the row split and the image split, each with every
# seed. The window's features of a pixel are its 81 grey levels (for a 9 x 9 window) and its position.

# %%
metrics = base.run(data, train_images, test_images, settings, config, seed, spectra["val_fraction"])
metrics["dataset"] = dataset
lines = pd.DataFrame(base.table(metrics))
with atomic_path(out / "accuracy.csv") as tmp:
    lines.to_csv(tmp, index=False)
lines.round(4)

# %% [markdown]
# ## Chance, the gain of SOAP over the window, and the row split's leak
# `gain_over_window`: SOAP's test accuracy minus the window's, seed by seed. `row_split_leak`: the row
# split's accuracy minus the image split's, for validation and test rows; a positive validation leak
# with no test leak means the row split flatters the validation accuracy only.

# %%
def show(est):
    return f"{est['mean']:+.4f} (95 % interval {est['low']:+.4f} to {est['high']:+.4f}, {est['n']} seeds)"


print("chance:", metrics["chance"])
for split, est in metrics["gain_over_window"].items():
    print(f"SOAP minus window, {split} split, test accuracy: {show(est)}")
for features, parts in metrics["row_split_leak"].items():
    for part, est in parts.items():
        print(f"row split minus image split, {features}, {part}: {show(est)}")
print("images with rows on both sides of the split:",
      {name: model["images_on_both_sides"] for name, model in metrics["models"].items()})

# %% [markdown]
# ## Fig. 23: each model's accuracy beside chance and the paper

# %%
paper_test_accuracy = published.value("experiment1.table1")["accuracy"]
save_figure(fig23_baselines(metrics, paper_test_accuracy), "fig23-baselines")

# %%
metrics["seconds"] = round(time.perf_counter() - started, 1)
write_json(out / "metrics.json", metrics)
print(f"results/baselines/metrics.json written; the notebook took {metrics['seconds']:.0f} s")
