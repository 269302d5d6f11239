"""The doubled-budget check (pixelsoap.pipeline.budget_check): the doubled profile and the labels in the report
(stable / changes when the budget doubles, at the paper's budget)."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import yaml

from pixelsoap import report
from pixelsoap.pipeline import budget_check as bc
from pixelsoap.report import budget
from pixelsoap.runtime.profile_schema import validate_params

ROOT = Path(__file__).resolve().parents[1]


def _profile(name):
    return yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())


def test_doubling_respects_the_papers_values_as_caps():
    paper = {"experiment1": {"search": {"n_trials": 168, "n_samples": 120000}},
             "experiment2": {"n_train": None, "training": {"epochs": 10000, "patience": None}},
             "experiment3": {"n_samples": 10000, "n_seeds": 1}}
    small = {"experiment1": {"search": {"n_trials": 100, "n_samples": 10000}},
             "experiment2": {"n_train": 24000, "training": {"epochs": 10, "patience": None}},
             "experiment3": {"n_samples": 10000, "n_seeds": 5}}
    doubled, changes = bc.doubled_profile(small, paper)
    assert doubled["experiment1"]["search"] == {"n_trials": 168, "n_samples": 20000}  # 200 capped at 168
    assert doubled["experiment2"]["n_train"] == 48000      # the paper uses every row: no cap
    assert doubled["experiment2"]["training"] == {"epochs": 20, "patience": None}  # no early stopping stays so
    assert doubled["experiment3"] == {"n_samples": 10000, "n_seeds": 10}  # at the paper's value: kept; seeds double
    assert small["experiment1"]["search"]["n_trials"] == 100  # the input is not modified
    assert {c["key"] for c in changes} == {"experiment1.search.n_trials", "experiment1.search.n_samples",
                                           "experiment2.n_train", "experiment2.training.epochs",
                                           "experiment3.n_seeds"}


def test_the_doubled_default_profile_is_valid_and_doubles_every_budget_below_the_papers():
    default, paper = _profile("default"), _profile("paper")
    doubled, changes = bc.doubled_profile(default, paper)
    validate_params(doubled, source="doubled default")
    changed = {c["key"] for c in changes}
    for key, kind in bc.BUDGET_KEYS:
        present, value = bc._get(default, key)
        if not present or not isinstance(value, int):
            continue
        _, cap = bc._get(paper, key)
        below = kind == "seeds" or cap is None or value < cap
        assert (key in changed) == below, key
    assert "seed" not in changed and doubled["soap"] == default["soap"]  # what is compared stays fixed


def _row(id, status, setting=False, fraction=None):
    return SimpleNamespace(id=id, status=status, setting=setting, shown=[], budget_fraction=fraction,
                           budget_text="search: 1/2 trials (the paper's budget)" if fraction else "")


def test_labels_compare_each_verdict_with_the_doubled_runs():
    params = {"seed": 0, "x": 1}
    record = {"base_digest": budget.params_digest(params), "base_profile": "default", "date": "d",
              "rows": {"a": {"verdict": "reproduced", "ours": "0.5"},
                       "b": {"verdict": "reproduced", "ours": "0.7"},
                       "s": {"verdict": "same as the paper", "ours": "1"}}}
    rows = [_row("a", "reproduced"), _row("b", "not reproduced"), _row("c", "reproduced within tolerance"),
            _row("s", "differs from the paper", setting=True), _row("n", "not run"), _row("i", "inconclusive")]
    counts = budget.label_rows(rows, record, params)
    labels = {r.id: r.budget for r in rows}
    assert labels == {"a": budget.STABLE, "b": budget.CHANGES, "c": budget.UNCHECKED, "s": None, "n": None,
                      "i": budget.UNCHECKED}
    assert "reproduced (0.7)" in rows[1].budget_detail
    assert counts == {budget.STABLE: 1, budget.CHANGES: 1, budget.UNCHECKED: 2}


def test_only_a_verdict_run_at_the_papers_budget_is_labelled_so():
    params = {"seed": 0}
    record = {"base_digest": budget.params_digest(params), "base_profile": "default", "date": "d",
              "rows": {"full": {"verdict": "not reproduced", "ours": "0.5"},
                       "small": {"verdict": "reproduced", "ours": "0.5"}}}
    full, small = _row("full", "reproduced", fraction=1.0), _row("small", "reproduced", fraction=1 / 2880)
    assert budget.label_rows([full, small], record, params) == {budget.AT_PAPER_BUDGET: 1, budget.STABLE: 1}
    assert full.budget == budget.AT_PAPER_BUDGET and "the paper's budget" in full.budget_detail
    assert small.budget == budget.STABLE          # the same verdict at twice a tiny budget: stable, no more


def test_a_record_for_other_parameters_is_named_stale_not_settled():
    record = {"base_digest": budget.params_digest({"seed": 0}), "base_profile": "default", "date": "d",
              "rows": {"a": {"verdict": "reproduced", "ours": "1"}}}
    rows = [_row("a", "reproduced")]
    assert budget.label_rows(rows, record, {"seed": 1}) == {budget.STALE: 1}
    assert "rerun" in rows[0].budget_detail
    rows = [_row("a", "reproduced")]
    assert budget.label_rows(rows, None, {"seed": 1}) == {budget.UNCHECKED: 1}


def test_a_section_added_after_the_check_keeps_it_current_and_a_changed_one_does_not():
    base = {"seed": 0, "experiment1": {"n": 10}}
    record = {"base_digest": budget.params_digest(base), "base_sections": budget.section_digests(base),
              "base_profile": "default", "date": "d", "rows": {"a": {"verdict": "reproduced", "ours": "1"}}}
    rows = [_row("a", "reproduced"), _row("new", "reproduced")]
    counts = budget.label_rows(rows, record, {**base, "experiment4": {"n": 5}})    # a stage added since
    assert [r.budget for r in rows] == [budget.STABLE, budget.UNCHECKED]
    assert counts == {budget.STABLE: 1, budget.UNCHECKED: 1}
    rows = [_row("a", "reproduced")]
    assert budget.label_rows(rows, record, {"seed": 0, "experiment1": {"n": 20}}) == {budget.STALE: 1}
    rows = [_row("a", "reproduced")]
    assert budget.label_rows(rows, record, {"experiment1": {"n": 10}}) == {budget.STALE: 1}   # a section removed


def test_rows_read_from_a_study_of_its_own_are_not_called_stable(tmp_path):
    params = {"seed": 0}
    record = {"base_digest": budget.params_digest(params), "base_sections": budget.section_digests(params),
              "base_profile": "default", "date": "d", "rows": {"long": {"verdict": "reproduced", "ours": "1"},
                                                               "mixed": {"verdict": "reproduced", "ours": "1"}}}
    long_run = SimpleNamespace(id="long", status="reproduced", setting=False, shown=[],
                               files=["long-runs/autoencoder-dynamics/dynamics.json"])
    mixed = SimpleNamespace(id="mixed", status="reproduced", setting=False, shown=[],
                            files=["long-runs/autoencoder-dynamics/dynamics.json", "results/experiment2/metrics.json"])
    counts = budget.label_rows([long_run, mixed], record, params, root=tmp_path)
    assert counts == {budget.STABLE: 1, budget.UNCHECKED: 1}
    assert long_run.budget == budget.UNCHECKED and "study run on its own" in long_run.budget_detail
    assert mixed.budget == budget.STABLE
    # the long run stopped short of the paper's 10,000 epochs: still its own budget, not checked
    summary = tmp_path / "long-runs" / "autoencoder-dynamics" / "dynamics.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"complete": False, "target_epochs": 10000, "epochs_reached": 9000}))
    assert budget.label_rows([long_run], record, params, root=tmp_path) == {budget.UNCHECKED: 1}
    summary.write_text(json.dumps({"complete": True, "target_epochs": 5000}))       # complete, but short
    assert budget.label_rows([long_run], record, params, root=tmp_path) == {budget.UNCHECKED: 1}
    # at the paper's own budget, doubling (capped at the paper's values) would rerun it unchanged
    summary.write_text(json.dumps({"complete": True, "target_epochs": 10000}))
    assert budget.label_rows([long_run], record, params, root=tmp_path) == {budget.AT_PAPER_BUDGET: 1}
    assert "paper's 10,000 epochs" in long_run.budget_detail
    # a row that reads both long runs is at the paper's budget only when the run near h_e 200 is complete too
    both = SimpleNamespace(id="long", status="reproduced", setting=False, shown=[],
                           files=["long-runs/autoencoder-dynamics/dynamics.json",
                                  "long-runs/autoencoder-dynamics-near-200/dynamics.json"])
    near = tmp_path / "long-runs" / "autoencoder-dynamics-near-200" / "dynamics.json"
    near.parent.mkdir(parents=True)
    near.write_text(json.dumps({"complete": False, "target_epochs": 10000, "epochs_reached": 1400}))
    assert budget.label_rows([both], record, params, root=tmp_path) == {budget.UNCHECKED: 1}
    near.write_text(json.dumps({"complete": True, "target_epochs": 10000}))
    assert budget.label_rows([both], record, params, root=tmp_path) == {budget.AT_PAPER_BUDGET: 1}


def test_digest_ignores_key_order():
    digest = budget.params_digest
    assert digest({"a": 1, "b": {"c": 2, "d": 3}}) == digest({"b": {"d": 3, "c": 2}, "a": 1})
    assert budget.params_digest({"a": 1}) != budget.params_digest({"a": 2})


def test_the_report_shows_stable_and_changing_verdicts_and_each_budget(tmp_path):
    """A project whose record says the doubled run agrees on one claim and not on another."""
    root = tmp_path / "project"
    (root / "results" / "spectra").mkdir(parents=True)
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(ROOT / "params", root / "params")
    shutil.copy(root / "params" / "smoke.yaml", root / "params.yaml")
    (root / "results" / "spectra" / "metrics.json").write_text(json.dumps(
        {"n_train": 96000, "n_val": 24000, "n_test": 10000, "descriptor_size": 308}))
    (root / "results" / "soap").mkdir()
    (root / "results" / "soap" / "metrics.json").write_text(json.dumps({"descriptor_size": 308}))
    rows = {r.id: r for r in report.evaluate_rows(root)}
    judged = [i for i, r in rows.items() if r.status in budget.JUDGED]
    assert "soap.descriptor_size" in judged
    flipped = "not reproduced" if rows["soap.descriptor_size"].status != "not reproduced" else "reproduced"
    params = yaml.safe_load((root / "params.yaml").read_text())
    record = {"base_profile": "smoke", "base_digest": budget.params_digest(params), "date": "2026-01-01 00:00 UTC",
              "seconds": 600.0, "machine": "x86_64, 2 cores",
              "rows": {i: {"verdict": rows[i].status, "ours": "same"} for i in judged}}
    record["rows"]["soap.descriptor_size"] = {"verdict": flipped, "ours": "307"}
    (root / budget.RECORD).parent.mkdir(parents=True)
    (root / budget.RECORD).write_text(json.dumps(record))
    built = report.build_report(root)
    assert built.budget_counts == {budget.STABLE: len(judged) - 1, budget.CHANGES: 1}
    md = report.render_markdown(built, root / "results" / "REPORT.md")
    assert f"**{len(judged) - 1} stable when the budget doubles** · **1 changes when the budget doubles**" in md
    assert "settled" not in md
    line = next(l for l in md.splitlines() if l.startswith("| descriptor size at"))
    assert "changes when the budget doubles" in line and f"doubled budget: {flipped} (307)" in line
