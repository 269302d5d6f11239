"""The doubled-budget check: which verdicts of a profile stay the same when its budget doubles.

A verdict on a claim of the paper is *stable when the budget doubles* when the same profile with
its budget (trials, epochs, spectra, seeds) doubled once gives it too, and *changes when the budget
doubles* when it does not.  Stable says no more than that: the doubled budget is usually still far
below the paper's (each row of the report states its budget as a fraction of the paper's).  Only a
verdict whose run used the paper's own budget is *at the paper's budget*.
``python -m pixelsoap.pipeline.budget_check [PROFILE]`` measures it:

1. :func:`doubled_profile` derives the doubled profile from ``params/<PROFILE>.yaml``: every knob
   of :data:`BUDGET_KEYS` that lies below the ``paper`` profile's value is doubled (capped at the
   paper's value); a knob already at the paper's value is left as it is (doubling it would leave
   the paper's protocol), except the seeds of the error bars, which always double;
2. the pipeline runs under that profile, from scratch, in a clone of the committed project
   (``data/cache/budget-check/project``, its own DVC and data caches; the MNIST download is shared;
   :mod:`pixelsoap.pipeline.clones`), with ``python -m pixelsoap.pipeline.reproduce`` so Ctrl-C and resume work as in
   ``make reproduce``;
3. every row of the report is evaluated on the doubled run's files and written, with the doubled
   profile, its digest, the profile it doubles and the time per stage, to
   ``results/budget_check/verdicts.json``; the doubled run's own report is kept beside it, and
   the project's report stage is rerun (the record is read by the report but is not a declared
   dependency of its stage: a clone without a record must still run).

The report (``python -m pixelsoap.report``) then labels each verdict of the active run
(:func:`pixelsoap.report.budget.label_rows`): **at the paper's budget** where the row's budget
(``RowResult.budget_fraction``,
from the ``budgets`` of artifacts.yaml) is the paper's, else **stable when the budget doubles** where
the doubled run gives the same verdict and **changes when the budget doubles** where it does not
(with the doubled run's verdict), and says so when the record was made for other parameters than the
active ones (a section of the parameters the check did not have, such as a stage added since, leaves
it current).  Rows read only from a study run on its own (:data:`~pixelsoap.report.budget.STUDY_FILES`) are not
checked, since
the doubled run reads the same files, unless the study ran at the paper's own budget (the long run at
10,000 epochs, :func:`~pixelsoap.report.budget.study_at_paper_budget`).
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
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

from pixelsoap.pipeline.clones import git, prepare_clone, run_reproduce
from pixelsoap.report import build_report
from pixelsoap.report.budget import RECORD, params_digest, section_digests
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import write_bytes, write_json
from pixelsoap.runtime.profile_schema import validate_params
from pixelsoap.runtime.profiles import load_profile

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
    ("experiment5.n_test", "size"),
    ("experiment5.n_train", "size"),
    ("experiment5.n_samples", "size"),
    ("experiment5.classifier.epochs", "size"),
    ("experiment5.n_seeds", "seeds"),
)

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
    """Run the doubled-budget check of ``profile``; returns the record written to
    :data:`~pixelsoap.report.budget.RECORD`."""
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
                (f"# The {profile} profile with its budget doubled (pixelsoap.pipeline.budget_check).\n"
                 + yaml.safe_dump(doubled, sort_keys=False)).encode())
    started = time.perf_counter()
    rc = run_reproduce(clone, DOUBLED_PROFILE)
    seconds = time.perf_counter() - started
    if rc != 0:
        raise SystemExit(f"budget_check: the doubled run failed (exit status {rc}); rerun to resume")

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
