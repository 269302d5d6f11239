"""A clone of the committed project that runs the pipeline on its own: shared by the doubled-budget
check (:mod:`pixelsoap.pipeline.budget_check`) and ``make verify`` (:mod:`pixelsoap.pipeline.verify`).

:func:`prepare_clone` checks out the committed HEAD of a project into ``<workdir>/project`` (git,
no work-tree changes: what a fresh clone gets); the clone has its own DVC cache (``.dvc/cache`` is
not under git) and its own data cache (``data/cache``), and shares the MNIST download, which is
verified by checksum wherever it lives.  :func:`clone_env` is the environment its stages run in:
the clone's library first on ``PYTHONPATH``, this interpreter's folder first on ``PATH`` (the
stages call ``python``, ``dvc`` and the notebook kernel from the current virtual environment),
``PIXELSOAP_ROOT`` naming the clone, and without ``PIXELSOAP_CACHE_DIR``, which would point the
clone's stages at this project's caches.  :func:`run_reproduce` runs ``python -m pixelsoap.pipeline.reproduce``
there, so Ctrl-C and resuming work as in ``make reproduce``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: environment variables that would point a clone's stages at another project's root or caches
FOREIGN_LOCATIONS = ("PIXELSOAP_ROOT", "PIXELSOAP_CACHE_DIR")


def git(*args: str, cwd: Path) -> str:
    """``git <args>`` in ``cwd``; its stripped standard output (a failure raises CalledProcessError)."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def prepare_clone(root: Path, workdir: Path, caller: str = "clone") -> Path:
    """A clone of ``root``'s HEAD at ``workdir/project`` (reused and moved to HEAD on a rerun).

    ``caller`` names the command in the note printed when ``root`` has uncommitted changes
    (they are not part of the clone).
    """
    root, workdir = Path(root), Path(workdir)
    if git("status", "--porcelain", "--untracked-files=no", cwd=root):
        print(f"{caller}: note: uncommitted changes are not part of the run (it runs the committed HEAD)",
              file=sys.stderr)
    head = git("rev-parse", "HEAD", cwd=root)
    clone = workdir / "project"
    if not (clone / ".git").exists():
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(root), str(clone)], check=True)
    git("fetch", "--quiet", str(root), head, cwd=clone)
    git("checkout", "--quiet", "--force", "--detach", head, cwd=clone)
    mnist = clone / "data" / "cache" / "mnist"
    if not mnist.exists():
        mnist.parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / "cache" / "mnist").mkdir(parents=True, exist_ok=True)
        mnist.symlink_to((root / "data" / "cache" / "mnist").resolve())
    return clone


def clone_env(clone: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a run in ``clone`` (see the module docstring), from ``base`` (default ``os.environ``)."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in FOREIGN_LOCATIONS}
    bin_dir = str(Path(sys.executable).parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(clone) / "lib"), env.get("PYTHONPATH")) if p)
    env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH")) if p)
    env["PIXELSOAP_ROOT"] = str(Path(clone).resolve())   # the clone is the project its stages run in
    return env


def run_reproduce(clone: Path, profile: str, force: bool = False) -> int:
    """``python -m pixelsoap.pipeline.reproduce <profile>`` in ``clone`` (``--force``: rerun every stage); its exit
    status.

    ``--in-place``: the clone itself runs the profile (it is the throwaway copy), not a clone of it."""
    command = [sys.executable, "-m", "pixelsoap.pipeline.reproduce", profile, "--in-place",
               *(["--force"] if force else [])]
    return subprocess.run(command, cwd=clone, env=clone_env(clone)).returncode
