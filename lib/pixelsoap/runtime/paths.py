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

Where results and figures are written (:func:`output_root`): the project root when the pipeline
runs a notebook (the runner injects ``outputs = "pipeline"``), and ``<root>/scratch`` (gitignored)
when a notebook is opened by hand, so exploring never rewrites the committed results.  A notebook
passes its ``outputs`` parameter to :func:`use_outputs`; ``PIXELSOAP_OUTPUTS`` holds the choice.
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
#: the environment variable naming where notebooks write (:func:`use_outputs`), its values, and the
#: gitignored folder of the ``scratch`` choice
OUTPUTS_ENV = "PIXELSOAP_OUTPUTS"
OUTPUTS = ("pipeline", "scratch")
SCRATCH = "scratch"

#: outputs of the studies run on their own (committed, not pipeline stages), relative to the project
#: root: the long autoencoder runs (:mod:`pixelsoap.experiments.experiment2.dynamics`: h_e 16 and 100, and
#: h_e 150 and 199 near the paper's line) and the search's ranking ladder
#: (:mod:`pixelsoap.experiments.search.convergence`); the report reads them too
DYNAMICS_SUMMARY = Path("long-runs") / "autoencoder-dynamics" / "dynamics.json"
DYNAMICS_NEAR_200 = Path("long-runs") / "autoencoder-dynamics-near-200" / "dynamics.json"
RANKING_STABILITY = Path("results") / "experiment1" / "ranking_stability.json"


def is_checkout(folder: str | os.PathLike) -> bool:
    """True when ``folder`` is this project's checkout: ``dvc.yaml`` beside ``lib/pixelsoap/__init__.py``."""
    folder = Path(folder)
    return (folder / _MARKER).is_file() and (folder / _PACKAGE).is_file()


def checkout_root(start: str | os.PathLike | None = None) -> Path | None:
    """The checkout holding ``start`` (default: the current directory), or None when it lies in none."""
    start = Path(start if start is not None else Path.cwd()).resolve()
    return next((folder for folder in (start, *start.parents) if is_checkout(folder)), None)


def _dvc_project_around_cwd() -> Path | None:
    start = Path.cwd().resolve()
    return next((folder for folder in (start, *start.parents) if (folder / _MARKER).is_file()), None)


def project_root() -> Path:
    """The project root: ``$PIXELSOAP_ROOT``, else the checkout around the current directory, else around this file.

    Raises FileNotFoundError, naming where it looked and the fix, when none is found (the library
    installed from a wheel and used outside a checkout): figures, results and profiles have no home there.
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    root = checkout_root()
    if root is None:
        foreign = _dvc_project_around_cwd()
        if foreign is not None:   # never fall back to the installed checkout from inside another DVC project
            raise FileNotFoundError(
                f"the current directory lies in the DVC project {foreign}, which is not a pixelsoap checkout (no "
                f"{_PACKAGE.parent} beside its {_MARKER}); set {ROOT_ENV}={foreign} to run pixelsoap's pipeline "
                "there, or run inside a pixelsoap checkout")
        root = checkout_root(Path(__file__).resolve().parent)
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
