"""Experiment 3 (stage ``experiment3``): robustness to positional noise.

- :mod:`.robustness`: noise levels, accuracy per level and seed, findings
- :mod:`.readings`: the protocol's readings (a)-(d), with :mod:`.reading_jobs`
"""

from pixelsoap.experiments.experiment3.robustness import findings, parse_section, run_levels, summarise

__all__ = ["findings", "parse_section", "run_levels", "summarise"]
