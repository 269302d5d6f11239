"""Algorithm A1 of the paper (GETBASISGTO): the GTO radial basis parameters.

The radial basis of the paper (Eq. A2) is

    g_nl(r) = sum_k beta[l, n, k] * r**l * exp(-alpha[l, k] * r**2),

a Loewdin-orthonormalised set of ``n_max`` primitive Gaussian-type orbitals per
angular degree ``l``.  This module computes the exponents ``alpha`` and the
orthonormalisation matrix ``beta`` exactly as Algorithm A1 writes them (which is
also what DScribe's ``SOAP.get_basis_gto`` does); it is written from the paper
and does not import DScribe.

Units: ``r_cut`` and every distance are in the units of the point coordinates
(pixels for the MNIST point clouds, Angstrom in DScribe's documentation);
``alpha`` is in 1/length**2, ``beta`` in length**-(l + 3/2) so that
``int_0^inf r**2 g_nl(r) g_n'l(r) dr = delta_nn'``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgWarning, inv, sqrtm
from scipy.special import gamma

#: Value every primitive GTO r**l exp(-alpha r**2) takes at its own radius a_i.
DECAY_THRESHOLD = 1e-3


def gto_decay_radii(r_cut: float, n_max: int) -> np.ndarray:
    """Radii a_i (i = 1..n_max) at which the primitive GTOs decay to the threshold.

    a_i = 1 + (i - 1)(r_cut - 1)/(n_max - 1): ``n_max`` equally spaced radii from
    1 to ``r_cut`` (Algorithm A1, line 4).  For ``n_max == 1`` the printed formula
    divides by zero; we use a = [1], which is what ``numpy.linspace(1, r_cut, 1)``
    (and therefore DScribe) gives.

    Returns a float64 array of shape (n_max,), in length units.
    """
    r_cut, n_max, _ = _check_args(r_cut, n_max, 0)
    if n_max == 1:
        return np.array([1.0])
    # Evaluated as (i - 1) * step + 1 with the last radius set to r_cut exactly:
    # the same rounding as numpy.linspace, so the result is bit-identical to
    # DScribe's (ill-conditioned overlap matrices amplify 1-ulp differences).
    step = (r_cut - 1.0) / (n_max - 1.0)
    a = np.arange(n_max, dtype=np.float64) * step + 1.0
    a[-1] = r_cut
    return a


def _check_args(r_cut, n_max, l_max):
    r_cut = float(r_cut)
    if not np.isfinite(r_cut) or r_cut <= 1.0:
        raise ValueError(
            f"r_cut must be a finite number > 1 for the GTO basis (its decay radii run "
            f"from 1 to r_cut), got r_cut={r_cut!r}")
    if int(n_max) != n_max or n_max < 1:
        raise ValueError(f"n_max must be an integer >= 1, got n_max={n_max!r}")
    if int(l_max) != l_max or l_max < 0:
        raise ValueError(f"l_max must be an integer >= 0, got l_max={l_max!r}")
    return r_cut, int(n_max), int(l_max)


def gto_overlap(alphas_l: np.ndarray, l: int) -> np.ndarray:
    """Overlap matrix S_ij = 0.5 Gamma(l + 3/2) (alpha_i + alpha_j)^-(l + 3/2).

    This is int_0^inf r**2 (r**l e^{-alpha_i r^2}) (r**l e^{-alpha_j r^2}) dr,
    i.e. the overlap of the primitives with the r**2 volume element (Algorithm A1
    line 22).  Note Eqs. A4-A5 of the paper print it without the r**2 (exponent
    (2l+1)/2); the algorithm's l + 3/2 is the one that orthonormalises g_nl in 3D.

    alphas_l: shape (n_max,); returns shape (n_max, n_max).
    """
    a = np.asarray(alphas_l, dtype=np.float64)
    m = a[:, None] + a[None, :]
    return 0.5 * gamma(l + 1.5) * m ** (-(l + 1.5))


def gto_basis(r_cut: float, n_max: int, l_max: int) -> tuple[np.ndarray, np.ndarray]:
    """GTO exponents and Loewdin orthonormalisation factors (Algorithm A1).

    Parameters
    ----------
    r_cut : float
        Radial cutoff (> 1), length units.
    n_max : int
        Number of radial basis functions (>= 1).
    l_max : int
        Maximum angular degree (>= 0).

    Returns
    -------
    alphas : float64 array (l_max + 1, n_max)
        alpha[l, i] = -ln(1e-3 / a_i**l) / a_i**2, in 1/length**2, chosen so that
        a_i**l exp(-alpha[l, i] a_i**2) = 1e-3.
    betas : float64 array (l_max + 1, n_max, n_max)
        betas[l] = sqrtm(inv(S_l)) with S_l the primitive overlap matrix
        (:func:`gto_overlap`).  Index convention (as in DScribe's C++ code):
        ``betas[l, n, k]`` multiplies primitive ``k`` in radial function ``n``,
        g_nl(r) = sum_k betas[l, n, k] r**l exp(-alphas[l, k] r**2).  In exact
        arithmetic betas[l] is symmetric; for ill-conditioned S it is not quite.

    Raises
    ------
    ValueError
        If r_cut <= 1, n_max < 1 or l_max < 0, or if the matrix square root is
        complex (S_l too ill-conditioned: n_max too large for this r_cut).
    """
    r_cut, n_max, l_max = _check_args(r_cut, n_max, l_max)
    a = gto_decay_radii(r_cut, n_max)
    alphas = np.zeros((l_max + 1, n_max), dtype=np.float64)
    betas = np.zeros((l_max + 1, n_max, n_max), dtype=np.float64)
    for l in range(l_max + 1):
        alpha_l = -np.log(DECAY_THRESHOLD / a**l) / a**2
        with warnings.catch_warnings():
            # S_l spans many orders of magnitude (the primitives are not
            # normalised), so LAPACK's rcond estimate is tiny (down to ~1e-32
            # for the paper's r_cut=63, n_max=7, l_max=10) and scipy warns,
            # although the resulting g_nl are orthonormal to ~1e-11 (see
            # tests/test_basis.py).  The warning is a scaling artefact; silence it.
            warnings.simplefilter("ignore", LinAlgWarning)
            beta_l = sqrtm(inv(gto_overlap(alpha_l, l)))
        if np.iscomplexobj(beta_l):
            raise ValueError(
                f"Could not calculate real-valued normalization factors for the GTO "
                f"radial basis (r_cut={r_cut}, n_max={n_max}, l={l}): sqrtm(inv(S)) is "
                f"complex. Lower n_max or increase r_cut.")
        alphas[l] = alpha_l
        betas[l] = beta_l
    return alphas, betas
