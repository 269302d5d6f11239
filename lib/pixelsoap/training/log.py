"""Training curves for ``dvc plots``: a classifier's per-epoch history written with DVCLive.

:func:`write_history` takes the history :func:`pixelsoap.models.classifier.train_classifier` returns
({metric: [one value per finished epoch]}) and writes it the way DVCLive does, under ``directory``:

- ``plots/metrics/<metric>.tsv``: two tab-separated columns, ``step`` (the epoch, from 0) and
  ``<metric>``, one row per epoch (what ``dvc plots show`` draws; ``dvc.yaml`` declares them);
- ``metrics.json``: the last epoch's values and its ``step``.

Timings (``epoch_seconds``) are left out by default: they differ on every run, and the files are
committed, so a rerun that trains the same model leaves ``git diff`` clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pixelsoap.runtime.extras import require

#: history keys left out by default (wall-clock time per epoch: not reproducible)
TIMING_KEYS = ("epoch_seconds",)


def write_history(history: Mapping[str, Sequence[float]], directory: str | os.PathLike,
                  skip: Iterable[str] = TIMING_KEYS) -> Path:
    """Write ``history`` ({metric: values per epoch}, all of one length) to ``directory`` with DVCLive.

    Earlier DVCLive files in ``directory`` are replaced.  Returns ``directory``.  Raises ValueError
    if the logged metrics have different lengths or there is nothing to log.
    """
    Live = require("dvclive", extra="ml").Live  # optional (ml extra), imported where it is used

    skip = set(skip)
    curves = {name: [float(v) for v in values] for name, values in history.items() if name not in skip}
    lengths = {len(values) for values in curves.values()}
    if not curves or lengths == {0}:
        raise ValueError("empty history: nothing to log")
    if len(lengths) != 1:
        raise ValueError(f"history metrics differ in length: { {k: len(v) for k, v in curves.items()} }")
    directory = Path(directory)
    try:  # DVCLive matches its folder against the repository's paths: relative to the working directory
        shown = os.path.relpath(directory) if directory.is_absolute() and directory.resolve().is_relative_to(
            Path.cwd().resolve()) else str(directory)
    except ValueError:
        shown = str(directory)
    with Live(dir=shown, save_dvc_exp=False, dvcyaml=None, report=None) as live:
        for epoch in range(lengths.pop()):
            for name, values in curves.items():
                live.log_metric(name, values[epoch])
            live.next_step()
    return directory
