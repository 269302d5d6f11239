"""Checks of the paper's formulas against DScribe, shown in the SOAP notebook and tested."""

from __future__ import annotations

import warnings

import numpy as np

from pixelsoap.runtime.extras import require
from pixelsoap.soap.basis import gto_basis
from pixelsoap.soap.descriptor import SoapParams, descriptor, soap_spectra
from pixelsoap.soap.expansion import coefficients_closed_form
from pixelsoap.soap.theory import dscribe_neighbour_cutoff, power_spectrum

# optional (plots extra): an ImportError names the extra when it is missing
pd = require("pandas", extra="plots")


def basis_check(parameter_sets: list[tuple[float, int, int]]):
    """Algorithm A1 (ours) against DScribe's GTO basis, one row per (r_cut, n_max, l_max).

    Returns a DataFrame with the largest absolute and relative differences of
    alphas and betas.  sigma does not enter the basis; 1.0 is used to build DScribe's.
    """
    rows = []
    for r_cut, n_max, l_max in parameter_sets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alphas, betas = gto_basis(r_cut, n_max, l_max)
        ref = descriptor(SoapParams(r_cut, n_max, l_max, 1.0))
        rows.append({"r_cut": r_cut, "n_max": n_max, "l_max": l_max,
                     "alpha_max_abs_diff": np.abs(alphas - ref._alphas).max(),
                     "alpha_max_rel_diff": (np.abs(alphas - ref._alphas) / np.abs(ref._alphas)).max(),
                     "beta_max_abs_diff": np.abs(betas - ref._betas).max(),
                     "beta_max_rel_diff": np.abs(betas - ref._betas).max() / np.abs(ref._betas).max()})
    return pd.DataFrame(rows)


def closed_form_check(points: np.ndarray, params: SoapParams, centers: list[int] | None = None,
                      engine: str = "dscribe"):
    """Eq. 5 built from the closed-form coefficients (Eq. A7) against DScribe's spectra (or ``engine``'s).

    DScribe includes every point within r_cut + sigma sqrt(2 ln 1000) of the
    center, so the closed form is summed over the same points.
    points : (N, 3); returns a DataFrame with, per center, the largest absolute
    difference and that difference relative to the largest feature.
    """
    centers = list(range(len(points))) if centers is None else list(centers)
    reference = soap_spectra(points, params, centers, engine=engine)
    rows = []
    for k, ref in zip(centers, reference):
        coeffs = coefficients_closed_form(points, points[k], params.sigma, params.r_cut, params.n_max,
                                          params.l_max,
                                          neighbour_cutoff=dscribe_neighbour_cutoff(params.r_cut, params.sigma))
        ours = power_spectrum(coeffs)
        rows.append({"center": k, "max_abs_diff": np.abs(ours - ref).max(),
                     "max_rel_diff": np.abs(ours - ref).max() / np.abs(ref).max()})
    return pd.DataFrame(rows)
