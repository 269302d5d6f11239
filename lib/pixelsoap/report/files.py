"""Reading the project's files for the report: JSON, YAML and CSV, loaded once; parameters; stages.

A file that does not exist (a stage that failed or has not run) raises :class:`Missing`, as does
one that belongs to the output of a stage that did not run this time (``unavailable``).  A checkout
without ``params.yaml`` (it is committed, holding the default profile, but may be deleted):
:func:`locked_params` rebuilds it from ``dvc.lock``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pixelsoap.runtime.extras import require

# optional (pipeline extra): an ImportError names the extra when it is missing
yaml = require("yaml", extra="pipeline")

PARAMS_FILE = "params.yaml"               # the active profile (``make reproduce PROFILE=...``)


class Missing(Exception):
    """A value the report needs is not there: the file (``path`` None) or a key in it."""

    def __init__(self, file: str, path: str | None = None, reason: str = ""):
        self.file, self.path, self.reason = file, path, reason
        super().__init__(self.describe())

    @property
    def file_missing(self) -> bool:
        return self.path is None

    def describe(self) -> str:
        if self.path is None:
            return f"{self.reason or 'missing'}: {self.file}"
        stop = f" ({self.reason})" if self.reason else ""
        return f"missing: {self.path} in {self.file}{stop}"


class Sources:
    """Files of a project root, loaded once: JSON, YAML (params.yaml) and CSV (list of dicts)."""

    def __init__(self, root: str | Path, unavailable: Mapping[str, str] | None = None):
        """``unavailable``: output path (file or folder) -> reason, for the outputs of stages that
        failed or did not run this time; their files read as not run even where an older copy exists."""
        self.root = Path(root)
        self.unavailable = dict(unavailable or {})
        self._cache: dict[str, Any] = {}

    def exists(self, file: str) -> bool:
        return (self.root / file).is_file()

    def load(self, file: str) -> Any:
        if file in self._cache:
            value = self._cache[file]
            if isinstance(value, Missing):
                raise value
            return value
        path = self.root / file
        try:
            reason = unavailable_reason(file, self.unavailable)
            if reason:
                raise Missing(file, reason=reason)
            if file == PARAMS_FILE and not path.is_file():
                data = locked_params(self.root)   # a fresh clone: what the stages last ran with
                if data is None:
                    raise Missing(file, reason="missing")
                self._cache[file] = data
                return data
            if not path.is_file():
                raise Missing(file, reason="missing")
            text = path.read_text()
            if path.suffix == ".json":
                data = json.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                data = yaml.safe_load(text)
            elif path.suffix == ".csv":
                data = list(csv.DictReader(text.splitlines()))
            else:
                data = text
        except Missing as exc:
            self._cache[file] = exc
            raise
        except (OSError, ValueError, yaml.YAMLError) as exc:
            error = Missing(file, reason=f"unreadable ({type(exc).__name__})")
            self._cache[file] = error
            raise error from exc
        self._cache[file] = data
        return data


def _within(path: str, out: str) -> bool:
    """True if ``path`` is the stage output ``out`` or lies inside that folder."""
    return path == out or path.startswith(out.rstrip("/") + "/")


def unavailable_reason(path: str, unavailable: Mapping[str, str]) -> str | None:
    """Why ``path`` is not to be read (it belongs to an output in ``unavailable``), else None."""
    return next((reason for out, reason in unavailable.items() if _within(path, out)), None)


def locked_params(root: str | Path) -> dict | None:
    """The parameters the stages last ran with, rebuilt from ``dvc.lock`` (None if it has none).

    Used where ``params.yaml`` (the active profile) is missing; the committed outputs were made
    with the parameters that ``dvc.lock`` records per stage (top-level
    sections or dotted sub-keys such as ``experiment1.search``), merged here into one dict.
    """
    try:
        stages = yaml.safe_load((Path(root) / "dvc.lock").read_text()).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    params: dict = {}
    for stage in stages.values():
        for key, value in ((stage or {}).get("params") or {}).get(PARAMS_FILE, {}).items():
            *parents, leaf = key.split(".")
            node = params
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    return params or None


def dvc_stages(root: Path) -> dict[str, dict]:
    """Stages of dvc.yaml: name -> {"outs": [paths], "deps": [paths]} (empty if unreadable)."""
    try:
        stages = yaml.safe_load((root / "dvc.yaml").read_text()).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}

    def names(entries):
        return [next(iter(e)) if isinstance(e, Mapping) else str(e) for e in entries or []]

    return {name: {"outs": names(s.get("outs")) + names(s.get("metrics")) + names(s.get("plots")),
                   "deps": names(s.get("deps"))} for name, s in stages.items() if isinstance(s, Mapping)}


def stage_of(path: str, stages: Mapping[str, dict]) -> str | None:
    """The stage (of :func:`dvc_stages`) whose outputs hold ``path``, else None."""
    for name, stage in stages.items():
        if any(_within(path, out) for out in stage["outs"]):
            return name
    return None


def unavailable_outputs(stages: Mapping[str, dict], stale: Iterable[str],
                        interrupted: str | None = None) -> dict[str, str]:
    """Output path -> reason for every output of the ``stale`` stages (failed, or not run this time).

    ``interrupted``: the stale stage a Ctrl-C stopped; its outputs give that as the reason.
    """
    def reason(name):
        if name == interrupted:
            return f"stage {name} was interrupted (Ctrl-C); `make reproduce` resumes it"
        return f"stage {name} failed or did not run"

    return {out: reason(name) for name in stale if name in stages for out in stages[name]["outs"]}
