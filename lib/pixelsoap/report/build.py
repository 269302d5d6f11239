"""The report of a project: every row evaluated and the run described (:func:`build_report`),
then written as REPORT.md and the HTML folder (:func:`write_report`)."""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pixelsoap.data import DATASETS
from pixelsoap.report import budget
from pixelsoap.report.files import Sources, dvc_stages, unavailable_outputs
from pixelsoap.report.render import render_html, render_markdown, swap_in_folder, write_html
from pixelsoap.report.rows import RowResult, evaluate_rows, load_rows
from pixelsoap.report.rules import VERDICTS, without_verdicts_on_other_data
from pixelsoap.report.run_info import figures, infer_profile, notebooks, package_versions, stage_timings
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import atomic_path


@dataclass
class Report:
    """Everything the templates show."""

    root: Path
    generated: str
    profile: dict
    packages: list[tuple[str, str]]
    rows: list[RowResult]
    groups: list[tuple[str, list[RowResult]]]
    counts: list[tuple[str, int]]
    figures: list[dict]
    notebooks: list[dict]
    timings: list[dict]
    report_seconds: float | None = None
    interrupted: str | None = None  # the stage a Ctrl-C stopped (pixelsoap.pipeline.reproduce), if any
    budget_counts: dict = field(default_factory=dict)  # pixelsoap.report.budget label -> rows
    budget_record: dict | None = None  # the doubled-budget check on record
    dataset: str = "MNIST"  # the images of the run (pixelsoap.data display name)


def build_report(root: str | Path | None = None, rows_file: str | Path | None = None,
                 stale: Iterable[str] = (), interrupted: str | None = None) -> Report:
    """Read the stages' outputs under ``root`` and evaluate every row.

    ``stale``: stages that failed or did not run this time; their outputs show as not run.
    ``interrupted``: the stage a Ctrl-C stopped (counted as stale); the report says so.
    """
    stale = set(stale) | ({interrupted} if interrupted else set())
    started = time.perf_counter()
    root = Path(root) if root else paths.project_root()
    config = load_rows(rows_file)
    stages = dvc_stages(root)
    unavailable = unavailable_outputs(stages, stale, interrupted)
    sources = Sources(root, unavailable)
    rows = evaluate_rows(root, rows_file, sources)
    groups: dict[str, list[RowResult]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    nbs = notebooks(root, stages, unavailable)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = _dt.datetime.fromtimestamp(int(epoch), _dt.UTC) if epoch else _dt.datetime.now(_dt.UTC)
    profile = infer_profile(root)
    dataset = str((profile["params"] or {}).get("dataset", "mnist")) if isinstance(profile["params"], Mapping) \
        else "mnist"
    rows = without_verdicts_on_other_data(rows, dataset)
    counts = [(v, sum(r.status == v for r in rows)) for v in VERDICTS]
    record = budget.load_record(root)
    budget_counts = budget.label_rows(rows, record, profile["params"])
    report = Report(root=root, generated=now.strftime("%Y-%m-%d %H:%M UTC"), profile=profile,
                    packages=package_versions(config.get("packages", [])), rows=rows, groups=list(groups.items()),
                    counts=[(v, n) for v, n in counts if n], figures=figures(root, config.get("figures", {}), stages),
                    notebooks=nbs, timings=stage_timings(root, stages, nbs, config.get("timings", {}), sources),
                    interrupted=interrupted, budget_counts=budget_counts, budget_record=record,
                    dataset=_dataset_name(dataset))
    report.report_seconds = time.perf_counter() - started
    return report


def _dataset_name(dataset: str) -> str:
    """Display name of a profile's ``dataset`` ("MNIST", "Fashion-MNIST"); the value itself if unknown."""
    return DATASETS[dataset][0] if dataset in DATASETS else dataset


def write_report(root: str | Path | None = None, md_path: str | Path | None = None,
                 html_dir: str | Path | None = None, notebooks_html: bool = True,
                 stale: Iterable[str] = (), interrupted: str | None = None) -> tuple[Path, Path]:
    """Write the Markdown report and the HTML folder; return (REPORT.md path, index.html path).

    Defaults: ``<root>/results/REPORT.md`` and ``<root>/results/report/`` (``index.html`` and,
    unless ``notebooks_html`` is False, ``notebooks/<name>.html``).  The HTML folder is built
    beside its target and swapped in whole; REPORT.md is written atomically, and so is
    ``REPORT.html`` beside it: the page of ``index.html`` with its figures made small
    (:func:`~pixelsoap.report.render.compact_png`, under 3 MB), committed so that a fresh clone has it.
    """
    md_path, index, _ = build_and_write(root, md_path, html_dir, notebooks_html, stale, interrupted)
    return md_path, index


def build_and_write(root, md_path, html_dir, notebooks_html, stale=(), interrupted=None) -> tuple[Path, Path, Report]:
    """:func:`write_report`, returning the :class:`Report` too (the command line prints its counts)."""
    root = Path(root) if root else paths.project_root()
    md_path = Path(md_path) if md_path else root / "results" / "REPORT.md"
    html_dir = Path(html_dir) if html_dir else root / "results" / "report"
    html_dir.parent.mkdir(parents=True, exist_ok=True)
    report = build_report(root, stale=stale, interrupted=interrupted)
    swap_in_folder(html_dir, lambda folder: write_html(report, folder, notebooks_html))
    with atomic_path(md_path) as out:
        out.write_text(render_markdown(report, md_path, html_dir / "index.html"), encoding="utf-8")
    # the page a fresh clone shows (committed, small: figures downscaled; no links to the notebooks,
    # whose pages live in the DVC cache)
    with atomic_path(md_path.with_suffix(".html")) as out:
        out.write_text(render_html(report, compact=True), encoding="utf-8")
    return md_path, html_dir / "index.html", report
