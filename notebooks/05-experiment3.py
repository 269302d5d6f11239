# %% [markdown]
# # 5. Experiment 3: how robust are SOAP predictions to positional noise? (paper Sec. 4.4)
#
# Each pixel's point $(x, y, z)$ is moved by Gaussian noise $\mathcal{N}(0, \sigma_{disturbance}^2)$
# on all three axes (Algorithm 1; x and y in pixels, z in tens of grey levels). For every noise level
# we convert the 10,000 MNIST test images with that noise, take random spectra (Algorithm 3: a random
# image, then a random point of it) at the Experiment 1 SOAP parameters ($r_{cut} = 63$,
# $n_{max} = 7$, $l_{max} = 10$, $\sigma_p = 3$), rescale them with the RobustScaler of the clean
# training spectra and classify them with the Experiment 1 model trained on clean data
# (`data/experiment1/classifier-profile-params.keras`). The paper's grid is 20 logarithmic steps
# from 0.1 to 5.0; we add $\sigma = 0$, the noise-free baseline.
#
# **Seeds.** The paper shows one run of one model. Two kinds of repetition here:
#
# - *training seeds*: Experiment 1 trains its classifier with `experiment1.final.n_seeds` seeds
#   (`data/experiment1/classifier-profile-params*.keras`), and every job scores the same noisy spectra
#   with each of them (SOAP is the cost; a prediction is cheap);
# - *noise draws* (`experiment3.n_seeds`): draw $s$ takes its own pixels (the same at every level, so
#   one draw's curve compares the same pixels) and its own noise. Draw 0 takes exactly the test pixels
#   of the `spectra` stage, so at full size the first model's baseline is Table 1's test set.
#
# The noise draws are averaged within each training seed; the numbers the paper quotes and the error
# bars of Fig. 20 are means over training seeds with their 95 % interval (over the noise draws when
# there is one model).
#
# **Reading the paper's numbers.** "At 1.0, 92 % of the baseline" is a ratio and is read on the
# right axis. "Drops to chance levels (approximately 51 %) at 3.9" cannot be literal: chance for ten
# digits is about 10 %. It is either an absolute accuracy of 0.51 or 51 % of the baseline; we
# compute both and say below which our curve supports. Neither grid point is on the logarithmic grid
# (it has 0.96 and 1.18, 3.31 and 4.07), so values at 1.0 and 3.9 are interpolated linearly in
# $\ln\sigma$. "Declines sharply beyond 0.5" is compared with the interval where our accuracy falls
# fastest per unit $\ln\sigma$.
#
# Every (level, seed) pair is an independent job on a Dask cluster (local, or the scheduler of the
# profile's `experiment1.dask`); finished jobs are cached in `data/cache/experiment3/`, so a rerun
# computes only what changed.
#
# **Which model, which scaler, which rows?** The paper does not say, and its wording ("validation
# accuracy", Fig. 20 "Validation Accuracy with noise") fits more than one protocol. The last section
# recomputes the curve under each plausible reading and names the one closest to the published numbers.

# %% tags=["parameters"]
# Opened by hand, the notebook runs on the active profile (params.yaml, else params/default.yaml);
# `make reproduce` injects the same sections, from params.yaml, after this cell.
from pixelsoap.runtime.profiles import active_params

_profile = active_params(["soap", "experiment1", "experiment3"])
seed = _profile["seed"]
dataset = _profile["dataset"]
soap = _profile["soap"]
experiment1 = _profile["experiment1"]
experiment3 = _profile["experiment3"]
# Opened by hand it writes figures and results under scratch/ (gitignored); `make reproduce`
# injects outputs = "pipeline": set that here to write the pipeline's own files.
outputs = "scratch"

# %%
import time

import pixelsoap as ps
from pixelsoap import published
from pixelsoap.experiments.experiment1 import classifier as exp1
from pixelsoap.experiments.experiment3 import readings as rr
from pixelsoap.experiments.experiment3 import robustness as rb
from pixelsoap.plots import experiment3 as plots3
from pixelsoap.plots import save_figure
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import atomic_path, json_ready, write_json

paths.use_outputs(outputs)  # scratch/ by hand, the project's figures/ and results/ in the pipeline

started = time.perf_counter()
settings = rb.parse_section(experiment3)
params = ps.SoapParams.from_mapping(soap)
dask_cfg = experiment1.get("dask", {})
pub = {k: published.value(f"experiment3.{k}") for k in ("ratio_at_1", "value_at_3_9", "steep_beyond")}
out = paths.results_dir() / "experiment3"
model_files = exp1.model_files(int(experiment1.get("final", {}).get("n_seeds", 1)))
print(f"{len(settings['levels'])} levels x {settings['n_seeds']} noise draw(s),",
      f"{settings['n_samples']:,} spectra each; SOAP {params.as_dict()};",
      f"{len(model_files)} model(s) {[f.name for f in model_files]}")
print("levels:", settings["levels"].round(4).tolist())

# %% [markdown]
# ## The jobs
# One row per (level, noise draw `seed`, training seed `model`): accuracy over the job's spectra and the
# ratio to the same draw's and model's baseline. Written to `results/experiment3/accuracy.csv`.

# %%
table = rb.run_levels(settings["levels"], settings["n_seeds"], params.as_dict(), settings["n_samples"], seed,
                      model_path=model_files, scheduler=dask_cfg.get("scheduler"),
                      n_workers=int(dask_cfg.get("n_workers", 2)), dataset=dataset)
run_seconds = time.perf_counter() - started
with atomic_path(out / "accuracy.csv") as tmp:
    table[rb.TABLE_COLUMNS].to_csv(tmp, index=False)
print(f"{int((~table['cached']).sum())} job(s) computed, {int(table['cached'].sum())} from the cache, "
      f"{run_seconds:.0f} s; compute time per job {table['seconds'].median():.1f} s (median)")
table

# %% [markdown]
# **Baseline check.** Draw 0 at $\sigma = 0$ sees the `spectra` stage's test pixels; when it takes as
# many spectra as that stage, the first model's accuracy must equal its accuracy on the stage's test set
# (Table 1's first seed).

# %%
check = rb.baseline_check(table)
check

# %% [markdown]
# ## Fig. 20: accuracy against $\sigma_{disturbance}$
# Mean over training seeds with its 95 % interval; the baseline ($\sigma = 0$) is the horizontal line,
# the right axis the ratio to it. The paper's points: 92 % of baseline at 1.0, and its "51 %" at 3.9
# drawn both as an accuracy (filled) and as a ratio (open).

# %%
summary = rb.summarise(table)
found = rb.findings(table, pub)
save_figure(plots3.fig20_noise_robustness(summary, pub, found["steepest_decline"], interval="ci"),
            "fig20-noise-robustness")
summary

# %% [markdown]
# ## The paper's findings, checked
# Each number is read off our mean curve (the value of each training seed and their 95 % interval
# beside it) and shown beside the published one. `reading_of_51` compares the two readings of "51 %":
# our value at 3.9, the level where our curve falls to 0.51, and our value at the *matched* level,
# the point of our curve that corresponds to the paper's 3.9 once the noise scales are matched by
# the 92 % point (3.9 times our level where the ratio falls to 0.92). The reading whose matched
# value is nearer 0.51 is the one our curve supports.
#
# **How we read "51 %".** The cell below prints, from this run's numbers, where our curve is at
# $\sigma = 3.9$ (as an accuracy and as a ratio to the baseline, beside chance, 0.10), at the
# scale-matched level, and where it falls to 0.51 in either reading, and names the reading that our
# curve supports. Read as an absolute accuracy, 0.51 would be about three quarters of the paper's own
# baseline (0.6863): a mild loss, neither "chance" nor the end of a sharp decline, which is why the
# ratio reading is the more plausible one a priori. Nothing in this paragraph is a result of ours;
# the numbers are printed below and in `results/experiment3/metrics.json` (smoke-sized runs are
# coarse).

# %%
metrics = {
    "settings": {"levels": settings["levels"], "n_samples": settings["n_samples"], "n_seeds": settings["n_seeds"],
                 "n_models": len(model_files), "soap": params.as_dict(), "seed": seed, "dataset": dataset,
                 "model": exp1.model_file().name, "models": [f.name for f in model_files]},
    "findings": found,
    "baseline_check": check,
    "per_level": summary.to_dict(orient="records"),
    "jobs": {"computed": int((~table["cached"]).sum()), "cached": int(table["cached"].sum()),
             "median_job_seconds": float(table["seconds"].median())},
}
reading = found["reading_of_51"]
print(f"baseline {found['baseline']['accuracy']:.4f}; ratio at 1.0: ours {found['ratio_at_1']['ours']:.3f}, "
      f"paper {pub['ratio_at_1']}")
print(f"at 3.9: accuracy {found['value_at_3_9']['accuracy']:.3f}, ratio {found['value_at_3_9']['ratio']:.3f} "
      f"(paper: {pub['value_at_3_9']}); steepest decline {found['steepest_decline']['from']:.2f}-"
      f"{found['steepest_decline']['to']:.2f} (paper: beyond {pub['steep_beyond']})")
print(f"at 3.9 our accuracy is {found['value_at_3_9']['accuracy'] / reading['chance_accuracy']:.1f} x chance "
      f"({reading['chance_accuracy']}); the curve reaches 0.51 at sigma {reading['ratio']['level_reaching_value']:.2f} "
      f"as a ratio and {reading['absolute']['level_reaching_value']:.2f} as an accuracy")
print(f"matched level {reading['matched_level']:.2f}: accuracy {reading['absolute']['ours_at_matched_level']:.3f}, "
      f"ratio {reading['ratio']['ours_at_matched_level']:.3f} -> our curve supports the '{reading['supported']}' "
      "reading of 51 %")
found

# %% [markdown]
# ## The protocol reread: which reading of Sec. 4.4 gives the paper's curve?
#
# Sec. 4.4 converts "10,000 MNIST test images ... with noise", classifies them with "our three-layer
# prediction model" and reports "validation accuracy". Everything above is one reading of that. The
# others below are just as plausible, and each gives its own curve:
#
# - **(a) `a_clean`**, what Fig. 20 shows: the Experiment 1 model trained on clean spectra, with the
#   RobustScaler fitted on clean training spectra, scores noisy *test* spectra. Its table is the one
#   above (not recomputed).
# - **(b) `b_retrained`**, "validation accuracy" read literally: at every level the whole pipeline is
#   rerun on noisy data. We sample spectra of the noisy *training* images, split them 0.8 : 0.2 as the
#   paper does, fit a new RobustScaler on the noisy training rows, train a new classifier (Experiment 1's
#   final architecture, on the training engine) and score it on the noisy *validation* rows. Its ratio
#   is to the same seed's model retrained at level 0. A model that has seen the noise during training
#   is expected to lose less than one that has not.
# - **(c) `c_rescaled`**: the clean model, but with Algorithm 3's RobustScaler refitted on the noisy
#   spectra of the level it scores, which is what running the pipeline on the noisy test set would do.
#   Noise shifts the spectra's medians and spreads, so the refit undoes part of the shift the clean
#   model sees in (a).
# - **(d) `d_xy` and `d_z`**: the equation in Sec. 4.4.2 puts noise on x, y *and* z, but the text
#   speaks of "pixel position perturbations". Here the noise goes on x and y only, or on z (the grey
#   level) only, and the clean model and clean scaler are used, as in (a). Each axis gets exactly the
#   noise it gets in (a) and (c).
# - **Control `a_resampled`**: reading (a) again on the readings' grid and smaller samples,
#   from the very spectra of (c) with the clean scaler. If it agrees with (a), the differences between
#   the readings come from the protocol, not from the grid or the sample size.
#
# To keep the stage cheap, the readings use fewer levels, seeds and spectra than (a) (profile key
# `experiment3.readings`). Reading (b) trains few epochs on a few thousand spectra, so its baseline is
# lower than Table 1's. Its *ratios* are what compare with the paper. The readings' grid holds 1.0 and
# 3.9 themselves: on a coarse grid, interpolating in $\ln\sigma$ across the steep part of a curve would
# be off by several points. The control shows how far (a)'s own interpolated values are from the values
# at 1.0 and 3.9. Every job is cached in `data/cache/experiment3-readings/`.
#
# **Which reading matches the paper?** For each reading we take its mean curve, compare it with the
# three published numbers (92 % of the baseline at 1.0, "51 %" at 3.9 read either as an accuracy or as a
# ratio, whichever is nearer, and a sharp decline beyond 0.5) and compute a distance,
# $\sqrt{\text{gap}_{1.0}^2 + \text{gap}_{3.9}^2}$ in fractions (0.05 = five percentage points).
# Readings whose steepest decline lies beyond 0.5 rank first, and among them the smallest distance
# wins. The same distance computed from each seed's own curve (`distance_per_seed` in the metrics) shows
# how firm the ranking is. The cells below print the numbers and the winner. This paragraph states no
# result.

# %%
readings_started = time.perf_counter()
reading_settings = rr.parse_readings(experiment3.get("readings"), experiment1.get("final", {}).get("classifier"))
print(f"readings: {len(reading_settings['levels'])} levels x {reading_settings['n_seeds']} seed(s);",
      f"(c), (d): {reading_settings['n_samples']:,} test spectra per job;",
      f"(b): {reading_settings['n_train']:,} training spectra per model, {reading_settings['epochs']} epochs,",
      f"architecture {reading_settings['classifier']['hidden_units']}")
print("levels:", reading_settings["levels"].round(4).tolist())
readings = rr.run_readings(reading_settings, params.as_dict(), seed, scheduler=dask_cfg.get("scheduler"),
                           n_workers=int(dask_cfg.get("n_workers", 2)), dataset=dataset,
                           stage_table=table[table["model"] == 0].drop(columns="model"))  # the readings use one model
readings_seconds = time.perf_counter() - readings_started
with atomic_path(out / "readings.csv") as tmp:
    readings[rr.TABLE_COLUMNS].to_csv(tmp, index=False)
reading_metrics = rr.readings_metrics(readings, reading_settings, pub, seconds=readings_seconds)
print(f"{reading_metrics['jobs']['computed']} job(s) computed, {reading_metrics['jobs']['cached']} from the cache, "
      f"{readings_seconds:.0f} s; compute time per job (median): {reading_metrics['jobs']['median_job_seconds']}")
rr.summary_frame(reading_metrics)

# %% [markdown]
# ### All readings in one figure
# Left: accuracy. Right: the ratio to each reading's own baseline ($\sigma = 0$), the axis on which the
# paper's "92 % of the baseline" is read. Mean over seeds with one standard deviation. The reading that
# matches the paper best is drawn thicker.

# %%
best = reading_metrics["best_match"]
save_figure(plots3.fig20_readings(rr.curves(readings), pub, {**rr.READINGS, **rr.CONTROLS}, best["name"]),
            "fig20-readings")
print(f"best match: {best['name']} ({best['description']}), distance {best['distance']:.3f}: ratio at 1.0 "
      f"{best['ratio_at_1']:.3f} (paper {pub['ratio_at_1']}), value at 3.9 {best['value_at_3_9']:.3f} read as "
      f"{best['reading_of_51']} (paper {pub['value_at_3_9']}), steepest decline at {best['steepest_at']:.2f} "
      f"(paper: beyond {pub['steep_beyond']}); next: {best['runner_up']} at distance {best['runner_up_distance']:.3f}")
{name: score["distance_per_seed"] for name, score in best["per_reading"].items()}

# %%
metrics["readings"] = reading_metrics
metrics["seconds"] = round(time.perf_counter() - started, 1)
write_json(out / "metrics.json", json_ready(metrics))
print(f"results/experiment3/metrics.json written; the notebook took {metrics['seconds']:.0f} s, "
      f"the readings {reading_metrics['seconds']:.0f} s of it")
