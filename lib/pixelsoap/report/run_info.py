"""What the report says about the run: its profile, package versions, executed notebooks, time
per stage, figures, and the stages ``dvc status`` finds out of date."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pixelsoap.report.files import PARAMS_FILE, Missing, Sources, locked_params, stage_of, unavailable_reason
from pixelsoap.report.query import Context, evaluate, references
from pixelsoap.report.rules import MISSING, NOT_RUN
from pixelsoap.runtime.extras import require

# optional (pipeline extra): an ImportError names the extra when it is missing
yaml = require("yaml", extra="pipeline")


def infer_profile(root: Path) -> dict:
    """The active parameters and the profile they equal: {"name", "params", "note", "text"}."""
    params_file = root / PARAMS_FILE
    source = PARAMS_FILE
    if params_file.is_file():
        text = params_file.read_text()
        try:
            params = yaml.safe_load(text)
        except yaml.YAMLError:
            return {"name": None, "params": None, "text": text, "note": "unreadable: params.yaml"}
    else:
        params = locked_params(root)
        if params is None:
            return {"name": None, "params": None, "text": "", "note": "missing: params.yaml"}
        text, source = yaml.safe_dump(params, sort_keys=False), "the parameters in dvc.lock"
    best, best_diff = None, None
    for profile in sorted((root / "params").glob("*.yaml")):
        try:
            other = yaml.safe_load(profile.read_text())
        except yaml.YAMLError:
            continue
        diff = _leaf_differences(params, other)
        if not diff:
            return {"name": profile.stem, "params": params, "text": text,
                    "note": f"{source} equals params/{profile.name}"}
        if best_diff is None or len(diff) < len(best_diff):
            best, best_diff = profile.stem, diff
    note = f"{source} matches no profile in params/"
    if best:
        note += f" (closest: {best}; differs at {', '.join(best_diff[:5])}{'…' if len(best_diff) > 5 else ''})"
    return {"name": None, "params": params, "text": text, "note": note}


def _leaf_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += _leaf_differences(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def package_versions(names: Iterable[str]) -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for name in names:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


def notebooks(root: Path, stages: Mapping[str, dict], unavailable: Mapping[str, str] | None = None) -> list[dict]:
    """Executed notebooks (results/notebooks/*.ipynb and those dvc.yaml promises) with papermill timing.

    ``unavailable``: output path -> reason (:func:`.files.unavailable_outputs`); such notebooks show as not run."""
    folder = root / "results" / "notebooks"
    unavailable = unavailable or {}
    found = {p.name: p for p in sorted(folder.glob("*.ipynb"))
             if not p.name.startswith(".") and not unavailable_reason(f"results/notebooks/{p.name}", unavailable)}
    promised = {Path(o).name: name for name, s in stages.items() for o in s["outs"]
                if o.startswith("results/notebooks/") and o.endswith(".ipynb")}
    out = []
    for name in sorted(set(found) | set(promised)):
        rel = f"results/notebooks/{name}"
        entry = {"name": Path(name).stem, "file": rel, "stage": promised.get(name) or stage_of(rel, stages),
                 "exists": name in found, "duration": None, "start": None, "end": None, "errors": None,
                 "missing": None if name in found else f"{unavailable_reason(rel, unavailable) or 'missing'}: {rel}"}
        if name in found:
            try:
                nb = json.loads(found[name].read_text())
                pm = nb.get("metadata", {}).get("papermill", {})
                entry.update(duration=pm.get("duration"), start=pm.get("start_time"), end=pm.get("end_time"),
                             errors=sum(1 for c in nb.get("cells", []) for o in c.get("outputs", [])
                                        if o.get("output_type") == "error"),
                             exception=pm.get("exception"))
            except (OSError, ValueError):
                entry.update(exists=False, missing=f"unreadable: {rel}")
        out.append(entry)
    return out


def stage_timings(root: Path, stages: Mapping[str, dict], nbs: list[dict], config: Mapping,
                  sources: Sources) -> list[dict]:
    """Time per stage, from the executed notebooks' papermill metadata or the files in ``config``."""
    by_stage = {nb["stage"]: nb for nb in nbs if nb["stage"]}
    names = [s for s in stages if s != "report"] + [s for s in config if s not in stages]
    out = []
    for name in names:
        row = {"stage": name, "seconds": None, "end": None, "source": "", "status": ""}
        nb = by_stage.get(name)
        spec = config.get(name)
        if nb and nb["exists"] and nb["duration"] is not None:
            row.update(seconds=float(nb["duration"]), end=nb["end"],
                       source=f"{nb['file']}: metadata.papermill.duration")
        elif nb and not nb["exists"] and not spec:
            row.update(status=NOT_RUN, source=nb["missing"])
        elif spec:
            try:
                if spec.get("trials_csv"):
                    row.update(_trials_wall(sources.load(spec["file"])))
                else:
                    row["seconds"] = float(evaluate(spec["seconds"], Context(sources, spec["file"])))
                refs = ", ".join(p for _, p in references(spec.get("seconds"), spec["file"]))
                row["source"] = f"{spec['file']}{': ' + refs if refs else ''} ({spec.get('what', '')})"
            except (Missing, TypeError, ValueError) as exc:
                row.update(status=NOT_RUN if isinstance(exc, Missing) and exc.file_missing else MISSING,
                           source=exc.describe() if isinstance(exc, Missing) else f"unreadable: {spec['file']}")
        else:
            row["source"] = "not recorded by the stage"
        out.append(row)
    return out


def _trials_wall(rows: list[dict]) -> dict:
    starts, ends = [], []
    for r in rows:
        try:
            if r.get("datetime_start") and r.get("datetime_complete"):
                starts.append(_dt.datetime.fromisoformat(r["datetime_start"]))
                ends.append(_dt.datetime.fromisoformat(r["datetime_complete"]))
        except ValueError:
            continue
    if not starts:
        raise ValueError("no trial times")
    return {"seconds": (max(ends) - min(starts)).total_seconds(), "end": max(ends).isoformat()}


def figures(root: Path, captions: Mapping[str, str], stages: Mapping[str, dict]) -> list[dict]:
    """Every figures/*.png with its paper figure, caption and stage; paper figures without a file as missing."""
    folder = root / "figures"
    found = []
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        if png.name.startswith("."):
            continue
        m = re.match(r"fig0*(\d+)([a-z]?)", png.stem)
        number, letter = (int(m.group(1)), m.group(2)) if m else (10_000, "")
        paper_id = f"{number}{letter}" if f"{number}{letter}" in captions else str(number)
        pdf = png.with_suffix(".pdf")
        found.append({"name": png.stem, "file": f"figures/{png.name}", "sort": (number, letter, png.stem),
                      "paper": f"Fig. {number}{letter}" if m else "", "caption": captions.get(paper_id, ""),
                      "pdf": f"figures/{pdf.name}" if pdf.is_file() else None, "missing": None,
                      "stage": stage_of(f"figures/{png.name}", stages), "path": png})
    have = {f["name"] for f in found}
    for paper_id, caption in captions.items():
        m = re.fullmatch(r"(\d+)([a-z]?)", str(paper_id))
        if not m:
            continue
        prefix = f"fig{int(m.group(1)):02d}{m.group(2)}"
        if not any(n.startswith(prefix) for n in have):
            found.append({"name": prefix, "file": None, "sort": (int(m.group(1)), m.group(2), prefix),
                          "paper": f"Fig. {paper_id}", "caption": caption, "pdf": None, "stage": None,
                          "missing": f"missing: figures/{prefix}*.png", "path": None})
    return sorted(found, key=lambda f: f["sort"])


def dvc_stale_stages(root: Path) -> list[str]:
    """The stages that ``dvc status`` reports as not up to date (the report stage itself excluded)."""
    result = subprocess.run(["dvc", "status", "--json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc status failed: {result.stderr.strip()[-500:]}")
    return sorted(name.split(":")[-1] for name in json.loads(result.stdout or "{}") if not name.endswith("report"))
