"""Experiment 1 (stage ``experiment1``): the classifier at the search's best parameters.

- :mod:`.classifier`: the classifier, Table 1 and the paper's findings checked
- :mod:`.pixelwise`: whole images classified pixel by pixel (Fig. 11-12)
"""

from pixelsoap.experiments.experiment1.pixelwise import (
    PixelPredictions,
    accuracy_by_distance,
    centroid_distances,
    predict_images,
)

__all__ = ["PixelPredictions", "accuracy_by_distance", "centroid_distances", "predict_images"]
