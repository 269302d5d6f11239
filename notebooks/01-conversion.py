# %% [markdown]
# # 1. From images to 3D point sets (paper Sec. 3.2.1, Algorithm 1, Fig. 7)
#
# Every pixel of an MNIST image (or of the profile's `dataset`, e.g. Fashion-MNIST) with grey level
# $I \ge 10$ becomes a point $(x, y, z) = (j, i, \lfloor I/10 \rfloor)$: the column, the row and
# the "squashed" intensity. Pixels with $z = 0$ are dropped. This notebook shows one digit and its
# point set (Fig. 7), and how many points MNIST images have, which sets the cost of computing one
# SOAP spectrum per point.
#
# All logic lives in `pixelsoap`; this notebook calls it, draws and writes its outputs.

# %% tags=["parameters"]
# Opened by hand, the notebook runs on the active profile (params.yaml, else params/default.yaml);
# `make reproduce` injects the same sections, from params.yaml, after this cell.
from pixelsoap.runtime.profiles import active_params

_profile = active_params(["conversion"])
seed = _profile["seed"]
dataset = _profile["dataset"]
conversion = _profile["conversion"]
# Opened by hand it writes figures and results under scratch/ (gitignored); `make reproduce`
# injects outputs = "pipeline": set that here to write the pipeline's own files.
outputs = "scratch"

# %%
import pandas as pd

import pixelsoap as ps
from pixelsoap.data import class_names, class_noun, display_name, load_images
from pixelsoap.images.conversion import describe_counts
from pixelsoap.images.selection import first_of_digit
from pixelsoap.plots import save_figure
from pixelsoap.plots.conversion import fig07_points_per_image, fig07_projection
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import write_json

paths.use_outputs(outputs)  # scratch/ by hand, the project's figures/ and results/ in the pipeline

# %% [markdown]
# ## Fig. 7: one digit as a point set
# The example is the first test image of the digit `conversion["example_digit"]`.

# %%
test_images, test_labels = load_images("test", dataset)
names, noun = class_names(dataset), class_noun(dataset)
example = first_of_digit(test_labels, conversion["example_digit"])
points = ps.image_to_points(test_images[example])
fig = fig07_projection(test_images[example], points, label=names[int(test_labels[example])], noun=noun)
save_figure(fig, "fig07-projection")
print(f"test image {example}: {len(points)} points, z from {points[:, 2].min():.0f} to {points[:, 2].max():.0f}")

# %% [markdown]
# ## Points per image
# The first `conversion["n_images"]` images (training images first, then test images).

# %%
train_images, train_labels = load_images("train", dataset)
n_train = min(conversion["n_images"], len(train_images))
n_test = min(max(conversion["n_images"] - n_train, 0), len(test_images))
counts = {"train": ps.points_per_image(train_images[:n_train])}
labels = {"train": train_labels[:n_train]}
if n_test:
    counts["test"] = ps.points_per_image(test_images[:n_test])
    labels["test"] = test_labels[:n_test]
save_figure(fig07_points_per_image(counts, labels, display_name(dataset), names if dataset != "mnist" else None, noun),
            "fig07-points-per-image")
summary = {split: describe_counts(c) for split, c in counts.items()}
pd.DataFrame(summary).T

# %%
write_json(paths.results_dir() / "conversion" / "metrics.json", {
    "dataset": dataset,
    "example_image": {"split": "test", "index": example, "digit": int(test_labels[example]),
                      "points": len(points)},
    "points_per_image": summary,
})
