"""Where things live, so code and notebooks work from any working directory.

The project root is this project's checkout: a folder holding ``dvc.yaml`` next to
``lib/pixelsoap`` (another project's ``dvc.yaml`` does not count), found by walking up from the
current directory, else from this file (an editable install lives inside the checkout).  The
environment variable ``PIXELSOAP_ROOT`` overrides the search.

The data cache (MNIST files, partial spectra, job caches) is, in this order:
``$PIXELSOAP_CACHE_DIR``; ``<root>/data/cache`` when ``PIXELSOAP_ROOT`` is set or the current
directory lies inside the checkout (the pipeline, the tests, the notebooks); else the per-user cache
directory (``platformdirs.user_cache_dir("pixelsoap")``, e.g. ``~/.cache/pixelsoap`` on Linux), so the
library used from anywhere else never writes into the working directory or into another project.
Figures and results have no such fallback: outside a checkout their folders are an error naming
the fix (pass a folder, or set ``PIXELSOAP_ROOT``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_MARKER = "dvc.yaml"
#: the package folder that, next to ``dvc.yaml``, marks this project's checkout
_PACKAGE = Path("lib") / "pixelsoap" / "__init__.py"
ROOT_ENV = "PIXELSOAP_ROOT"
CACHE_ENV = "PIXELSOAP_CACHE_DIR"
APP_NAME = "pixelsoap"

#: outputs of the studies run on their own (committed, not pipeline stages), relative to the project
#: root: the long autoencoder run (:mod:`pixelsoap.experiments.experiment2.dynamics`) and the search's
#: ranking ladder (:mod:`pixelsoap.experiments.search.convergence`); the report reads them too
DYNAMICS_SUMMARY = Path("results") / "experiment2" / "dynamics.json"
RANKING_STABILITY = Path("results") / "experiment1" / "ranking_stability.json"


def is_checkout(folder: str | os.PathLike) -> bool:
    """True when ``folder`` is this project's checkout: ``dvc.yaml`` beside ``lib/pixelsoap/__init__.py``."""
    folder = Path(folder)
    return (folder / _MARKER).is_file() and (folder / _PACKAGE).is_file()


def checkout_root(start: str | os.PathLike | None = None) -> Path | None:
    """The checkout holding ``start`` (default: the current directory), or None when it lies in none."""
    start = Path(start if start is not None else Path.cwd()).resolve()
    return next((folder for folder in (start, *start.parents) if is_checkout(folder)), None)


def project_root() -> Path:
    """The project root: ``$PIXELSOAP_ROOT``, else the checkout around the current directory, else around this file.

    Raises FileNotFoundError, naming where it looked and the fix, when none is found (the library
    installed from a wheel and used outside a checkout): figures, results and profiles have no home there.
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    root = checkout_root() or checkout_root(Path(__file__).resolve().parent)
    if root is None:
        raise FileNotFoundError(
            f"no pixelsoap checkout (a folder with {_MARKER} next to {_PACKAGE.parent}) around the current "
            f"directory {Path.cwd()} or the installed library; run inside a checkout, set {ROOT_ENV}, or pass "
            "the output folder explicitly")
    return root


def user_cache_dir() -> Path:
    """The per-user cache directory of pixelsoap (``platformdirs``; ``$XDG_CACHE_HOME/pixelsoap`` on Linux)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """The data cache: ``$PIXELSOAP_CACHE_DIR``, else ``<root>/data/cache`` inside the project, else the user cache.

    Inside the project means ``$PIXELSOAP_ROOT`` is set or the current directory lies in this
    project's checkout (:func:`checkout_root`), as for the pipeline, the tests and the notebooks.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).resolve()
    if os.environ.get(ROOT_ENV):
        return project_root() / "data" / "cache"
    root = checkout_root()
    return root / "data" / "cache" if root is not None else user_cache_dir()


def mnist_cache_dir() -> Path:
    """Folder holding the four verified, uncompressed MNIST IDX files."""
    return cache_dir() / "mnist"


def figures_dir() -> Path:
    """``<root>/figures``: every paper figure as PNG and PDF."""
    return project_root() / "figures"


def results_dir() -> Path:
    """``<root>/results``: metrics JSON, tables and executed notebooks."""
    return project_root() / "results"


def data_dir() -> Path:
    """``<root>/data``: stage outputs holding data (sampled spectra, scalers)."""
    return project_root() / "data"
