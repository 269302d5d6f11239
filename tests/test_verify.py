"""pixelsoap.pipeline.verify: the committed report against one regenerated from scratch, row by row."""

import copy

import pytest

from pixelsoap.models.metrics import estimate
from pixelsoap.pipeline.verify import NO_INTERVAL, compare_rows, summary
from pixelsoap.report import RowResult, Shown


def row(row_id: str, status: str = "reproduced", **shown) -> RowResult:
    """A made-up evaluated row whose "ours" column shows ``shown`` (label -> value, read from ``label``)."""
    items = [Shown(label, label, [("results/x.json", label)], value, str(value)) for label, value in shown.items()]
    return RowResult(id=row_id, group="g", artifact=row_id, published_key=None, published=None, published_text="",
                     shown=items, ours=next(iter(shown.values()), None), status=status, detail="", rule_text="")


# five seeds around 0.685: the committed interval is about [0.679, 0.691]
ACCURACY = estimate([0.680, 0.684, 0.686, 0.689, 0.686])


def committed():
    return [row("table1.accuracy", accuracy=ACCURACY),
            row("search.best", "not reproduced", best_params={"r_cut": 63, "n_max": 7}, distance=-0.0189),
            row("claims.decline", "inconclusive", steepest=[0.5, 1.2], note="falls beyond 0.5"),
            row("cost", "no published value", train_seconds=12.5, cost_ms_per_image=6.8)]


def moved(rows, row_id, label, value):
    rows = copy.deepcopy(rows)
    for r in rows:
        if r.id == row_id:
            for s in r.shown:
                if s.label == label:
                    s.value, s.text = value, str(value)
    return rows


def failing(differences):
    return [d for d in differences if d.fails]


def test_identical_reports_pass():
    assert compare_rows(committed(), committed()) == []
    assert summary([]) == "verify: 0 verdicts differ, 0 numbers outside their interval"


def test_a_flipped_verdict_fails():
    regenerated = committed()
    regenerated[1].status = "reproduced"
    (difference,) = compare_rows(committed(), regenerated)
    assert (difference.kind, difference.where, difference.fails) == ("verdict", "search.best", True)
    assert (difference.committed, difference.regenerated) == ("not reproduced", "reproduced")
    assert summary([difference]).startswith("verify: 1 verdicts differ, 0 numbers")


def test_an_estimate_may_move_inside_its_committed_interval_and_not_beyond():
    inside = estimate([0.684, 0.688, 0.690, 0.687, 0.689])   # mean 0.6876, inside [low, high]
    outside = estimate([0.700, 0.702, 0.701, 0.703, 0.699])  # mean 0.701, above high
    assert ACCURACY["low"] < inside["mean"] < ACCURACY["high"] < outside["mean"]
    (allowed,) = compare_rows(committed(), moved(committed(), "table1.accuracy", "accuracy", inside))
    assert allowed.kind == "number" and not allowed.fails and "interval" in allowed.allowed
    (broken,) = compare_rows(committed(), moved(committed(), "table1.accuracy", "accuracy", outside))
    assert broken.kind == "number" and broken.fails and broken.where == "table1.accuracy / accuracy"
    assert summary([broken]) == "verify: 0 verdicts differ, 1 numbers outside their interval"


def test_a_plain_number_must_be_equal_to_rounding():
    assert compare_rows(committed(), moved(committed(), "search.best", "distance", -0.0189 * (1 + 1e-12))) == []
    (difference,) = compare_rows(committed(), moved(committed(), "search.best", "distance", -0.0129))
    assert difference.fails and difference.allowed == NO_INTERVAL
    nested = moved(committed(), "search.best", "best_params", {"r_cut": 64, "n_max": 7})
    (difference,) = compare_rows(committed(), nested)
    assert difference.fails and difference.where == "search.best / best_params.r_cut"


@pytest.mark.parametrize("value", [[0.5, 1.3], [0.5], "falls beyond 0.6"])
def test_lists_and_texts_must_be_equal(value):
    label = "note" if isinstance(value, str) else "steepest"
    differences = compare_rows(committed(), moved(committed(), "claims.decline", label, value))
    assert len(differences) == 1 and differences[0].fails


@pytest.mark.parametrize("label", ["train_seconds", "cost_ms_per_image"])
def test_a_measured_time_is_listed_but_never_fails(label):
    (difference,) = compare_rows(committed(), moved(committed(), "cost", label, 14.0))
    assert difference.kind == "time" and not difference.fails
    assert summary([difference]) == "verify: 0 verdicts differ, 0 numbers outside their interval"


def test_a_row_or_a_value_on_one_side_only_fails():
    fewer = committed()[:-1]
    (lost,) = compare_rows(committed(), fewer)
    assert lost.kind == "row" and lost.fails and lost.where == "cost"
    (extra,) = compare_rows(fewer, committed())
    assert extra.kind == "row" and extra.fails
    regenerated = committed()
    regenerated[0].shown.append(Shown("spread", "sd", [], 0.003, "0.003"))
    (added,) = compare_rows(committed(), regenerated)
    assert added.fails and added.where == "table1.accuracy / spread"


def test_an_estimate_that_became_a_plain_number_fails():
    (difference,) = compare_rows(committed(), moved(committed(), "table1.accuracy", "accuracy", ACCURACY["mean"]))
    assert difference.fails


# --------------------------------------------------------------------------- the clone and the whole command


def _git(*args, cwd):
    import subprocess

    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _project(root):
    """A committed project of one row: experiment3.ratio_at_1 read from results/m.json."""
    import json

    import yaml

    (root / "lib" / "pixelsoap" / "report").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "params").mkdir()
    rule = {"kind": "close", "tolerance": {"abs": 0.02}}
    rows = {"rows": [{"id": "ratio", "published": "experiment3.ratio_at_1", "file": "results/m.json",
                      "ours": "ratio", "rule": rule}]}
    (root / "lib" / "pixelsoap" / "report" / "artifacts.yaml").write_text(yaml.safe_dump(rows))
    (root / "params" / "default.yaml").write_text("seed: 0\n")
    (root / "params.yaml").write_text("seed: 0\n")
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "results" / "m.json").write_text(json.dumps({"ratio": 0.79}))
    _git("init", "-q", cwd=root)
    _git("add", ".", cwd=root)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "project", cwd=root)
    return root


def test_a_clone_is_the_committed_head_with_its_own_caches(tmp_path):
    from pixelsoap.pipeline.clones import clone_env, prepare_clone

    root = _project(tmp_path / "root")
    (root / "results" / "m.json").write_text('{"ratio": 0.5}')  # not committed: not in the clone
    clone = prepare_clone(root, tmp_path / "work")
    assert clone == tmp_path / "work" / "project" and '"ratio": 0.79' in (clone / "results" / "m.json").read_text()
    assert (clone / "data" / "cache" / "mnist").resolve() == (root / "data" / "cache" / "mnist").resolve()
    env = clone_env(clone, {"PIXELSOAP_ROOT": str(root), "PIXELSOAP_CACHE_DIR": "/elsewhere", "PYTHONPATH": "/x",
                            "PATH": "/bin", "PIXELSOAP_MNIST_DIR": "/mnist"})
    assert env["PIXELSOAP_ROOT"] == str(clone.resolve()) and "PIXELSOAP_CACHE_DIR" not in env
    assert env["PIXELSOAP_MNIST_DIR"] == "/mnist"
    assert env["PYTHONPATH"].split(":")[0] == str(clone / "lib") and env["PATH"].endswith(":/bin")


@pytest.mark.parametrize("regenerated, status", [(0.79, 0), (0.80, 1)])
def test_verify_regenerates_in_the_clone_and_fails_on_what_moved(tmp_path, monkeypatch, capsys, regenerated, status):
    import json

    from pixelsoap.pipeline import clones, verify

    root = _project(tmp_path / "root")
    runs = []

    def reproduce(clone, profile, force=False):  # stands in for the pipeline: rewrites the result
        runs.append((profile, force))
        (clone / "results" / "m.json").write_text(json.dumps({"ratio": regenerated}))
        return 0

    monkeypatch.setattr(clones, "run_reproduce", reproduce)
    assert verify.run_verify("default", root=root, workdir=tmp_path / "work") == status
    assert runs == [("default", True)]
    out = capsys.readouterr().out
    expected = "0 numbers outside" if status == 0 else "1 numbers outside"
    assert out.strip().splitlines()[-1].startswith(f"verify: 0 verdicts differ, {expected}")
    assert out.endswith((tmp_path / "work" / verify.REPORT_NAME).read_text())
