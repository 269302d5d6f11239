"""Where things live, so code and notebooks work from any working directory.

Every path is derived from the project root (the folder holding ``dvc.yaml``),
found by walking up from the current directory and then from this file.
The environment variable ``PIXELSOAP_ROOT`` overrides the search, and
``PIXELSOAP_CACHE_DIR`` moves the data cache (MNIST files, partial spectra).

Where results and figures are written (:func:`output_root`): the project root when the pipeline
runs a notebook (the runner injects ``outputs = "pipeline"``), and ``<root>/scratch`` (gitignored)
when a notebook is opened by hand, so exploring never rewrites the committed results.  A notebook
passes its ``outputs`` parameter to :func:`use_outputs`; ``PIXELSOAP_OUTPUTS`` holds the choice.
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKER = "dvc.yaml"
#: the environment variable naming where notebooks write (:func:`use_outputs`), its values, and the
#: gitignored folder of the ``scratch`` choice
OUTPUTS_ENV = "PIXELSOAP_OUTPUTS"
OUTPUTS = ("pipeline", "scratch")
SCRATCH = "scratch"

#: outputs of the studies run on their own (committed, not pipeline stages), relative to the project
#: root: the long autoencoder run (:mod:`pixelsoap.experiments.experiment2.dynamics`) and the search's
#: ranking ladder (:mod:`pixelsoap.experiments.search.convergence`); the report reads them too
DYNAMICS_SUMMARY = Path("results") / "experiment2" / "dynamics.json"
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


def pipeline_results_dir() -> Path:
    """``<root>/results`` whatever :func:`output_root` says: where a notebook reads what other stages
    and the committed studies wrote (the search's trials, the long autoencoder run)."""
    return project_root() / "results"


def figures_dir() -> Path:
    """``<output root>/figures``: every paper figure as PNG and PDF (:func:`output_root`)."""
    return output_root() / "figures"


def output_root() -> Path:
    """Where figures and results are written: ``<root>/scratch`` when ``PIXELSOAP_OUTPUTS`` is
    ``scratch`` (a notebook opened by hand), else the project root (the pipeline, scripts, tests)."""
    return project_root() / SCRATCH if os.environ.get(OUTPUTS_ENV) == "scratch" else project_root()


def use_outputs(where: str) -> Path:
    """Make :func:`results_dir` and :func:`figures_dir` write to the pipeline's folders (``"pipeline"``)
    or to ``<root>/scratch`` (``"scratch"``, the default of a notebook opened by hand); returns the
    output root.  A ValueError names any other value."""
    if where not in OUTPUTS:
        raise ValueError(f"outputs = {where!r}: expected one of {', '.join(map(repr, OUTPUTS))}")
    os.environ[OUTPUTS_ENV] = where
    return output_root()


def results_dir() -> Path:
    """``<output root>/results``: metrics JSON, tables and executed notebooks (:func:`output_root`)."""
    return output_root() / "results"


def output_data_dir() -> Path:
    """``<output root>/data``: where a notebook saves data it makes (Experiment 1's classifiers); the
    pipeline's :func:`data_dir` in the pipeline, under ``scratch/`` by hand (:func:`output_root`)."""
    return output_root() / "data"


def data_dir() -> Path:
    """``<root>/data``: stage outputs holding data (sampled spectra, scalers)."""
    return project_root() / "data"
