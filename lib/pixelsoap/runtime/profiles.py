"""Run profiles: ``params/<name>.yaml`` (smoke, default, paper).

``make reproduce PROFILE=name`` copies the profile to ``params.yaml``, the file
DVC reads; the copy is only rewritten when its content changes, so DVC reruns
exactly the stages whose parameters differ.  The profile is first checked against
the schema (:mod:`pixelsoap.runtime.profile_schema`): a broken one is refused before any
stage runs, and ``params.yaml`` is left as it was.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.io import write_bytes
from pixelsoap.runtime.profile_schema import ProfileError, validate_params

# optional (pipeline extra): an ImportError names the extra when it is missing
yaml = require("yaml", extra="pipeline")

PROFILES = ("smoke", "default", "paper", "fashion-smoke", "fashion")


def profile_path(name: str) -> Path:
    """``<root>/params/<name>.yaml``; a ValueError names unknown profiles."""
    path = paths.project_root() / "params" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ValueError(f"unknown profile {name!r}: no {path} (known: {', '.join(known)})")
    return path


def load_profile(name: str) -> dict:
    """The parameters of profile ``name`` as a dict."""
    return yaml.safe_load(profile_path(name).read_text())


def load_params(path: str | Path | None = None, sections: list[str] | None = None) -> dict:
    """The active parameters (``params.yaml`` at the project root by default), checked against the schema.

    ``sections`` limits the check to those top-level sections (and ``seed``); a
    :class:`~pixelsoap.runtime.profile_schema.ProfileError` lists every problem found.
    """
    path = Path(path) if path else paths.project_root() / "params.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: select a profile first, e.g. "
                                "`make reproduce PROFILE=default` or `python -m pixelsoap.runtime.profiles default`")
    params = yaml.safe_load(path.read_text())
    validate_params(params, source=_shown(path), sections=sections)
    return params


def active_params(sections: list[str] | None = None) -> dict:
    """The parameters a notebook opened by hand runs on: ``params.yaml`` (the profile last selected)
    if there is one, else the ``default`` profile; checked against the schema either way.

    ``sections``: check only those (and ``seed``, ``dataset``): a notebook checks the sections it
    reads, as its stage's runner does, so a broken section it does not read cannot stop it.
    """
    path = paths.project_root() / "params.yaml"
    if path.is_file():
        return load_params(path, sections=sections)
    params = load_profile("default")
    validate_params(params, source=_shown(profile_path("default")), sections=sections)
    return params


def load_stage_params(path: str | Path | None, sections: list[str], stage: str) -> dict:
    """:func:`load_params` for a stage's command line: a profile that breaks the schema ends the
    process with status 2 and one line per problem on stderr (no traceback), before any work."""
    try:
        return load_params(path, sections=sections)
    except ProfileError as exc:
        print(f"stage {stage}: not run, the profile breaks the schema:\n{exc}", file=sys.stderr)
        sys.exit(2)


def _shown(path: Path) -> str:
    """``path`` relative to the project root where it lies inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(paths.project_root().resolve()))
    except ValueError:
        return str(path)


def select_profile(name: str, target: str | Path | None = None) -> bool:
    """Make ``params.yaml`` a copy of profile ``name``; returns True if it changed.

    A ``params.yaml`` that is a copy of no profile in ``params/`` was edited by hand: it is kept as
    ``params.yaml.edited-<UTC time>`` beside it (said on stderr) before it is overwritten.
    Raises :class:`~pixelsoap.runtime.profile_schema.ProfileError` (nothing written) if the profile breaks the schema.
    """
    target = Path(target) if target else paths.project_root() / "params.yaml"
    source = profile_path(name)
    payload = source.read_bytes()
    validate_params(yaml.safe_load(payload), source=_shown(source))
    if target.is_file():
        current = target.read_bytes()
        if current == payload:
            return False
        if all(current != p.read_bytes() for p in source.parent.glob("*.yaml")):
            backup = target.with_name(f"{target.name}.edited-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            write_bytes(backup, current)
            print(f"{_shown(target)} was edited by hand (it matches no profile in params/): kept as {backup.name}; "
                  f"to run an edited profile, save it as params/<name>.yaml and select that", file=sys.stderr)
    write_bytes(target, payload)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Select the active run profile (writes params.yaml).")
    parser.add_argument("profile", help=f"one of {', '.join(PROFILES)} (or any params/<name>.yaml)")
    args = parser.parse_args(argv)
    try:
        changed = select_profile(args.profile)
    except ProfileError as exc:
        print(f"profile {args.profile} refused; params.yaml not written:\n{exc}", file=sys.stderr)
        sys.exit(2)
    print(f"profile {args.profile}: params.yaml {'updated' if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
