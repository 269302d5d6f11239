"""SOAP spectra of point sets: the descriptor API and the paper's formulas behind it.

- :mod:`.descriptor`: Algorithm 2, :class:`SoapParams` and :func:`soap_spectra` (our engine or DScribe)
- :mod:`.engine`: our engine, Numba kernels whose inner loops are LLVM vector code
- :mod:`.basis`: Algorithm A1, the GTO radial basis
- :mod:`.theory`: Eq. 1, 2, 5, A1, A2 (density, basis functions, power spectrum)
- :mod:`.expansion`: Eq. 4, A7-A9 (the expansion coefficients in closed form and by quadrature)
- :mod:`.symmetry`: invariance of the spectra to rotations, mirroring, translation
- :mod:`.verification`: the paper's formulas checked against DScribe
- :mod:`.sampling`: Algorithm 3, random extraction of centres, splits, the RobustScaler, model inputs
- :mod:`.transformer`: :class:`SoapTransformer`, the scikit-learn transformer (loaded on first use: it
  imports scikit-learn, the ``sklearn`` extra)
"""

from pixelsoap.soap.basis import gto_basis
from pixelsoap.soap.descriptor import (
    R_CUT_RANGE,
    SIGMA_RANGE,
    SoapParams,
    resolve_n_jobs,
    resolve_params,
    soap_spectra,
    soap_spectra_batch,
    soap_spectra_stream,
)
from pixelsoap.soap.sampling import (
    ModelInputs,
    SampledSpectra,
    fit_scaler,
    load_scaler,
    sample_centers,
    sample_spectra,
    save_scaler,
    split_rows,
)

__all__ = ["ModelInputs", "R_CUT_RANGE", "SIGMA_RANGE", "SampledSpectra", "SoapParams", "SoapTransformer", "fit_scaler",
           "gto_basis", "load_scaler", "resolve_n_jobs", "resolve_params", "sample_centers", "sample_spectra",
           "save_scaler", "soap_spectra", "soap_spectra_batch", "soap_spectra_stream", "split_rows"]


def __getattr__(name: str):
    """``SoapTransformer`` on first use: its module imports scikit-learn, which ``import pixelsoap`` must not."""
    if name == "SoapTransformer":
        from pixelsoap.soap.transformer import SoapTransformer  # loads scikit-learn (the sklearn extra)

        return SoapTransformer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
