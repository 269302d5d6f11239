"""Table 1 / Fig. 9 metrics: our confusion-matrix formulas against scikit-learn."""

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from pixelsoap.models.metrics import (
    classification_report,
    compare_intervals,
    confusion_matrix,
    most_confused_pairs,
    normalise_rows,
    per_class_scores,
)

DIGITS = list(range(10))


def sklearn_scores(y_true, y_pred, labels=DIGITS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(labels=labels, average="weighted", zero_division=0)
        return {"accuracy": skm.accuracy_score(y_true, y_pred), "recall": skm.recall_score(y_true, y_pred, **kw),
                "precision": skm.precision_score(y_true, y_pred, **kw), "f1": skm.f1_score(y_true, y_pred, **kw)}


def noisy_labels(seed, n=2000, p_right=0.7):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    wrong = rng.random(n) > p_right
    pred = np.where(wrong, rng.integers(0, 10, n), y)
    return y.astype(np.uint8), pred.astype(np.uint8)


def edge_cases():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 10, 300)
    never_predicted = np.where(rng.random(300) < 0.6, y, rng.integers(0, 10, 300))
    never_predicted[never_predicted == 6] = 9  # the model never says 6
    absent_true = y.copy()
    absent_true[absent_true == 3] = 4  # digit 3 never occurs but is predicted
    return {
        "never predicted": (y, never_predicted),
        "absent from truth": (absent_true, y),
        "all right": (y, y),
        "all wrong": (y, (y + 1) % 10),
        "one class predicted": (y, np.full_like(y, 2)),
        "one class only": (np.full(50, 5), np.r_[np.full(25, 5), np.full(25, 1)]),
        "single row": (np.array([4]), np.array([4])),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_scores_match_sklearn_on_random_labels(seed):
    y, pred = noisy_labels(seed)
    ours = classification_report(y, pred)
    ref = sklearn_scores(y, pred)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    assert ours["recall"] == pytest.approx(ours["accuracy"], abs=1e-12)  # Table 1: recall == accuracy
    assert ours["n"] == len(y)


@pytest.mark.parametrize("case", list(edge_cases()))
def test_weighted_scores_match_sklearn_on_edge_cases(case):
    y, pred = edge_cases()[case]
    ours = classification_report(y, pred)
    ref = sklearn_scores(y, pred)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), (case, key)


@pytest.mark.parametrize("case", ["never predicted", "absent from truth", "one class only"])
def test_per_class_scores_match_sklearn(case):
    y, pred = edge_cases()[case]
    ours = per_class_scores(confusion_matrix(y, pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=DIGITS, zero_division=0)
    np.testing.assert_allclose(ours["precision"], p, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], r, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], f, atol=1e-12)
    np.testing.assert_array_equal(ours["support"], s)


def test_never_predicted_class_has_zero_precision():
    y, pred = edge_cases()["never predicted"]
    report = classification_report(y, pred)
    assert report["per_class"]["precision"][6] == 0.0 and report["per_class"]["f1"][6] == 0.0
    assert report["per_class"]["support"][6] == int((y == 6).sum()) > 0


def test_confusion_matrix_matches_sklearn_and_normalises_rows():
    y, pred = noisy_labels(3, n=500)
    c = confusion_matrix(y, pred)
    np.testing.assert_array_equal(c, skm.confusion_matrix(y, pred, labels=DIGITS))
    report = classification_report(y, pred)
    assert np.array_equal(report["confusion"], c.tolist())
    cn = np.asarray(report["confusion_normalised"])
    np.testing.assert_allclose(cn.sum(axis=1), 1.0)
    np.testing.assert_allclose(cn, skm.confusion_matrix(y, pred, labels=DIGITS, normalize="true"))


def test_confusion_matrix_with_other_labels_and_absent_rows():
    c = confusion_matrix([7, 3, 3, 9], [3, 3, 7, 9], labels=[7, 3])  # label order kept; 9 ignored
    np.testing.assert_array_equal(c, [[0, 1], [1, 1]])
    np.testing.assert_array_equal(normalise_rows([[0, 0], [1, 3]]), [[0, 0], [0.25, 0.75]])
    with pytest.raises(ValueError, match="rows"):
        confusion_matrix([1, 2], [1])


def test_report_is_json_friendly():
    import json

    report = classification_report(*noisy_labels(4, n=100))
    assert json.loads(json.dumps(report)) == report
    assert set(report["per_class"]) == {"recall", "precision", "f1", "support"}


def test_most_confused_pairs_finds_six_and_nine():
    c = np.eye(10) * 0.8
    c[6, 9], c[9, 6] = 0.15, 0.12  # 0.27 together
    c[4, 9] = 0.2  # 0.2, one direction only
    c[1, 7], c[7, 1] = 0.05, 0.05
    pairs = most_confused_pairs(normalise_rows(c + 0.0), k=3)
    assert [(a, b) for a, b, _ in pairs] == [(6, 9), (4, 9), (1, 7)]
    assert pairs[0][2] == pytest.approx(0.15 / 0.95 + 0.12 / 0.92)
    assert most_confused_pairs(c, k=0) == []
    assert len(most_confused_pairs(c, k=100)) == 45  # all unordered pairs
    with pytest.raises(ValueError, match="square"):
        most_confused_pairs(np.zeros((3, 4)))


def test_confusion_matrix_figure():
    from matplotlib.figure import Figure

    import pixelsoap.plots  # noqa: F401  (Agg backend)
    from pixelsoap.plots.models import confusion_matrix_figure

    cn = classification_report(*noisy_labels(5, n=400))["confusion_normalised"]
    fig = confusion_matrix_figure(cn, "Fig. 9")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted digit", "true digit", "Fig. 9")
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in DIGITS]
    assert len(ax.texts) == 100  # one annotation per cell
    assert len(confusion_matrix_figure(cn, annotate=False).axes[0].texts) == 0


def test_estimate_is_the_student_t_interval_of_the_mean():
    from scipy import stats

    from pixelsoap.models.metrics import estimate, is_estimate

    values = [0.68, 0.69, 0.675, 0.685, 0.70]
    e = estimate(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert is_estimate(e) and e["n"] == 5 and e["values"] == values
    assert e["low"] == pytest.approx(low, abs=1e-12) and e["high"] == pytest.approx(high, abs=1e-12)
    one = estimate([0.5])
    assert one["low"] == one["high"] == one["mean"] == 0.5 and one["sd"] == 0.0
    with pytest.raises(ValueError, match="at least one value"):
        estimate([])
    with pytest.raises(ValueError, match="finite"):
        estimate([0.5, float("nan")])


@pytest.mark.parametrize(("a", "op", "b", "expected"), [
    ({"mean": 0.5, "low": 0.4, "high": 0.6}, ">", 0.3, True),      # the whole interval above
    ({"mean": 0.5, "low": 0.4, "high": 0.6}, ">", 0.7, False),     # the whole interval below
    ({"mean": 0.5, "low": 0.4, "high": 0.6}, ">", 0.5, None),      # straddles: undecided
    ({"mean": 0.5, "low": 0.4, "high": 0.6}, ">=", 0.4, True),     # an end on the rule counts for >=
    ({"mean": 0.5, "low": 0.4, "high": 0.6}, ">", 0.4, None),      # ... not for >
    (0.2, "<", {"low": 0.3, "high": 0.9}, True),                   # a bootstrap interval on the right
    ({"low": 0.1, "high": 0.3}, "<", {"low": 0.2, "high": 0.9}, None),
    (1.0, "<=", 2.0, True),
])
def test_compare_intervals_decides_only_when_the_whole_interval_is_on_one_side(a, op, b, expected):
    assert compare_intervals(a, op, b) is expected


def test_compare_intervals_refuses_an_unordered_comparison():
    with pytest.raises(ValueError, match="'=='"):
        compare_intervals(1.0, "==", 1.0)
