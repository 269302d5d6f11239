"""Variants never clobber the committed results: any profile but ``default`` runs in a clone of HEAD.

``make reproduce PROFILE=smoke`` (``python -m pixelsoap.pipeline.reproduce smoke``), a parameter
override (``--set soap.r_cut=40``) or a named variant (``--variant NAME``) runs the pipeline in
``<root>/runs/<name>/project`` (gitignored), a clone of the committed HEAD made by
:func:`pixelsoap.pipeline.clones.prepare_clone`, whose ``params.yaml`` holds the profile with the
overrides applied.  The workspace (its ``params.yaml``, ``dvc.lock``, ``figures/``, ``results/``)
is left as it is, so coming back to the default costs nothing: it never left.

What the variant shares with the workspace, so it recomputes only what its parameters change:

- the data caches (MNIST files, SOAP chunks, search trials, trained models: ``PIXELSOAP_CACHE_DIR``
  points at the workspace's, :func:`pixelsoap.runtime.paths.cache_dir`); their keys hold the
  settings and the code digest, so a variant never reads another's result;
- the DVC cache (``cache.dir`` in the clone's ``.dvc/config.local``): content addressed, and its
  run-cache restores a stage that ran before with the same dependencies and parameters;
- this virtual environment (and the ``pixelsoap`` kernel), with the clone's library first on
  ``PYTHONPATH`` (:func:`pixelsoap.pipeline.clones.clone_env`), and the offline page of
  ``dvc plots show`` (``build/dvc-plots``, :mod:`pixelsoap.pipeline.dvc_plots`).

Its report, figures and executed notebooks stay in the clone (the command prints where); in that
folder ``dvc params diff``, ``dvc metrics diff`` and ``dvc exp show`` compare the variant with HEAD.
Running again with the same name moves the clone to HEAD and resumes (DVC reruns what changed).
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from pixelsoap.pipeline import clones
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import write_bytes
from pixelsoap.runtime.profile_schema import validate_params
from pixelsoap.runtime.profiles import load_profile, profile_path

#: the profile whose results are committed: the only one that runs in the workspace
COMMITTED_PROFILE = "default"
#: the gitignored folder under the project root holding one clone per variant
RUNS_DIR = "runs"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_variant(profile: str | None, overrides: Sequence[str] = (), name: str | None = None) -> bool:
    """Whether a run of ``profile`` with ``overrides`` (or named ``name``) must leave the workspace alone:
    any profile but :data:`COMMITTED_PROFILE`, any override, any name."""
    return (profile not in (None, COMMITTED_PROFILE)) or bool(overrides) or bool(name)


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """``["soap.r_cut=40", ...]`` as ``{"soap.r_cut": 40, ...}`` (values read as YAML: ``40`` is an
    int, ``4.0`` a float, ``[1, 2]`` a list); a ValueError names an item without ``=`` or key."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
            raise ValueError(f"override {item!r}: expected SECTION.KEY=VALUE, e.g. soap.r_cut=40")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def apply_overrides(params: Mapping, overrides: Mapping[str, object]) -> dict:
    """A copy of ``params`` with each dotted key of ``overrides`` set; a ValueError names a key whose
    path does not exist in ``params`` (a typo would otherwise add a key the schema refuses later)."""
    out = copy.deepcopy(dict(params))
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(parts[:depth]) or "the profile"
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "(not a section)"
                raise ValueError(f"override {dotted}={value!r}: {where} has no key {part!r} (it has: {known})")
            if depth == len(parts) - 1:
                node[part] = value
            else:
                node = node[part]
    return out


def variant_name(profile: str, overrides: Mapping[str, object], name: str | None = None) -> str:
    """The folder name of a variant: ``name`` if given, else the profile, with a short digest of the
    overrides when there are any (``default-3f2a9c1e``), so two override sets never share a clone."""
    if name is not None:
        if not _NAME.match(name):
            raise ValueError(f"variant name {name!r}: use letters, digits, '.', '_' and '-' (a folder name)")
        return name
    if not overrides:
        return profile
    text = "\n".join(f"{k}={v!r}" for k, v in sorted(overrides.items()))
    return f"{profile}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def variant_params(profile: str, overrides: Mapping[str, object]) -> bytes:
    """The ``params.yaml`` of a variant: the profile's own text when there is no override (its comments
    kept, so ``dvc params diff`` in the clone shows only what differs), else the overridden profile
    as YAML.  Checked against the profile schema (a ProfileError lists every problem)."""
    source = profile_path(profile)
    params = apply_overrides(load_profile(profile), overrides)
    shown = f"params/{source.name}"
    validate_params(params, source=f"{shown} with {', '.join(f'{k}={v!r}' for k, v in overrides.items())}"
                    if overrides else shown)
    if not overrides:
        return source.read_bytes()
    header = f"# Variant of profile {profile!r} with " + ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    return (header + "\n" + yaml.safe_dump(params, sort_keys=False)).encode()


def variant_env(clone: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a variant's run: :func:`~pixelsoap.pipeline.clones.clone_env` with the
    workspace's data cache shared (``PIXELSOAP_CACHE_DIR``)."""
    env = clones.clone_env(clone, dict(os.environ if base is None else base))
    env["PIXELSOAP_CACHE_DIR"] = str(paths.cache_dir())
    return env


def prepare_variant(root: Path, profile: str, overrides: Mapping[str, object], name: str | None = None) -> Path:
    """Check the variant's parameters, then clone HEAD to ``<root>/runs/<name>/project`` (reused and moved
    to HEAD on a rerun), write its ``params.yaml`` and share the DVC cache; returns the clone."""
    root = Path(root)
    payload = variant_params(profile, overrides)          # every error before any work
    folder = variant_name(profile, overrides, name)
    clone = clones.prepare_clone(root, root / RUNS_DIR / folder, caller=f"variant {folder}")
    write_bytes(clone / "params.yaml", payload)
    plots_page = root / "build" / "dvc-plots"          # the offline `dvc plots show` page (make install)
    if plots_page.is_dir() and not (clone / "build" / "dvc-plots").exists():
        (clone / "build").mkdir(exist_ok=True)
        (clone / "build" / "dvc-plots").symlink_to(plots_page.resolve())
    cache = root / ".dvc" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dvc", "config", "--local", "cache.dir", str(cache.resolve())], cwd=clone, check=True,
                   env=variant_env(clone), capture_output=True, text=True)
    return clone


def run_variant(profile: str, override_items: Sequence[str] = (), name: str | None = None, *,
                root: str | Path | None = None, force: bool = False, stages: Sequence[str] = ()) -> int:
    """Run the pipeline on a variant in its clone (see the module docstring); its exit status.

    A bad override or a profile that breaks the schema ends with status 2 and one line per problem
    before anything is cloned.  ``force``: rerun every stage; ``stages``: only these stages (and
    what they need), as in ``python -m pixelsoap.pipeline.reproduce --stages``.
    """
    root = Path(root or paths.project_root())
    try:
        overrides = parse_overrides(override_items)
        clone = prepare_variant(root, profile, overrides, name)
    except ValueError as exc:  # ProfileError is a ValueError
        print(f"variant {name or profile} refused; nothing run:\n{exc}", file=sys.stderr)
        return 2
    shown = clone.relative_to(root) if clone.is_relative_to(root) else clone
    print(f"variant {shown.parent.name}: running in {shown} (the workspace's results are left as they are)",
          flush=True)
    command = [sys.executable, "-m", "pixelsoap.pipeline.reproduce", "--in-place",
               *(["--force"] if force else []), *(["--stages", *stages] if stages else [])]
    rc = subprocess.run(command, cwd=clone, env=variant_env(clone)).returncode
    print(f"variant {shown.parent.name}: report {shown / 'results' / 'REPORT.md'}, figures {shown / 'figures'}; "
          f"`cd {shown} && dvc metrics diff` compares it with HEAD", flush=True)
    return rc
