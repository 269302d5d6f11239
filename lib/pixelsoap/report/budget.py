"""The doubled-budget labels of the report's rows: what :mod:`pixelsoap.pipeline.budget_check` recorded.

:mod:`pixelsoap.pipeline.budget_check` runs a profile with its budget doubled and writes
:data:`RECORD`; the report reads that record here (:func:`load_record`) and labels each judged row
(:func:`label_rows`): at the paper's budget, stable or changing when the budget doubles, checked for
other parameters, or not checked.  Reading the record needs nothing of the pipeline, so the report
stage depends on this module only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pixelsoap.published import value as published_value
from pixelsoap.runtime import paths
from pixelsoap.runtime.cache import digest

RECORD = Path("results") / "budget_check" / "verdicts.json"

#: outputs of studies run on their own (committed, not pipeline stages), relative to the project root, as
#: :mod:`pixelsoap.runtime.paths` defines them: the doubled run reads the same files, so agreement there says nothing
#: about
#: their budget (the long run's epochs, the ladder's budgets)
STUDY_FILES = (paths.DYNAMICS_SUMMARY.as_posix(), paths.DYNAMICS_NEAR_200.as_posix(),
               paths.RANKING_STABILITY.as_posix())
#: the long autoencoder runs: at the paper's budget once complete at its 10,000 epochs
LONG_RUN_FILES = (paths.DYNAMICS_SUMMARY.as_posix(), paths.DYNAMICS_NEAR_200.as_posix())

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

    Only the long runs can get there: complete, at the paper's 10,000 epochs.  The doubled-budget check
    caps every knob at the paper's value, so doubling such a study would rerun it unchanged.
    """
    if file not in LONG_RUN_FILES:
        return None
    try:
        summary = json.loads((Path(root or paths.project_root()) / file).read_text())
    except (OSError, ValueError):
        return None
    target = summary.get("target_epochs") or 0
    if summary.get("complete") and target >= published_value("experiment2.epochs"):
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
            label, detail = UNCHECKED, "no doubled-budget check on record (python -m pixelsoap.pipeline.budget_check)"
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
