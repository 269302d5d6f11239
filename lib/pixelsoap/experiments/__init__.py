"""One module or subpackage per pipeline stage that has code, named as the stage (``dvc.yaml``).

- :mod:`.spectra` (stage ``spectra``): the sampled-spectra data set the experiments share
- :mod:`.search` (stage ``search``): Experiment 1's Monte-Carlo search of the SOAP parameters
- :mod:`.experiment1`: the classifier, Table 1 and the paper's findings; images classified pixel by pixel
- :mod:`.experiment2`: compression (PCA, autoencoders, classifiers on the codes) and the long autoencoder run
- :mod:`.experiment3`: robustness to positional noise and the protocol's readings
- :mod:`.experiment4`: the invariance benchmark (beyond the paper)
- :mod:`.baselines`: chance, a raw-pixel window, the image-wise split (beyond the paper)
- :mod:`.experiment5`: grey levels as density weights under Experiment 4's transforms (beyond the paper)

Notebook stages import these from ``notebooks/NN-<stage>.py``; ``python -m
pixelsoap.experiments.spectra`` and ``python -m pixelsoap.experiments.search`` run the two stages
without a notebook.  Nothing is re-exported here; each stage's package re-exports the few names
that other layers (plots, pipeline) use.
"""

from pixelsoap.runtime.extras import require_installed

# the stages train models and tabulate with pandas: name the extra before one of their modules fails alone
require_installed("pandas", "yaml", "pydantic", "keras", "jax", "optuna", "sklearn", extra="ml",
                  purpose="pixelsoap.experiments")
