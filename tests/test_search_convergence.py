"""The ranking-stability study of the search: agreement measures, the settled budget, caching."""

import json

import numpy as np
import pytest

from pixelsoap.experiments.search import convergence as sc


def test_budgets_parse_and_bad_ones_are_named():
    assert sc.parse_budget("5000x10") == (5000, 10) and sc.parse_budget(" 200 X 3 ") == (200, 3)
    for bad in ("5000", "5000x0", "50x10", "ax10"):
        with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(")):
            sc.parse_budget(bad)


def test_agreement_of_identical_reversed_and_shuffled_rankings():
    a = np.linspace(0.3, 0.7, 10)
    same = sc.ranking_agreement(a, a + 0.05)                  # a shift keeps the order
    assert same["spearman_rho"] == pytest.approx(1) and same["kendall_tau"] == pytest.approx(1)
    assert same["top_overlap"] == 1 and same["same_best"] and same["top_k"] == 2
    flipped = sc.ranking_agreement(a, a[::-1])
    assert flipped["spearman_rho"] == pytest.approx(-1) and flipped["top_overlap"] == 0 and not flipped["same_best"]
    # one swap of neighbours out of 10: rho = 1 - 6 * 2 / (10 * 99)
    swapped = a.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    assert sc.ranking_agreement(a, swapped)["spearman_rho"] == pytest.approx(1 - 12 / 990)


def test_agreement_skips_unscored_sets_and_refuses_too_few():
    a, b = [0.1, np.nan, 0.3, 0.4, 0.5], [0.2, 0.9, 0.1, 0.5, 0.6]
    assert sc.ranking_agreement(a, b)["n"] == 4
    with pytest.raises(ValueError, match="at least 3"):
        sc.ranking_agreement([0.1, np.nan], [0.2, 0.3])
    with pytest.raises(ValueError, match="different lengths"):
        sc.ranking_agreement([0.1, 0.2, 0.3], [0.1, 0.2])


def test_settled_budget_is_the_first_from_which_every_doubling_agrees():
    steps = [{"from": [1, 1], "spearman_rho": 0.5}, {"from": [2, 2], "spearman_rho": 0.95},
             {"from": [4, 4], "spearman_rho": 0.92}]
    assert sc.settled_budget(steps) == {"n_samples": 2, "epochs": 2}
    steps[2]["spearman_rho"] = 0.8                           # a later doubling moves the ranking again
    assert sc.settled_budget(steps) is None


def _fake_evaluate(calls):
    """Accuracy grows with the budget and with r_cut; sigma > 8 adds noise that shrinks with the budget."""
    def evaluate(draws, data, classifier, seed):
        calls.append(len(draws))
        out = []
        for d in draws:
            if d["n_max"] == 2 and d["l_max"] == 2:
                out.append(ValueError("refused"))
                continue
            budget = data["n_samples"] * classifier["epochs"]
            wobble = 0.2 / budget ** 0.5 * np.sin(d["sigma"] * 7 + d["n_max"])
            out.append({"val_accuracy": 0.3 + d["r_cut"] / 1000 + wobble, "seconds": 0.1})
        return out
    return evaluate


def test_study_compares_each_budget_with_twice_it_and_resumes_from_its_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(sc.paths, "cache_dir", lambda: tmp_path / "cache")
    params = {"seed": 0, "experiment1": {"search": {
        "n_samples": 200, "val_fraction": 0.2, "classifier": {"hidden_units": [8], "epochs": 2, "patience": None},
        "space": {"r_cut": [2, 100], "n_max": [2, 11], "l_max": [2, 11], "sigma": [1, 10], "integer": True}}}}
    calls = []
    record = sc.run_study(params, 8, [(100, 1), (200, 2), (400, 4)], evaluate=_fake_evaluate(calls), progress=False)
    assert calls == [8, 8, 8]
    assert [s["from"] for s in record["steps"]] == [[100, 1], [200, 2]]
    assert record["profile_step"]["from"] == [200, 2]
    rhos = [s["spearman_rho"] for s in record["steps"]]
    assert all(-1 <= r <= 1 for r in rhos)
    assert len(record["budgets"][0]["val_accuracy"]) == 8
    json.dumps(record)                                        # the record is plain JSON
    again = sc.run_study(params, 8, [(100, 1), (200, 2), (400, 4)], evaluate=_fake_evaluate(calls), progress=False)
    assert calls == [8, 8, 8] and again["steps"] == record["steps"]       # all from the cache
    with pytest.raises(ValueError, match="no smaller than the one before"):
        sc.run_study(params, 8, [(200, 2), (100, 1)], evaluate=_fake_evaluate(calls), progress=False)


def test_the_figure_has_one_panel_per_step(tmp_path, monkeypatch):
    from pixelsoap.plots.experiment1 import fig10c_ranking_stability

    record = {"n_trials": 4, "profile_budget": {"n_samples": 2, "epochs": 2},
              "budgets": [{"n_samples": n, "epochs": n, "val_accuracy": list(np.linspace(0.1, 0.4, 4) * n)}
                          for n in (1, 2, 4)],
              "steps": [{"from": [1, 1], "to": [2, 2], "spearman_rho": 1.0, "top_k": 1, "top_overlap": 1.0},
                        {"from": [2, 2], "to": [4, 4], "spearman_rho": 1.0, "top_k": 1, "top_overlap": 1.0}]}
    fig = fig10c_ranking_stability(record)
    assert len([ax for ax in fig.axes if ax.collections]) == 2
