"""Experiment 4 (stage ``experiment4``, beyond the paper): the invariance benchmark.

- :mod:`.invariance`: the benchmark (transforms, models, caches)
- :mod:`.image_classification`: whole images classified from their spectra
- :mod:`.findings`: the findings and the price of invariance
"""

from pixelsoap.experiments.experiment4.findings import summarise
from pixelsoap.experiments.experiment4.invariance import parse_section, plan_transforms

__all__ = ["parse_section", "plan_transforms", "summarise"]
