# %% [markdown]
# # 4. Experiment 2: how far can a SOAP spectrum be compressed? (paper Sec. 4.3)
#
# The 308 components of a pixel's SOAP spectrum are strongly correlated (Fig. 17), so fewer numbers
# should carry the same information. On the sampled spectra of Experiment 1 (RobustScaler-rescaled,
# the same training / validation / test rows), we compress each spectrum to $h_e$ numbers with
#
# - **PCA** (scikit-learn, fitted on the training rows), at every $h_e$ from 1 to 308;
# - a **linear autoencoder** (Fig. 15): one linear Dense layer of $h_e$ units, then a linear Dense
#   decoder back to 308;
# - **deep autoencoders** (Fig. 16): $308 \to 308 h_m \to h_e \to 308 h_m \to 308$. The paper names
#   no activations; we use ReLU on the two hidden layers and keep the code and the output linear
#   (rescaled spectra are unbounded and of both signs).
#
# All autoencoders: Adam with learning rate $10^{-4}$, batch 512, loss MSE, seeded. The reconstruction
# MSE on the validation rows (mean over rows and the 308 components, in squared rescaled units) gives
# Fig. 18. Fig. 19 retrains the Experiment 1 classifier on the PCA and deep-autoencoder ($h_m = 2$)
# codes and scores it on the test spectra, also as a fraction of the same classifier trained on all
# 308 components (the baseline, see Fig. 19 below). Every classifier, the baseline's included, is
# trained with `experiment2.classifier.n_seeds` training seeds; accuracies and ratios are means over
# seeds with 95 % intervals, and a ratio is taken seed by seed (the same seed in numerator and denominator).
#
# **Training length.** The paper trains every autoencoder for 10,000 epochs (the `paper` profile
# does too). Smaller profiles cap the epochs and stop early when the validation MSE has not improved
# for `patience` epochs, restoring the best weights. Capped autoencoders are *under-trained*: their
# MSE is an upper bound of what the architecture reaches. This weighs most on the linear
# autoencoder at large $h_e$, which converges slowly towards PCA (its optimum), and on the deep
# autoencoders, whose advantage over PCA grows with training; the comparison of shapes below says
# which differences come from the cap.
#
# Every autoencoder and classifier is an independent job on a Dask cluster (local, or the scheduler
# of the profile's `experiment1.dask`; `experiment2.n_workers` workers when set); finished jobs are
# cached in `data/cache/experiment2/`, so a rerun trains only what changed.

# %% tags=["parameters"]
# Opened by hand, the notebook runs on the active profile (params.yaml, else params/default.yaml);
# `make reproduce` injects the same sections, from params.yaml, after this cell.
from pixelsoap.runtime.profiles import active_params

_profile = active_params(["experiment1", "experiment2"])
seed = _profile["seed"]
experiment1 = _profile["experiment1"]
experiment2 = _profile["experiment2"]
# Opened by hand it writes figures and results under scratch/ (gitignored); `make reproduce`
# injects outputs = "pipeline": set that here to write the pipeline's own files.
outputs = "scratch"

# %%
import json
import time

import numpy as np
import pandas as pd

from pixelsoap.experiments.experiment2.claims import accuracy_findings, check_claims, compressibility, mse_findings
from pixelsoap.experiments.experiment2.classifiers import accuracy_summary, accuracy_table
from pixelsoap.experiments.experiment2.compression import (
    CompressionData,
    correlation_matrix,
    dask_settings,
    parse_section,
)
from pixelsoap.experiments.experiment2.costs import cost_summary, measure_epoch_costs, paper_grid_estimate
from pixelsoap.experiments.experiment2.jobs import plan_jobs, run_jobs
from pixelsoap.experiments.experiment2.pca import fit_pca, mse_table, pca_table, wide_mse
from pixelsoap.experiments.spectra import load as load_spectra
from pixelsoap.models.autoencoders import build_autoencoder
from pixelsoap.plots import experiment2 as plots2
from pixelsoap.plots import save_figure
from pixelsoap.plots.models import model_diagram
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import atomic_path, write_json

paths.use_outputs(outputs)  # scratch/ by hand, the project's figures/ and results/ in the pipeline

started = time.perf_counter()
settings = parse_section(experiment2, seed)
out = paths.results_dir() / "experiment2"
spectra = load_spectra()
data = CompressionData.from_dataset(spectra, settings["n_train"], seed)
d = data.n_features
print(f"{len(data.X_train):,} training, {len(data.X_val):,} validation, {len(data.X_test):,} test rows, d = {d}")
print(settings["training"], settings["classifier"], sep="\n")

# %% [markdown]
# ## Fig. 15 and 16: the autoencoders
# Drawn at $h_e = 50$ (and $h_m = 2$ for the deep one); every $h_e$ and $h_m$ has the same layout.

# %%
linear_model, _ = build_autoencoder(d, 50)
save_figure(model_diagram(linear_model, "Fig. 15: linear autoencoder (h_e = 50)"), "fig15-linear-autoencoder")
deep_model, _ = build_autoencoder(d, 50, h_m=2)
save_figure(model_diagram(deep_model, "Fig. 16: deep autoencoder (h_m = 2, h_e = 50)"), "fig16-deep-autoencoder")
deep_model.summary()

# %% [markdown]
# ## Fig. 17: correlations between the 308 components
# Over all sampled training-image spectra (training and validation rows; the paper's 120,000 in the
# default and paper profiles). Correlations do not change under the per-component RobustScaler.

# %%
corr = correlation_matrix(spectra.train_all.X)
save_figure(plots2.fig17_correlation(corr), "fig17-correlation")
pairs = np.abs(corr[~np.eye(d, dtype=bool)])
print(f"|r| over the {pairs.size:,} pairs: mean {np.nanmean(pairs):.3f}, "
      f"share above 0.9 {np.nanmean(pairs > 0.9):.3f}, "
      f"constant components {int(np.isnan(np.diag(corr)).sum())}")

# %% [markdown]
# ## PCA, then every autoencoder and classifier on the cluster

# %%
t0 = time.perf_counter()
pca = fit_pca(data.X_train)
pca_rows = pca_table(pca, data, time.perf_counter() - t0)
ae_jobs, acc_jobs = plan_jobs(settings["linear"], settings["deep"], settings["accuracy"],
                              settings["accuracy_h_m"], d=d, n_seeds=settings["classifier_seeds"])
t0 = time.perf_counter()
ae_results, acc_results = run_jobs(data, ae_jobs, acc_jobs, settings["training"], settings["classifier"], pca,
                                   **dask_settings({"experiment1": experiment1, "experiment2": experiment2}))
jobs_seconds = time.perf_counter() - t0
n_trained = sum(not r["cached"] for r in ae_results + acc_results)
print(f"{len(ae_jobs)} autoencoders and {len(acc_jobs)} classifiers: {n_trained} trained, "
      f"{len(ae_jobs) + len(acc_jobs) - n_trained} from the cache, {jobs_seconds:.0f} s")

# %% [markdown]
# ## Reconstruction MSE (Fig. 18)
# `results/experiment2/mse.csv` holds one row per method, $h_m$ and $h_e$ (PCA at every $h_e$):
# validation and training MSE, epochs trained, the best epoch, wall-clock seconds of the job on one
# worker, parameters. The table below shows the autoencoders' grid.

# %%
mse = mse_table(pca_rows, ae_results)
with atomic_path(out / "mse.csv") as tmp:
    mse.to_csv(tmp, index=False)
wide_mse(mse)

# %%
for name, h_e_max, log in (("fig18a-mse-linear", d, False), ("fig18b-mse-log", d, True),
                           ("fig18c-mse-log-0-100", 100, True), ("fig18d-mse-log-0-200", 200, True)):
    save_figure(plots2.fig18_mse(mse, h_e_max, log), name)

# %% [markdown]
# ## Accuracy on compressed features (Fig. 19)
# The classifier (the `classifier` settings of the profile's `experiment2` section: Experiment 1's
# architecture) is trained on the codes of the training rows, stopped on the validation rows and
# scored on the test spectra, once per training seed (`accuracy.csv`: one row per classifier and seed).
#
# **The baseline.** The paper divides by the classifier "without compression". Trained on the raw 308
# rescaled components, that classifier scored below PCA's codes at $h_e = 200$ (0.61 against 0.65 at
# the default profile's 6 epochs, same rows, epochs, patience and scaler). The cause is not
# information: all 308 principal coordinates, a lossless rotation of the same rows, give 0.65 too,
# while centring or standardising the raw components changes little (0.60, 0.62). Under a few epochs
# the classifier learns faster from decorrelated coordinates. So the baseline of the ratios is the
# classifier trained exactly like the PCA ones, on all $d$ principal coordinates (uncompressed, in the
# codes' coordinates); the raw-feature classifier is still trained and shown (dash-dotted line,
# `accuracy_findings.raw_accuracy` in the metrics). Points are means over seeds with 95 % intervals.

# %%
accuracy = accuracy_table(acc_results)
with atomic_path(out / "accuracy.csv") as tmp:
    accuracy.to_csv(tmp, index=False)
save_figure(plots2.fig19_accuracy(accuracy, d), "fig19a-accuracy")
save_figure(plots2.fig19_accuracy(accuracy, 50), "fig19b-accuracy-0-50")
accuracy_summary(accuracy).drop(columns=["test_accuracy_estimate", "ratio_estimate"])

# %% [markdown]
# ## The paper's findings, checked
# - PCA and the linear autoencoder are "identical" below $h_e = 200$ (we call a relative MSE gap
#   within 5 % identical and report the largest) and PCA is better above.
# - The deep autoencoders beat PCA below about 50 ($h_e$ where they do, per $h_m$).
# - Above $h_e = 50$ every method keeps more than 95 % of the uncompressed accuracy; $h_e = 100$ keeps
#   about 98 %. Judged on the 95 % intervals over training seeds of every method's ratio at every such
#   $h_e$: the claim holds if every interval lies above the fraction, fails if one lies wholly below,
#   and is inconclusive otherwise (`accuracy_findings.above.smallest_ratio`: the interval of the
#   smallest ratio).
# - The linear autoencoder cannot beat PCA on the training rows, where PCA is the optimal rank-$h_e$
#   linear reconstruction: the minimum relative gap must be $\ge 0$ up to numerical noise.

# %%
mse_f = mse_findings(mse)
acc_f = accuracy_findings(accuracy)
claims = check_claims(mse_f, acc_f)
costs = cost_summary(mse)
epoch_costs = measure_epoch_costs(data, settings["training"])   # measured now, whatever was cached
estimate = paper_grid_estimate(epoch_costs)
metrics = {
    "claims": claims, "mse_findings": mse_f, "accuracy_findings": acc_f,
    "compressibility": compressibility(corr, pca.explained_variance),   # Fig. 17
    "settings": {"n_train": len(data.X_train), "n_val": len(data.X_val), "n_test": len(data.X_test), "d": d,
                 "training": settings["training"].as_dict(), "classifier": settings["classifier"].as_dict(),
                 "linear_h_e": settings["linear"], "deep_h_e": {str(k): v for k, v in settings["deep"].items()},
                 "accuracy_h_e": settings["accuracy"], "accuracy_h_m": settings["accuracy_h_m"],
                 "classifier_seeds": settings["classifier_seeds"]},
    "timing": {"section_seconds": time.perf_counter() - started, "jobs_seconds": jobs_seconds,
               "jobs_trained": n_trained, "per_model": json.loads(costs.to_json(orient="records")),
               "epoch_costs": json.loads(epoch_costs.to_json(orient="records")),
               "paper_grid_core_hours": estimate},
}
write_json(out / "metrics.json", metrics)
pd.DataFrame({name: {"holds": c["holds"]} for name, c in claims.items()}).T

# %% [markdown]
# **Reading the checks under an epoch cap.** The paper gives each autoencoder about 1.9 million Adam
# steps (10,000 epochs of 188 batches); the default profile gives it a few thousand. Then:
#
# - the linear autoencoder is still far above PCA, by a gap that grows with $h_e$ (it approaches its
#   optimum, PCA, slowest along the low-variance directions). "Identical below 200" therefore fails
#   for lack of training, not of capacity; "PCA better above 200" and "never below PCA" hold, and
#   say little at this budget;
# - the deep autoencoders beat PCA at small $h_e$ after a few epochs already; where they stop beating
#   it (the `first_h_e_not_better` of each $h_m$) moves to larger $h_e$ as training goes on;
# - classifiers on PCA codes are not affected (PCA needs no training), while under-trained deep codes
#   lose accuracy at large $h_e$, where their MSE is far above PCA's.
#
# Only the `paper` profile tests the published claims as stated; the smaller profiles check the
# shapes and the direction of each gap.

# %% [markdown]
# ## The long run: the linear autoencoder against epochs (Fig. 18e, not in the paper)
# Whether "identical below 200, PCA better above" is what the paper's protocol produces is a question of
# training length: the linear autoencoder's optimum reconstructs through PCA's subspace, so the gap
# closes as it trains. A separate, resumable command trains the linear autoencoder for the paper's
# 10,000 epochs (Adam $10^{-4}$, batch 512, no early stopping) at a few $h_e$ on both sides of 200, on
# this notebook's data (same rows, scaling and seed; its epoch 10 repeats the table above), and records
# the validation MSE after every epoch beside PCA's:
#
# ```sh
# python -m pixelsoap.experiments.experiment2.dynamics --h-e 16 100 250 --epochs 10000
# ```
#
# It writes `long-runs/autoencoder-dynamics/dynamics.csv` (one row per $h_e$ and epoch) and `dynamics.json` (epochs
# reached, the gap at the last epoch and its trend, the verdict of both claims on what was reached, the
# machine and the command that resumes it). This notebook only reads them: the pipeline does not run
# the command (hours of CPU). Left: MSE against epochs, log-log, with PCA's MSE at the same $h_e$
# dashed; right: the relative gap (linear - PCA) / PCA with the 5 % we call identical.

# %%
from IPython.display import display

long_run = paths.project_root() / paths.DYNAMICS_SUMMARY.parent  # committed input, not a stage's output
dynamics_csv = long_run / "dynamics.csv"
if dynamics_csv.exists():
    dynamics = pd.read_csv(dynamics_csv)
    dynamics_summary = json.loads((long_run / "dynamics.json").read_text())
    save_figure(plots2.fig18e_linear_dynamics(dynamics, dynamics_summary["tolerance"],
                                              dynamics_summary["target_epochs"]), "fig18e-linear-dynamics")
    for name in ("pca_equals_linear_ae_below_200", "pca_better_above_200"):
        print(f"{name}: {dynamics_summary['claims'][name]['verdict']}")
    print(f"run: {dynamics_summary['command']} ({dynamics_summary['machine']['cores']} cores, "
          f"updated {dynamics_summary['updated']})")
    display(pd.DataFrame(dynamics_summary["per_h_e"]).T[
        ["epochs", "val_mse", "pca_val_mse", "gap", "excess_mse", "val_mse_change_last_tenth",
         "first_epoch_within_tolerance", "gap_at_target", "gap_at_target_is", "seconds_per_epoch"]])
else:
    shown = paths.DYNAMICS_SUMMARY.parent
    raise FileNotFoundError(f"{dynamics_csv.relative_to(paths.project_root())} is missing: it is a committed input "
                            f"(the long run, hours of CPU); restore it with `git checkout -- {shown}`, or run "
                            "`python -m pixelsoap.experiments.experiment2.dynamics` to make it again")

# %% [markdown]
# **Reading the long run.** PCA's MSE falls steeply with $h_e$ (the spectra have few effective
# dimensions), while the autoencoder, trained by Adam in float32 with a fixed step size, settles at a
# floor set by its optimiser's noise. Below 200, PCA's MSE is well above that floor and the relative
# gap can close to within the tolerance; at $h_e \ge 200$, PCA's MSE is orders of magnitude below where
# the autoencoder has got to, so the *relative* gap stays large even where the *absolute* excess
# (`excess_mse`) is as small as at lower $h_e$. The
# paper's two claims describe this, on the log scale of its Fig. 18; the verdicts above say how far the
# run has confirmed them.

# %% [markdown]
# ## Cost
# What this run's jobs took: wall-clock seconds per model on one worker (the two workers sharing
# the machine; a model's share of its group's time), per epoch including validation. A model read
# from the cache keeps the seconds of the run that trained it, so these depend on the run's history.
# The estimate for the paper's grid does not: it rests on `epoch_costs`, one epoch of each kind of
# autoencoder ($h_e = 154$, the grid's mean cost) timed in this notebook from fresh weights, scaled
# to every $h_e$ from 1 to 308 for the linear and the three deep autoencoders, 10,000 epochs each, on
# 96,000 training rows (`timing.paper_grid_core_hours` in `results/experiment2/metrics.json`).

# %%
print({k: round(v) for k, v in estimate.items()})
epoch_costs

# %%
costs
