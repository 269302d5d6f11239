"""Where things live, so code and notebooks work from any working directory.

Every path is derived from the project root (the folder holding ``dvc.yaml``),
found by walking up from the current directory and then from this file.
The environment variable ``PIXELSOAP_ROOT`` overrides the search, and
``PIXELSOAP_CACHE_DIR`` moves the data cache (MNIST files, partial spectra).
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKER = "dvc.yaml"

#: outputs of the studies run on their own (committed, not pipeline stages), relative to the project
#: root: the long autoencoder run (:mod:`pixelsoap.experiments.experiment2.dynamics`) and the search's
#: ranking ladder (:mod:`pixelsoap.experiments.search.convergence`); the report reads them too
DYNAMICS_SUMMARY = Path("long-runs") / "autoencoder-dynamics" / "dynamics.json"
RANKING_STABILITY = Path("results") / "experiment1" / "ranking_stability.json"


def project_root() -> Path:
    """The project root: ``$PIXELSOAP_ROOT``, else the nearest folder with ``dvc.yaml``.

    Searched from the current directory upwards, then from this file upwards
    (an editable install lives inside the project).  Falls back to the current
    directory when neither finds one (the library used outside the project).
    """
    env = os.environ.get("PIXELSOAP_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / _MARKER).is_file():
                return folder
    return Path.cwd()


def cache_dir() -> Path:
    """The data cache: ``$PIXELSOAP_CACHE_DIR``, else ``<root>/data/cache``."""
    env = os.environ.get("PIXELSOAP_CACHE_DIR")
    return Path(env).resolve() if env else project_root() / "data" / "cache"


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
