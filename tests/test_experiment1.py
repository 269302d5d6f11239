"""Experiment 1's checks of the paper's search findings (pixelsoap.experiment1)."""

import math

import numpy as np
import pandas as pd
import pytest

from pixelsoap import experiment1 as exp1


def _trials(n=80, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"r_cut": rng.uniform(2, 100, n), "n_max": rng.integers(2, 12, n),
                         "l_max": rng.integers(2, 12, n), "sigma": rng.uniform(1, 10, n)})


def test_bootstrap_finds_the_one_parameter_that_drives_accuracy():
    trials = _trials()
    trials["val_accuracy"] = 0.2 + 0.005 * trials["r_cut"]  # a function of r_cut alone
    boot = exp1.bootstrap_findings(trials, n_boot=300)
    assert boot["most_influential_share"]["r_cut"] == 1.0
    assert sum(boot["most_influential_share"].values()) == pytest.approx(1.0)


def test_bootstrap_interval_of_a_constant_difference_is_that_difference():
    trials = _trials()
    inside = trials["sigma"].between(2, 5)
    trials["val_accuracy"] = np.where(inside, 0.6, 0.5)
    boot = exp1.bootstrap_findings(trials, n_boot=300)
    band = boot["difference"]["sigma_2_to_5"]
    assert band["low"] == pytest.approx(0.1) and band["high"] == pytest.approx(0.1)
    assert band["share_positive"] == 1.0


def test_bootstrap_interval_covers_zero_when_accuracy_is_noise():
    trials = _trials(n=150, seed=3)
    trials["val_accuracy"] = np.random.default_rng(4).normal(0.5, 0.05, len(trials))
    for band in exp1.bootstrap_findings(trials, n_boot=500)["difference"].values():
        assert band["low"] < 0 < band["high"]


def test_bootstrap_is_repeatable_with_its_seed():
    trials = _trials()
    trials["val_accuracy"] = np.random.default_rng(1).uniform(0.3, 0.6, len(trials))
    assert exp1.bootstrap_findings(trials, n_boot=100, seed=5) == exp1.bootstrap_findings(trials, n_boot=100, seed=5)


def test_accuracy_distance_is_two_standard_errors_of_a_difference():
    close = exp1.accuracy_distance(0.684, 0.686, 10_000)
    assert close["tolerance"] == pytest.approx(2 * math.sqrt(2 * 0.685 * 0.315 / 10_000))
    assert close["difference"] == pytest.approx(-0.002) and close["within"]
    assert not exp1.accuracy_distance(0.70, 0.68, 10_000)["within"]
    assert exp1.accuracy_distance(0.70, 0.68, 100)["within"]  # the same gap on 100 spectra decides nothing
    with pytest.raises(ValueError, match="got 0"):
        exp1.accuracy_distance(0.7, 0.7, 0)
