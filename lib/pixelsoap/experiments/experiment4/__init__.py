"""Experiment 4 (stage ``experiment4``, beyond the paper): the invariance benchmark.

- :mod:`.invariance`: the benchmark (transforms, models, caches)
- :mod:`.image_classification`: whole images classified from their spectra
- :mod:`.findings`: the findings and the price of invariance
"""
