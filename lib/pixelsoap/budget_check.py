"""The doubled-budget check: which verdicts of a profile stay the same when its budget doubles.

A verdict on a claim of the paper is *stable when the budget doubles* when the same profile with
its budget (trials, epochs, spectra, seeds) doubled once gives it too, and *changes when the budget
doubles* when it does not.  Stable says no more than that: the doubled budget is usually still far
below the paper's (each row of the report states its budget as a fraction of the paper's).  Only a
verdict whose run used the paper's own budget is *at the paper's budget*.
``python -m pixelsoap.budget_check [PROFILE]`` measures it:

1. :func:`doubled_profile` derives the doubled profile from ``params/<PROFILE>.yaml``: every knob
   of :data:`BUDGET_KEYS` that lies below the ``paper`` profile's value is doubled (capped at the
   paper's value); a knob already at the paper's value is left as it is (doubling it would leave
   the paper's protocol), except the seeds of the error bars, which always double;
2. the pipeline runs under that profile, from scratch, in a clone of the committed project
   (``data/cache/budget-check/project``, its own DVC and data caches; the MNIST download is shared;
   :mod:`pixelsoap.clones`), with ``python -m pixelsoap.reproduce`` so Ctrl-C and resume work as in
   ``make reproduce``;
3. every row of the report is evaluated on the doubled run's files and written, with the doubled
   profile, its digest, the profile it doubles and the time per stage, to
   ``results/budget_check/verdicts.json``; the doubled run's own report is kept beside it, and
   the project's report stage is rerun (the record is read by the report but is not a declared
   dependency of its stage: a clone without a record must still run).

The report (``python -m pixelsoap.report``) then labels each verdict of the active run
(:func:`label_rows`): **at the paper's budget** where the row's budget (``RowResult.budget_fraction``,
from the ``budgets`` of artifacts.yaml) is the paper's, else **stable when the budget doubles** where
the doubled run gives the same verdict and **changes when the budget doubles** where it does not
(with the doubled run's verdict), and says so when the record was made for other parameters than the
active ones (a section of the parameters the check did not have, such as a stage added since, leaves
it current).  Rows read only from a study run on its own (:data:`STUDY_FILES`) are not checked, since
the doubled run reads the same files, unless the study ran at the paper's own budget (the long run at
10,000 epochs, :func:`study_at_paper_budget`).
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from . import autoencoder_dynamics, paths, search_convergence
from .clones import git, prepare_clone, run_reproduce
from .io import write_bytes, write_json
from .jobs import digest

RECORD = Path("results") / "budget_check" / "verdicts.json"
DOUBLED_REPORT = Path("results") / "budget_check" / "REPORT-doubled.md"
DOUBLED_PROFILE = "doubled"

# (dotted key, kind): "size" knobs double up to the paper's value; "seeds" always double.
BUDGET_KEYS: tuple[tuple[str, str], ...] = (
    ("experiment1.search.n_trials", "size"),
    ("experiment1.search.n_samples", "size"),
    ("experiment1.search.classifier.epochs", "size"),
    ("experiment1.search.classifier.patience", "size"),
    ("experiment1.final.classifier.epochs", "size"),
    ("experiment1.final.classifier.patience", "size"),
    ("experiment1.final.n_seeds", "seeds"),
    ("experiment1.figures.candidate_images", "size"),
    ("experiment2.n_train", "size"),
    ("experiment2.training.epochs", "size"),
    ("experiment2.training.patience", "size"),
    ("experiment2.classifier.epochs", "size"),
    ("experiment2.classifier.patience", "size"),
    ("experiment2.classifier.n_seeds", "seeds"),
    ("experiment3.n_samples", "size"),
    ("experiment3.n_seeds", "seeds"),
    ("experiment3.readings.n_samples", "size"),
    ("experiment3.readings.n_train", "size"),
    ("experiment3.readings.epochs", "size"),
    ("experiment3.readings.n_seeds", "seeds"),
    ("experiment4.n_test", "size"),
    ("experiment4.n_train", "size"),
    ("experiment4.image_classifier.epochs", "size"),
    ("experiment4.cnn.n_train", "size"),
    ("experiment4.cnn.epochs", "size"),
    ("experiment4.n_seeds", "seeds"),
)

#: outputs of studies run on their own (committed, not pipeline stages), relative to the project root, as
#: their modules define them: the doubled run reads the same files, so agreement there says nothing about
#: their budget (the long run's epochs, the ladder's budgets)
STUDY_FILES = (autoencoder_dynamics.SUMMARY.as_posix(), search_convergence.OUTPUT.as_posix())

STABLE = "stable when the budget doubles"
CHANGES = "changes when the budget doubles"
AT_PAPER_BUDGET = "at the paper's budget"
STALE = "check made for other parameters"
UNCHECKED = "not checked"
#: the order of the labels in the report's summary
LABELS = (AT_PAPER_BUDGET, STABLE, CHANGES, STALE, UNCHECKED)
#: the symbol of each label in REPORT.md
BUDGET_SYMBOL = {AT_PAPER_BUDGET: "🔒", STABLE: "🔁", CHANGES: "⏳", STALE: "❔", UNCHECKED: "❔"}
#: verdicts on results, not settings
JUDGED = ("reproduced", "reproduced within tolerance", "not reproduced", "inconclusive")


def _get(tree: Mapping, key: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set(tree: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree[part]
    tree[last] = value


def doubled_value(value: Any, paper: Any, kind: str) -> Any:
    """One knob of :func:`doubled_profile`. ``None`` means "unlimited" (all rows, no early stopping)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return value
    if kind == "seeds":
        return 2 * value
    if paper is None:  # the paper's protocol has no limit here (all rows, every epoch)
        return 2 * value
    if value >= paper:
        return value
    return min(2 * value, paper)


def doubled_profile(profile: Mapping[str, Any], paper: Mapping[str, Any]) -> tuple[dict, list[dict]]:
    """``profile`` with its budget doubled, and the list of changes ``{key, from, to}``.

    ``paper``: the paper profile's parameters (the caps).  Keys absent from ``profile`` are skipped.
    """
    doubled = copy.deepcopy(dict(profile))
    changes = []
    for key, kind in BUDGET_KEYS:
        present, value = _get(profile, key)
        if not present:
            continue
        _, cap = _get(paper, key)
        new = doubled_value(value, cap, kind)
        if new != value:
            _set(doubled, key, new)
            changes.append({"key": key, "from": value, "to": new})
    return doubled, changes


def params_digest(params: Mapping[str, Any]) -> str:
    """Digest of a parameter tree (key order and YAML comments do not matter; the code does not enter:
    it says which parameters a record was made for, it keys no cache)."""
    return digest("params", dict(params), code=False)


def section_digests(params: Mapping[str, Any]) -> dict[str, str]:
    """Digest of each top-level section of a parameter tree (section name -> digest)."""
    return {name: params_digest({name: value}) for name, value in params.items()}


def record_is_current(record: Mapping[str, Any], active_params: Mapping[str, Any]) -> bool:
    """Whether a check's record was made for the active parameters.

    Every section the check ran with must be unchanged in ``active_params``; a section added since
    (a new stage) leaves the record current, and that stage's rows are reported as not checked.
    A record without per-section digests compares the whole tree.
    """
    sections = record.get("base_sections")
    if sections is None:
        return record.get("base_digest") == params_digest(active_params)
    return section_digests({k: active_params[k] for k in sections if k in active_params}) == sections


# --------------------------------------------------------------------------- labels in the report


def load_record(root: str | Path | None = None) -> dict | None:
    """The committed record of the last check, or None."""
    path = Path(root or paths.project_root()) / RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def study_at_paper_budget(file: str, root: str | Path | None = None) -> str | None:
    """Why the study whose output is ``file`` (one of :data:`STUDY_FILES`) ran at the paper's own budget,
    or None when it did not (or its output is missing).

    Only the long run can get there: complete, at the paper's 10,000 epochs.  The doubled-budget check
    caps every knob at the paper's value, so doubling such a study would rerun it unchanged.
    """
    if file != autoencoder_dynamics.SUMMARY.as_posix():
        return None
    try:
        summary = json.loads((Path(root or paths.project_root()) / file).read_text())
    except (OSError, ValueError):
        return None
    target = summary.get("target_epochs") or 0
    if summary.get("complete") and target >= autoencoder_dynamics.PAPER_EPOCHS:
        return f"{file} trained every h_e for the paper's {target:,} epochs"
    return None


def label_rows(rows: Iterable[Any], record: Mapping[str, Any] | None, active_params: Mapping | None,
               root: str | Path | None = None) -> dict:
    """Attach ``row.budget`` (label) and ``row.budget_detail`` (text) to each judged row.

    ``rows``: the report's RowResults (``id``, ``status``, ``setting``, ``files``, ``budget_fraction``,
    ``budget_text``); ``record``: :func:`load_record`; ``active_params``: the parameters of the active
    run; ``root``: where the studies' outputs are read (default the project root).  Returns the
    counts per label, in the order of :data:`LABELS`.
    """
    counts = dict.fromkeys(LABELS, 0)
    current = record is not None and active_params is not None and record_is_current(record, active_params)
    doubled_rows = (record or {}).get("rows", {})
    for row in rows:
        row.budget, row.budget_detail = None, ""
        if row.setting or row.status not in JUDGED:
            continue
        files = list(getattr(row, "files", None) or [])
        fraction = getattr(row, "budget_fraction", None)
        if fraction is not None and fraction >= 1:
            label, detail = AT_PAPER_BUDGET, (f"{row.budget_text}: doubling, capped at the paper's values as the "
                                              "check caps it, would rerun it unchanged")
        elif files and all(f in STUDY_FILES for f in files):
            at_paper = [study_at_paper_budget(f, root) for f in files]
            if all(at_paper):
                label, detail = AT_PAPER_BUDGET, ("; ".join(at_paper) + " (doubling, capped at the paper's values as "
                                                  "the check caps it, would rerun it unchanged)")
            else:
                label, detail = UNCHECKED, (f"read from a study run on its own ({', '.join(files)}), which the "
                                            "doubled-budget check does not double: its budget is the study's own")
        elif record is None:
            label, detail = UNCHECKED, "no doubled-budget check on record (python -m pixelsoap.budget_check)"
        elif not current:
            label, detail = STALE, (f"the doubled-budget check on record doubles other parameters "
                                    f"(profile {record.get('base_profile')}, {record.get('date')}); rerun it")
        elif row.id not in doubled_rows:
            label, detail = UNCHECKED, "this row did not exist when the doubled-budget check ran"
        else:
            other = doubled_rows[row.id]
            if other["verdict"] == row.status:
                label, detail = STABLE, f"doubled budget: {other['verdict']} too ({other['ours']})"
            else:
                label, detail = CHANGES, (f"doubled budget: {other['verdict']} ({other['ours']}); "
                                          "the verdict rests on the budget")
        row.budget, row.budget_detail = label, detail
        counts[label] += 1
    return {k: v for k, v in counts.items() if v}


def verdict_record(rows: Iterable[Any]) -> dict[str, dict]:
    """Row id -> {verdict, ours} for every row (``ours`` as the report shows it, one line)."""
    out = {}
    for row in rows:
        text = "; ".join(f"{s.label}: {s.text}" if s.label else s.text for s in row.shown)
        out[row.id] = {"verdict": row.status, "ours": text[:300]}
    return out


# --------------------------------------------------------------------------- running the check


def run_check(profile: str = "default", root: str | Path | None = None, workdir: str | Path | None = None,
              dry_run: bool = False) -> dict:
    """Run the doubled-budget check of ``profile``; returns the record written to :data:`RECORD`."""
    from .profile_schema import validate_params
    from .profiles import load_profile

    root = Path(root or paths.project_root())
    base = load_profile(profile)
    doubled, changes = doubled_profile(base, load_profile("paper"))
    validate_params(doubled, source=f"doubled {profile}")
    print(f"budget_check: profile {profile}, doubled:")
    for change in changes:
        print(f"  {change['key']}: {change['from']} -> {change['to']}")
    if dry_run:
        return {"changes": changes}
    workdir = Path(workdir or paths.cache_dir() / "budget-check")
    clone = prepare_clone(root, workdir, caller="budget_check")
    write_bytes(clone / "params" / f"{DOUBLED_PROFILE}.yaml",
                (f"# The {profile} profile with its budget doubled (pixelsoap.budget_check).\n"
                 + yaml.safe_dump(doubled, sort_keys=False)).encode())
    started = time.perf_counter()
    rc = run_reproduce(clone, DOUBLED_PROFILE)
    seconds = time.perf_counter() - started
    if rc != 0:
        raise SystemExit(f"budget_check: the doubled run failed (exit status {rc}); rerun to resume")

    from .report import build_report

    report = build_report(clone)
    record = {
        "base_profile": profile,
        "base_digest": params_digest(base),
        "base_sections": section_digests(base),
        "doubled": changes,
        "doubled_digest": params_digest(doubled),
        "commit": git("rev-parse", "HEAD", cwd=clone),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "seconds": round(seconds, 1),
        "stage_seconds": {t["stage"]: t.get("seconds") for t in report.timings if "stage" in t},
        "rows": verdict_record(report.rows),
    }
    write_json(root / RECORD, record)
    shutil.copyfile(clone / "results" / "REPORT.md", root / DOUBLED_REPORT)
    print(f"budget_check: {root / RECORD} written ({seconds / 60:.1f} min); rewriting the report")
    # The record is not a declared dependency of the report stage (a fresh clone must run without
    # one), so the report is rerun here, and dvc.lock follows.
    bin_dir = Path(sys.executable).parent
    dvc = bin_dir / "dvc"
    subprocess.run([str(dvc) if dvc.exists() else "dvc", "repro", "--single-item", "--force", "report"], cwd=root,
                   env={**os.environ, "PATH": str(bin_dir) + os.pathsep + os.environ.get("PATH", "")}, check=True)
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a profile with its budget doubled and record the verdicts.")
    parser.add_argument("profile", nargs="?", default="default", help="profile to double (params/<name>.yaml)")
    parser.add_argument("--dry-run", action="store_true", help="print the doubled knobs and stop")
    args = parser.parse_args(argv)
    run_check(args.profile, dry_run=args.dry_run)


if __name__ == "__main__":
    main()
