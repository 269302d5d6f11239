"""Eq. 4's expansion coefficients c_nlm of the SOAP density (Section 3.1, Appendix A), in numpy.

* :func:`coefficients_closed_form` -- Eqs. A7-A9, the closed-form c_nlm, with its pieces
  :func:`legendre_lambda` (Eq. A8), :func:`legendre_xi` (Eq. A9, parity corrected),
  :func:`legendre_xi_printed` (Eq. A9 as printed) and :func:`solid_harmonic`;
* :func:`coefficients_numerical` -- Eq. 4 integrated on a quadrature grid.

The conventions are those of :mod:`pixelsoap.soap.theory`: coordinates relative to the center r_o, in the
units of the points (pixels); coefficient arrays of shape (n_max, l_max + 1, 2 l_max + 1) with
``c[n, l, m + l_max]`` = c_nlm (zero where |m| > l); Eq. 4 taken literally (no conjugate on Phi_nlm).
:func:`pixelsoap.soap.theory.power_spectrum` turns them into Eq. 5's spectrum, and
:func:`pixelsoap.soap.theory.dscribe_neighbour_cutoff` gives the cutoff that reproduces DScribe's.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import rgamma

from pixelsoap.soap.basis import gto_basis
from pixelsoap.soap.theory import as_points, as_xyz, check_lm, check_sigma, density, gto_radial, spherical_harmonic

__all__ = [
    "legendre_xi",
    "legendre_xi_printed",
    "legendre_lambda",
    "solid_harmonic",
    "coefficients_closed_form",
    "coefficients_numerical",
]


# ----------------------------------------------------------------------------
# Eqs. A7-A9: closed-form coefficients
# ----------------------------------------------------------------------------
def legendre_lambda(l: int, m: int) -> float:
    """lambda_lm = 2^l sqrt((2l+1)(l-m)! / (4 pi (l+m)!)) (Eq. A8, as printed), m >= 0."""
    l, m = check_lm(l, m)
    return 2.0 ** l * math.sqrt((2 * l + 1) / (4 * math.pi)
                                * math.exp(math.lgamma(l - m + 1) - math.lgamma(l + m + 1)))


def legendre_xi(l: int, m: int, k: int) -> float:
    """xi_lmk of Eq. A9, in the integer form used by :func:`coefficients_closed_form`.

    xi_lmk = C(l, k) k!/(k-m)! C((l+k-1)/2, l), i.e. 2^-l k!/(k-m)! times the
    coefficient of x^k in the Legendre polynomial P_l(x):

        xi_lmk = (-1)^((l-k)/2) C(l, (l-k)/2) C(l+k, l) k! / ((k-m)! 4^l)   if l+k is even,
        xi_lmk = 0                                                          if l+k is odd.

    This is the printed Eq. A9 with its factorials read as Gamma functions
    (x! = Gamma(x+1); see :func:`legendre_xi_printed`), but it vanishes for l+k
    *odd*: the printed rule "when l + k = even, xi_lmk = 0" has the parity
    reversed (P_l has parity (-1)^l, so only powers x^k with k = l mod 2 occur).
    Valid for 0 <= m <= k <= l; 0 outside that range.
    """
    if not (0 <= m <= k <= l) or (l + k) % 2:
        return 0.0
    j = (l - k) // 2
    return ((-1) ** j * math.comb(l, j) * math.comb(l + k, l)
            * math.factorial(k) / (math.factorial(k - m) * 4 ** l))


def legendre_xi_printed(l: int, m: int, k: int) -> float:
    """Eq. A9 evaluated literally, with x! = Gamma(x + 1) and 1/(negative integer)! = 0.

    xi_lmk = ((l+k-1)/2)! / ((k-m)! (l-k)! ((l+k-1)/2 - l)!).  The last factorial
    has a negative argument: a pole of Gamma (so xi = 0) when l+k is odd, a
    finite Gamma of a negative half-integer when l+k is even.  Kept to show
    (tests) that the printed formula agrees with :func:`legendre_xi`, while its
    accompanying parity rule does not.
    """
    if not (0 <= m <= k <= l):
        return 0.0
    a = (l + k - 1) / 2.0
    return float(math.gamma(a + 1) / (math.factorial(k - m) * math.factorial(l - k)) * rgamma(a - l + 1))


def solid_harmonic(l: int, m: int, xyz) -> np.ndarray:
    """Regular solid harmonic R^l Y_lm(R-hat) as the polynomial used in Eq. A7.

    R^l Y_lm = lambda_lm (-1)^m (x + i y)^m sum_{k=m}^{l} xi_lmk z^(k-m) R^(l-k)  (m >= 0),
    and R^l Y_{l,-m} = (-1)^m conj(R^l Y_lm).  Eq. A7 prints the radial part as
    R^(l-m) sum_k xi z^(k-m) R^(m-k); we write it as R^(l-k), which is the same
    for R > 0 and also finite (0, or 1 for l = 0) at R = 0, the center point.

    xyz : array (..., 3); returns complex128 array (...).
    """
    l, m = check_lm(l, m)
    xyz = as_xyz(xyz)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    R = np.sqrt(x * x + y * y + z * z)
    am = abs(m)
    poly = np.zeros(R.shape, dtype=np.float64)
    for k in range(am, l + 1):
        xi = legendre_xi(l, am, k)
        if xi:
            poly = poly + xi * z ** (k - am) * R ** (l - k)
    val = legendre_lambda(l, am) * (-1) ** am * (x + 1j * y) ** am * poly
    if m < 0:
        val = (-1) ** am * np.conj(val)
    return val


def _relative_points(points, center, neighbour_cutoff: float | None) -> np.ndarray:
    """(p, 3) float64 positions R_p - center of the points within ``neighbour_cutoff`` (all if None)."""
    rel = as_points(points) - np.asarray(center, dtype=np.float64).reshape(3)
    if neighbour_cutoff is not None:
        rel = rel[np.sum(rel * rel, axis=1) <= float(neighbour_cutoff) ** 2]
    return rel


def coefficients_closed_form(points, center, sigma: float, r_cut: float, n_max: int, l_max: int,
                             *, neighbour_cutoff: float | None = None) -> np.ndarray:
    """Closed-form expansion coefficients c_nlm (Eq. A7 with Eqs. A8-A9).

    c_nlm = lambda_lm (-1)^m (2 pi sigma^2)^(3/2) sum_b beta[l, n, b] (1 + 2 alpha_lb sigma^2)^-(l+3/2)
            sum_p exp(-alpha_lb R_p^2 / (1 + 2 alpha_lb sigma^2)) (x_p + i y_p)^m
            sum_{k=m}^{l} xi_lmk z_p^(k-m) R_p^(l-k)

    for m >= 0, with (x_p, y_p, z_p) = point p minus the center and R_p its length;
    negative m follow from c_{n,l,-m} = (-1)^m conj(c_nlm) (a real density and
    Y_{l,-m} = (-1)^m conj(Y_lm)).  This is the exact value of Eq. 4, the integral
    of rho * Phi_nlm over all space.

    Departures from the printed formulas (all derived in the module tests):

    * Eq. A9 / parity rule: xi_lmk vanishes for l + k **odd**, not even.  The
      printed factorial expression itself is right if (half-)integer factorials
      are read as Gamma functions -- its ((l+k-1)/2 - l)! has a negative
      argument, a Gamma pole exactly when l + k is odd -- and we use its
      equivalent integer form (:func:`legendre_xi`).  Applying the printed
      rule literally would keep only the zero terms and make every c_nlm 0.
    * R_p^(l-m) ... R_p^(m-k) is written R_p^(l-k) (identical for R_p > 0, finite
      at the center point R_p = 0, which contributes to l = 0 only).
    * beta is indexed beta[l, n, b] (function n, primitive b) as in DScribe;
      the paper writes beta_{lbn}.  They agree up to round-off (beta symmetric).
    * The (-1)^m of A7 together with lambda_lm is the Condon-Shortley phase of
      Eq. A1 counted once (A1's P_l^m must be read without the phase).  Phases
      do not change the power spectrum.
    * Eq. A7 sums over *all* points.  DScribe keeps only points within
      r_cut + sigma sqrt(-2 ln 1e-3) of the center; set ``neighbour_cutoff`` to
      that (:func:`dscribe_neighbour_cutoff`) to reproduce it.

    Parameters
    ----------
    points : array (N, 3)
        Point positions (may include the center point itself).
    center : array (3,)
        The reference point r_o.
    sigma : float
        Gaussian width sigma_p (> 0).
    r_cut, n_max, l_max : GTO basis parameters (Algorithm A1).
    neighbour_cutoff : float or None
        If given, only points with ``|R_p - center| <= neighbour_cutoff`` enter.

    Returns
    -------
    complex128 array (n_max, l_max + 1, 2 l_max + 1); ``c[n, l, m + l_max]``.
    """
    s = check_sigma(sigma)
    alphas, betas = gto_basis(r_cut, n_max, l_max)
    n_max, l_max = int(n_max), int(l_max)
    rel = _relative_points(points, center, neighbour_cutoff)
    R2 = np.sum(rel * rel, axis=1)
    c = np.zeros((n_max, l_max + 1, 2 * l_max + 1), dtype=np.complex128)
    if rel.shape[0] == 0:
        return c
    pref = (2.0 * math.pi * s * s) ** 1.5
    for l in range(l_max + 1):
        q = 1.0 + 2.0 * alphas[l] * s * s                              # (b,)
        radial = q[:, None] ** (-(l + 1.5)) * np.exp(-(alphas[l] / q)[:, None] * R2[None, :])  # (b, p)
        solid = np.stack([solid_harmonic(l, m, rel) for m in range(0, l + 1)])  # (m, p), m >= 0
        # sum over points, then over primitives b with beta[l, n, b]
        prim = radial @ solid.T                                        # (b, m)
        cl = pref * (betas[l] @ prim)                                  # (n, m)
        c[:, l, l_max:l_max + l + 1] = cl
        for m in range(1, l + 1):
            c[:, l, l_max - m] = (-1) ** m * np.conj(cl[:, m])
    return c


# ----------------------------------------------------------------------------
# Eq. 4 by quadrature
# ----------------------------------------------------------------------------
def coefficients_numerical(points, center, sigma: float, r_cut: float, n_max: int, l_max: int,
                           *, n_radial: int = 160, n_theta: int = 96, n_phi: int = 192,
                           r_max: float | None = None,
                           neighbour_cutoff: float | None = None) -> np.ndarray:
    """Expansion coefficients by direct numerical integration of Eq. 4.

    c_nlm = int_{R^3} rho(r) Phi_nlm(r) d^3r = int_0^r_max r^2 g_nl(r) [int rho(r, Omega) Y_lm(Omega) dOmega] dr

    (literal Eq. 4, no conjugate on Phi; same convention as
    :func:`coefficients_closed_form`).  The product grid is Gauss-Legendre in r on
    [0, r_max] (``n_radial`` nodes), Gauss-Legendre in cos(theta) (``n_theta``)
    and the trapezoidal rule in phi (``n_phi`` equally spaced nodes, exact for
    trigonometric polynomials of degree < n_phi).  The defaults integrate
    degree-~190 angular structure, enough for Gaussians of width sigma >= 0.5 at
    distances <= ~10 sigma from the center to ~1e-10 relative accuracy; raise
    them for sharper densities.  Cost ~ n_radial*n_theta*n_phi*N exponentials.

    Parameters
    ----------
    points, center, sigma, r_cut, n_max, l_max, neighbour_cutoff :
        as :func:`coefficients_closed_form`.
    r_max : float or None
        Outer radius of the radial integral; default ``max_p |R_p| + 10 sigma``, where
        the density has fallen below exp(-50).

    Returns
    -------
    complex128 array (n_max, l_max + 1, 2 l_max + 1); ``c[n, l, m + l_max]``.
    """
    s = check_sigma(sigma)
    n_max, l_max = int(n_max), int(l_max)
    rel = _relative_points(points, center, neighbour_cutoff)
    c = np.zeros((n_max, l_max + 1, 2 * l_max + 1), dtype=np.complex128)
    if rel.shape[0] == 0:
        return c
    if r_max is None:
        r_max = float(np.sqrt(np.max(np.sum(rel * rel, axis=1)))) + 10.0 * s
    # radial nodes
    xr, wr = np.polynomial.legendre.leggauss(int(n_radial))
    r = 0.5 * r_max * (xr + 1.0)
    wr = 0.5 * r_max * wr
    # angular nodes
    ct, wt = np.polynomial.legendre.leggauss(int(n_theta))
    phi = 2.0 * np.pi * np.arange(int(n_phi)) / int(n_phi)
    wphi = 2.0 * np.pi / int(n_phi)
    st = np.sqrt(1.0 - ct * ct)
    dirs = np.stack([np.outer(st, np.cos(phi)), np.outer(st, np.sin(phi)),
                     np.outer(ct, np.ones_like(phi))], axis=-1).reshape(-1, 3)   # (A, 3)
    wang = np.repeat(wt * wphi, int(n_phi))                                         # (A,)
    # rho on the grid: (n_radial, A)
    grid = r[:, None, None] * dirs[None, :, :]
    rho = density(grid, rel, s)
    # angular projections A_lm(r) = sum_A w_A rho(r, A) Y_lm(A)
    lm = [(l, m) for l in range(l_max + 1) for m in range(-l, l + 1)]
    Y = np.stack([spherical_harmonic(l, m, dirs) for l, m in lm], axis=1)         # (A, L)
    proj = rho @ (wang[:, None] * Y)                                                # (n_radial, L)
    g = gto_radial(r, r_cut, n_max, l_max)                                          # (l, n, n_radial)
    rw = wr * r * r
    for j, (l, m) in enumerate(lm):
        c[:, l, m + l_max] = g[l] @ (rw * proj[:, j])
    return c
