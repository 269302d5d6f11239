"""The profile schema: the shipped profiles pass, each kind of broken profile is refused with one clear line."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pixelsoap.runtime.profile_schema import SECTIONS, ProfileError, validate_params
from pixelsoap.runtime.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_validate(name):
    profile = yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())
    validate_params(profile, source=f"params/{name}.yaml")
    assert set(profile) == set(SECTIONS)


def _set(path: str, value):
    def mutate(profile):
        *parents, last = path.split(".")
        node = profile
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _delete(path: str):
    def mutate(profile):
        *parents, last = path.split(".")
        node = profile
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


# (id, mutation of params/default.yaml, dotted key, offending value as shown, phrase of what is allowed)
BAD = [
    ("typo-optional-key", _set("spectra.dtpye", "float64"), "spectra.dtpye", "'float64'",
     "unknown key; spectra allows: n_train, n_test, val_fraction, split, dtype"),
    ("float-for-int", _set("spectra.n_test", 999.9), "spectra.n_test", "999.9", "must be an int >= 1"),
    ("missing-n_train", _delete("spectra.n_train"), "spectra.n_train", None, "is missing (required: an int >= 10"),
    ("missing-n_trials", _delete("experiment1.search.n_trials"), "experiment1.search.n_trials", None,
     "is missing (required: an int >= 1"),
    ("negative", _set("spectra.n_test", -5), "spectra.n_test", "-5", "must be an int >= 1"),
    ("str-for-int", _set("spectra.n_train", "abc"), "spectra.n_train", "'abc'", "must be an int >= 10"),
    ("backwards-grid", _set("experiment2.linear", {"start": 100, "stop": 2}), "experiment2.linear",
     "{'start': 100, 'stop': 2}", "backwards range (start 100 > stop 2)"),
    ("empty-grid", _set("experiment2.accuracy.h_e", []), "experiment2.accuracy.h_e", "[]", "empty grid"),
    ("grid-beyond-d", _set("experiment2.linear", [1, 309]), "experiment2.linear", "[1, 309]", "leaves 1..308"),
    ("missing-training", _delete("experiment2.training"), "experiment2.training", None,
     "is missing (required: a mapping with keys learning_rate, batch_size, epochs, patience)"),
    ("unknown-section", _set("experiment9", {"n": 1}), "experiment9", "{'n': 1}",
     "unknown key; the profile allows: seed, conversion, soap"),
    ("bool-for-int", _set("experiment1.search.n_trials", True), "experiment1.search.n_trials", "True",
     "must be an int >= 1"),
    ("reversed-space", _set("experiment1.search.space.r_cut", [100, 2]), "experiment1.search.space.r_cut",
     "[100, 2]", "backwards range (low 100 > high 2)"),
    ("val-fraction", _set("experiment1.search.val_fraction", 1.5), "experiment1.search.val_fraction", "1.5",
     "must be a number strictly between 0 and 1"),
    ("levels-backwards", _set("experiment3.levels", {"min": 6.0, "max": 5.0, "steps": 20}), "experiment3.levels",
     "{'min': 6.0, 'max': 5.0, 'steps': 20}", "backwards range (min 6.0 > max 5.0)"),
    ("steps-zero", _set("experiment3.levels.steps", 0), "experiment3.levels.steps", "0", "must be an int >= 1"),
    ("split", _set("spectra.split", "rows"), "spectra.split", "'rows'", "must be 'random' or 'image'"),
    ("soap-float-n_max", _set("soap.n_max", 7.0), "soap.n_max", "7.0", "must be an int in 1..20"),
    ("deep-entry-key", _set("experiment2.deep", [{"h_m": 2, "h_e": [8], "width": 3}]), "experiment2.deep[0].width",
     "3", "unknown key; experiment2.deep[0] allows: h_m, h_e"),
    ("classifier-units", _set("experiment1.final.classifier.hidden_units", [256, 0]),
     "experiment1.final.classifier.hidden_units[1]", "0", "must be a non-empty list of ints >= 1"),
    ("yaml-1e-4", _set("experiment2.training.learning_rate", "1e-4"), "experiment2.training.learning_rate",
     "'1e-4'", "must be a finite number > 0"),
    ("n_jobs-zero", _set("spectra.n_jobs", 0), "spectra.n_jobs", "0", "a nonzero int"),
    *[(f"{key.split('.')[0]}-n_seeds-{shown}", _set(key, value), key, shown, "must be an int >= 1")
      for key in ("experiment1.final.n_seeds", "experiment2.classifier.n_seeds")
      for value, shown in ((0, "0"), (-1, "-1"), (1.5, "1.5"), ("5", "'5'"))],
]


@pytest.mark.parametrize("mutate, key, shown, allowed", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_broken_profile_is_refused_with_one_line_naming_key_value_and_rule(mutate, key, shown, allowed):
    profile = copy.deepcopy(DEFAULT)
    mutate(profile)
    with pytest.raises(ProfileError) as info:
        validate_params(profile, source="params/bad.yaml")
    lines = str(info.value).splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    if shown is None:
        assert line.startswith(f"params/bad.yaml: {key} is missing (required: ")
    else:
        assert line.startswith(f"params/bad.yaml: {key} = {shown}: "), line
    assert allowed in line, line
    assert "pydantic" not in line and "errors.pydantic.dev" not in line


def test_every_problem_is_listed_and_sections_limit_the_check():
    profile = copy.deepcopy(DEFAULT)
    profile["spectra"]["n_test"] = -5
    profile["experiment3"]["n_seeds"] = 0
    with pytest.raises(ProfileError) as info:
        validate_params(profile)
    assert [line.split(" = ")[0] for line in str(info.value).splitlines()] == [
        "params.yaml: spectra.n_test", "params.yaml: experiment3.n_seeds"]
    validate_params(profile, sections=["conversion", "soap"])           # neither broken section checked
    with pytest.raises(ProfileError, match="experiment3.n_seeds = 0"):
        validate_params(profile, sections=["experiment3"])
    profile["seed"] = -1                                                 # seed is always checked
    with pytest.raises(ProfileError, match="seed = -1: must be an int >= 0"):
        validate_params(profile, sections=["conversion"])
    with pytest.raises(ProfileError, match="must be a mapping of sections"):
        validate_params(None)


def _bad_root(tmp_path: Path) -> Path:
    (tmp_path / "params").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    bad = copy.deepcopy(DEFAULT)
    bad["spectra"]["n_test"] = 999.9
    (tmp_path / "params" / "bad.yaml").write_text(yaml.safe_dump(bad))
    return tmp_path


def test_selecting_a_broken_profile_exits_2_and_writes_nothing(tmp_path):
    root = _bad_root(tmp_path)
    env = {**os.environ, "PIXELSOAP_ROOT": str(root)}
    result = subprocess.run([sys.executable, "-m", "pixelsoap.runtime.profiles", "bad"], env=env, cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "params/bad.yaml: spectra.n_test = 999.9: must be an int >= 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / "params.yaml").exists()


def test_the_runner_refuses_a_broken_injected_section_before_running_the_notebook(tmp_path, monkeypatch, capsys):
    from pixelsoap.pipeline import runner

    root = _bad_root(tmp_path)
    monkeypatch.setenv("PIXELSOAP_ROOT", str(root))
    calls = []
    monkeypatch.setattr(runner, "run_notebook", lambda *args, **kwargs: calls.append(args))
    params = str(root / "params" / "bad.yaml")
    with pytest.raises(SystemExit) as info:
        runner.main(["notebooks/03-experiment1.py", str(tmp_path / "out.ipynb"), "--params", params,
                     "--sections", "seed", "soap", "spectra", "experiment1"])
    assert info.value.code == 2 and not calls
    assert "params/bad.yaml: spectra.n_test = 999.9: must be an int >= 1" in capsys.readouterr().err
    # a stage that does not inject the broken section runs
    runner.main(["notebooks/01-conversion.py", str(tmp_path / "out.ipynb"), "--params", params,
                 "--sections", "seed", "conversion"])
    assert len(calls) == 1 and calls[0][2] == {"seed": 0, "conversion": DEFAULT["conversion"],
                                                "outputs": "pipeline"}


@pytest.mark.parametrize("module, entry, key", [("experiments.spectra", "build", "spectra.n_test"),
                                                ("experiments.search.monte_carlo", "run_search_stage",
                                                 "experiment1.search.n_trials")])
def test_stage_entry_points_refuse_before_any_work(tmp_path, monkeypatch, capsys, module, entry, key):
    import importlib

    stage = importlib.import_module(f"pixelsoap.{module}")
    monkeypatch.setattr(stage, entry, lambda *args, **kwargs: pytest.fail("the stage ran on a broken profile"))
    bad = copy.deepcopy(DEFAULT)
    bad["spectra"]["n_test"] = -5
    del bad["experiment1"]["search"]["n_trials"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(SystemExit) as info:
        stage.main(["--params", str(tmp_path / "params.yaml")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and key in err and "Traceback" not in err


# --------------------------------------------------------------------------- one rule for the schema and the library
#
# The settings dataclasses check their fields themselves (the library is used without the pipeline); each
# value below must be refused by both or by neither, and a refusal must state the same rule.

def _agreement_cases():
    from pixelsoap.experiments.baselines import BaselineSettings
    from pixelsoap.experiments.experiment2.compression import TrainingConfig
    from pixelsoap.experiments.search.space import SearchSpace
    from pixelsoap.models.classifier import ClassifierConfig
    from pixelsoap.models.cnn import CnnConfig

    ints = [0, 1, 2, 9, 10, 27, 29, 8, -1, 2.0, 9.5, True, "9", None]
    numbers = [0, 0.1, 1, 1e-3, -0.5, 0.0, 1.5, float("inf"), float("nan"), True, "1e-4", None]
    pairs = [[2, 100], [100, 2], [1, 5], [0, 5], [0.5, 5], [1.5, 5.5], [2.0, 5.0], [0, 20], [1, 21], [3, 3],
             [2, float("inf")], [2], [1, 2, 3], "2-5", [True, 5], None]
    cases = [("baselines", BaselineSettings, field, ints) for field in ("n_seeds", "window", "n_train")]
    cases += [("experiment1.final.classifier", ClassifierConfig, field, values) for field, values in
              [("hidden_units", [[8], [], [8, 0], [3.0], 8, [True], "8"]), ("dropout", numbers),
               ("learning_rate", numbers), ("batch_size", ints), ("epochs", ints), ("patience", ints)]]
    cases += [("experiment2.training", TrainingConfig, field, values) for field, values in
              [("learning_rate", numbers), ("batch_size", ints), ("epochs", ints), ("patience", ints)]]
    cases += [("experiment4.cnn", CnnConfig, field, values) for field, values in
              [("filters", [[4, 8], [4], [4, 0], [4.0, 8], [4, 8, 16], "48", None]), ("hidden", ints),
               ("batch_size", ints), ("epochs", ints), ("learning_rate", numbers)]]
    for integer in (True, False):
        cases += [("experiment1.search.space", lambda integer=integer, **kw: SearchSpace(integer=integer, **kw),
                   name, pairs, {"integer": integer}) for name in ("r_cut", "n_max", "l_max", "sigma")]
    return [case if len(case) == 5 else (*case, {}) for case in cases]


@pytest.mark.parametrize("section, build, field, values, extra", _agreement_cases(),
                         ids=[f"{c[0]}.{c[2]}" + "".join(f"-{k}={v}" for k, v in c[4].items())
                              for c in _agreement_cases()])
def test_the_schema_and_the_settings_classes_apply_one_rule(section, build, field, values, extra):
    for value in values:
        profile = copy.deepcopy(DEFAULT)
        node = profile
        for key in section.split("."):
            node = node[key]
        node.update(extra)
        node[field] = value
        try:
            validate_params(profile, sections=[section.split(".")[0]])
            schema_error = None
        except ProfileError as exc:
            schema_error = str(exc)
        try:
            build(**{field: tuple(value) if isinstance(value, list) else value})
            library_error = None
        except ValueError as exc:
            library_error = str(exc)
        assert (schema_error is None) == (library_error is None), (section, field, value, schema_error, library_error)
        if library_error is not None:
            rule = library_error.split(" must be ", 1)[1].split(", got ")[0].split("; allowed")[0] \
                if " must be " in library_error else library_error.split(", got ")[0].split(": ", 1)[-1]
            assert rule in schema_error, (value, rule, schema_error)
