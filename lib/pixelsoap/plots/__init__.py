"""Figures of the paper.  Headless (Agg) matplotlib; every figure saved as PNG and PDF.

Each figure function returns a matplotlib Figure and writes nothing; the
notebooks save them with :func:`save_figure`, under a name that starts with
the paper's figure number (``fig07-projection``), into ``figures/``.  One module per section:

- :mod:`.pipeline` (Fig. 1), :mod:`.theory` (Fig. 2-5), :mod:`.conversion` (Fig. 7), :mod:`.models`
  (model diagrams, training curves, confusion matrices)
- :mod:`.experiment1`, :mod:`.experiment2`, :mod:`.experiment3`, :mod:`.experiment4`, :mod:`.baselines`,
  :mod:`.experiment5`:
  the figures of each experiment's stage
"""

from __future__ import annotations

import os
from pathlib import Path

from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require, require_installed
from pixelsoap.runtime.io import atomic_path

# every module here draws with matplotlib (and seaborn, pandas): name the extra before one of them fails alone
require_installed("matplotlib", "seaborn", "pandas", extra="plots", purpose="pixelsoap.plots")
matplotlib = require("matplotlib", extra="plots")
if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")

FORMATS = ("png", "pdf")


def save_figure(fig, name: str, folder: str | Path | None = None, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``<folder>/<name>.png`` and ``.pdf`` atomically; return the paths.

    ``name`` must start with the paper figure number, e.g. ``fig02b-density``.
    PDFs carry no creation date, so reruns give identical files.
    """
    if not name.startswith("fig"):
        raise ValueError(f"figure name must start with its paper number (fig..), got {name!r}")
    folder = Path(folder) if folder else paths.figures_dir()
    written = []
    for fmt in FORMATS:
        target = folder / f"{name}.{fmt}"
        with atomic_path(target) as tmp:
            metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
        written.append(target)
    return written
