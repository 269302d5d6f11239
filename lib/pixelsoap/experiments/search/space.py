"""The search space of the Monte-Carlo SOAP search (paper Sec. 4.2.2): four ranges drawn uniformly.

:class:`SearchSpace` holds the ranges of ``r_cut``, ``n_max``, ``l_max`` and ``sigma`` (the
paper's by default), checks them against what SOAP allows, reads them from a profile's
``experiment1.search.space`` section and gives their Optuna distributions.  The search itself
(draws, trials, driver) is :mod:`pixelsoap.experiments.search.monte_carlo`; its study bookkeeping
:mod:`pixelsoap.experiments.search.study`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pixelsoap.experiments.search.trials import PARAMS
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.validation import check_space_range

__all__ = ["SearchSpace"]


@dataclass(frozen=True)
class SearchSpace:
    """The ranges of the four SOAP hyperparameters, each drawn uniformly at random.

    Each range is a pair ``(low, high)`` with ``low <= high`` (bounds included;
    ``low == high`` fixes the parameter).  Defaults are the paper's:
    r_cut in [2, 100], n_max in [2, 11], l_max in [2, 11], sigma in [1, 10].
    ``integer=True`` (default) draws integers for all four; ``integer=False``
    draws r_cut and sigma as floats (n_max and l_max are always integers).
    Limits: r_cut > 1 (DScribe's GTO basis), sigma > 0, n_max in 1..20, l_max in 0..20.
    """

    r_cut: tuple[float, float] = (2, 100)
    n_max: tuple[int, int] = (2, 11)
    l_max: tuple[int, int] = (2, 11)
    sigma: tuple[float, float] = (1, 10)
    integer: bool = True

    def __post_init__(self) -> None:
        # the rules of the profile schema's experiment1.search.space section (pixelsoap.runtime.profile_schema.Space)
        if not isinstance(self.integer, (bool, np.bool_)):
            raise ValueError(f"integer must be true or false, got {self.integer!r}")
        object.__setattr__(self, "integer", bool(self.integer))
        for name in PARAMS:
            object.__setattr__(self, name, check_space_range(getattr(self, name), name, self.integer))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | SearchSpace | None) -> SearchSpace:
        """Build from a dict such as ``params.yaml``'s ``space`` section; missing keys take the paper's ranges.

        Unknown keys are an error (a typo would otherwise search the default range).
        """
        if isinstance(mapping, SearchSpace):
            return mapping
        if mapping is None:
            return cls()
        if not isinstance(mapping, Mapping):
            raise ValueError(f"search space must be a mapping, got {type(mapping).__name__}")
        known = (*PARAMS, "integer")
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise ValueError(f"unknown search-space key(s) {unknown}; expected some of {list(known)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in mapping.items()})

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (ranges as lists), accepted by :meth:`from_mapping`."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def distributions(self) -> dict:
        """The Optuna distributions of the four parameters, in :data:`PARAMS` order."""
        FloatDistribution = require("optuna.distributions", extra="ml").FloatDistribution  # optional (ml extra)
        IntDistribution = require("optuna.distributions", extra="ml").IntDistribution

        out = {}
        for name in PARAMS:
            low, high = getattr(self, name)
            if self.integer or name in ("n_max", "l_max"):
                out[name] = IntDistribution(int(low), int(high))
            else:
                out[name] = FloatDistribution(float(low), float(high))
        return out
