"""Optional dependencies: import one, or say which extra of ``pixelsoap`` brings it.

``pip install pixelsoap`` brings only what SOAP spectra and the image conversion need (numpy,
numba, llvmlite, scipy, tqdm, platformdirs).  Everything else belongs to an extra of
``pyproject.toml``; code that needs such a package imports it through :func:`require` at the
place it is used, so ``import pixelsoap`` never loads it and a missing one fails with an
ImportError naming the extra and the command that installs it, never a bare ModuleNotFoundError.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

#: the extras of pyproject.toml and what each is for (named in the error messages)
EXTRAS = {
    "ml": "training and the models (JAX, Keras, Optuna, Dask, scikit-learn)",
    "plots": "the figures (matplotlib, seaborn, pandas)",
    "pipeline": "the pipeline, the report and the notebooks (DVC, papermill, jupytext, pydantic)",
    "dscribe": "DScribe, the reference SOAP engine, and ase.Atoms input",
    "sklearn": "the scikit-learn transformer (SoapTransformer)",
    "gpu": "JAX's CUDA build",
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: ``pip install "pixelsoap[extra]"``."""
    if extra not in EXTRAS:
        raise ValueError(f"extra must be one of {', '.join(sorted(EXTRAS))}, got {extra!r}")
    return f'pip install "pixelsoap[{extra}]"'


def require(module: str, *, extra: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` (dotted names allowed) and return it.

    Raises ImportError naming the module, the extra of ``pixelsoap`` that provides it and the
    install command, when it (or a package it needs) is missing; ``purpose`` (e.g.
    ``"build_classifier"``) says what needed it.  The original error is chained.
    """
    hint = install_hint(extra)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        own = missing == module or module.startswith(missing + ".")
        what = module if own else f"{module} (missing: {missing})"
        needed = f" for {purpose}" if purpose else ""
        raise ImportError(f"{what} is needed{needed} but not installed; it comes with the {extra!r} extra "
                          f"({EXTRAS[extra]}): {hint}", name=missing) from exc


def require_installed(*modules: str, extra: str, purpose: str | None = None) -> None:
    """Check, without importing them, that top-level ``modules`` are installed; else ImportError as :func:`require`.

    For a subpackage whose modules import these at their top (``pixelsoap.plots``: matplotlib), called
    first in its ``__init__``, so the error names the extra before any submodule fails on its own.
    """
    hint = install_hint(extra)
    missing = [name for name in modules if _find_spec(name) is None]
    if missing:
        needed = f" for {purpose}" if purpose else ""
        raise ImportError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} needed{needed} but not "
                          f"installed; {'it comes' if len(missing) == 1 else 'they come'} with the {extra!r} extra "
                          f"({EXTRAS[extra]}): {hint}", name=missing[0])


def _find_spec(name: str):
    """importlib's spec of top-level module ``name``, or None when it is missing (or blocked in sys.modules)."""
    if name in sys.modules:
        return None if sys.modules[name] is None else getattr(sys.modules[name], "__spec__", True)
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
