"""The paper profile's cost estimate (pixelsoap.pipeline.paper_cost) on known inputs."""

import pandas as pd
import pytest

from pixelsoap.pipeline import paper_cost


def test_layer_cost_counts_the_multiply_adds_of_each_dense_layer():
    assert paper_cost.layer_cost(308, [256, 256]) == 308 * 256 + 256 * 256 + 256 * 10
    assert paper_cost.layer_cost(9, []) == 90


def test_search_cost_scales_one_epoch_to_the_papers_trials_rows_and_epochs():
    run = {"experiment1": {"search": {"n_samples": 1000}}}
    paper = {"experiment1": {"search": {"n_samples": 120000, "val_fraction": 0.2, "n_trials": 168,
                                        "classifier": {"epochs": 300, "hidden_units": [256, 256]}}}}
    trials = pd.DataFrame({"state": ["COMPLETE", "COMPLETE", "FAIL"], "n_features": [308, 308, 9],
                           "spectra_seconds": [2.0, 4.0, 100.0]})
    out = paper_cost.search_cost(trials, run, paper, epoch_core_seconds=10.0, rows_per_epoch=96000)
    # a 308-feature trial costs one measured epoch per epoch on 96,000 rows; SOAP scales with spectra
    expected = 168 * (10.0 * 300 + 3.0 * 120)
    assert out["core_seconds"] == pytest.approx(expected)
    assert paper_cost.search_cost(trials, run, paper, None, 96000) is None


def test_night_grid_divides_a_night_by_the_mean_cost_per_h_e():
    night = paper_cost.night_grid({"linear": 308 * 4.0, "total": 1.0}, cores=2, hours=10)
    assert night == {"linear": pytest.approx(5.0)}


def test_baselines_work_is_rows_times_epochs_times_seeds():
    def profile(n_train, rows, epochs, seeds):
        return {"spectra": {"n_train": n_train}, "baselines": {"n_train": rows, "n_seeds": seeds},
                "experiment1": {"final": {"classifier": {"epochs": epochs}}}}

    assert paper_cost.baselines_work(profile(120000, 24000, 30, 5)) == 24000 * 30 * 5
    assert paper_cost.baselines_work(profile(120000, None, 300, 5)) == 120000 * 300 * 5   # null: every row
    assert paper_cost.baselines_work(profile(3000, 24000, 3, 2)) == 3000 * 3 * 2           # at most the stage's
