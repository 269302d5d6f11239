"""Run profiles: ``params/<name>.yaml`` (smoke, default, paper).

``make reproduce PROFILE=name`` copies the profile to ``params.yaml``, the file
DVC reads; the copy is only rewritten when its content changes, so DVC reruns
exactly the stages whose parameters differ.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from . import paths
from .io import write_bytes

PROFILES = ("smoke", "default", "paper")


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


def load_params(path: str | Path | None = None) -> dict:
    """The active parameters (``params.yaml`` at the project root by default)."""
    path = Path(path) if path else paths.project_root() / "params.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: select a profile first, e.g. "
                                "`make reproduce PROFILE=default` or `python -m pixelsoap.profiles default`")
    return yaml.safe_load(path.read_text())


def select_profile(name: str, target: str | Path | None = None) -> bool:
    """Make ``params.yaml`` a copy of profile ``name``; returns True if it changed."""
    target = Path(target) if target else paths.project_root() / "params.yaml"
    payload = profile_path(name).read_bytes()
    if target.is_file() and target.read_bytes() == payload:
        return False
    write_bytes(target, payload)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Select the active run profile (writes params.yaml).")
    parser.add_argument("profile", help=f"one of {', '.join(PROFILES)} (or any params/<name>.yaml)")
    args = parser.parse_args(argv)
    changed = select_profile(args.profile)
    print(f"profile {args.profile}: params.yaml {'updated' if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
