"""Experiment 5, beyond the paper (issue 31): do grey levels as density weights keep SOAP's accuracy under rotations?

- :mod:`.benchmark`: the stage (settings, transforms, cached training and scoring, seeds in one group)
- :mod:`.findings`: summaries over seeds, the metrics the report reads, the CSV per transform and encoding
- :mod:`.encodings`: the first sketch, one encoding and one seed (:func:`run_encoding`)
"""

from pixelsoap.experiments.experiment5.encodings import TABLE_COLUMNS, default_transforms, run_encoding

__all__ = ["TABLE_COLUMNS", "default_transforms", "run_encoding"]
