"""The SOAP theory of Section 3.1 and Appendix A, written out in numpy.

Everything here is vectorised float64 / complex128 numpy and follows the paper's
notation:

* :func:`density` -- Eq. 1 (= Eq. A6), the Gaussian-smeared point density;
* :func:`gto_radial` -- Eq. A2, the orthonormal GTO radial functions g_nl(r) with
  the Algorithm A1 exponents and Loewdin factors (:mod:`pixelsoap.soap.basis`);
* :func:`spherical_harmonic` -- Eq. A1, complex Y_lm with the Condon-Shortley phase;
* :func:`spatial_basis` -- Eq. 2, Phi_nlm = g_nl(r) Y_lm(theta, phi);
* Eq. 4's expansion coefficients c_nlm, in closed form (Eqs. A7-A9) and by quadrature:
  :mod:`pixelsoap.soap.expansion`;
* :func:`power_spectrum` -- Eq. 5 in DScribe's feature order;
* :func:`descriptor_size` -- n_max (n_max + 1) / 2 * (l_max + 1).

Conventions
-----------
Coordinates are relative to the reference point ("center") r_o; lengths are in the
units of the points (pixels in this project).  Coefficient arrays have shape
(n_max, l_max + 1, 2 l_max + 1); ``c[n, l, m + l_max]`` holds c_nlm, and entries
with |m| > l are zero.  Eq. 4 is taken literally, c_nlm = int rho Phi_nlm d^3r
(no complex conjugate on Phi).  Using conj(Phi) instead conjugates every c_nlm;
the power spectrum (Eq. 5) is the same either way, and equals DScribe's.

Relation to DScribe (checked in tests/test_theory.py)
----------------------------------------------------
DScribe (2.1) computes the same integral with *real* spherical harmonics, which
are a unitary recombination of the complex ones within each l, so the power
spectrum sum_m conj(c_nlm) c_n'lm is identical.  DScribe's sigma is the sigma_p
of Eq. 1 (its Gaussians are unnormalised, exp(-d^2 / (2 sigma^2))), its prefactor
is pi sqrt(8/(2l+1)) as in Eq. 5, and it includes *every* point within
r_cut + sigma sqrt(-2 ln 1e-3) of the center, the center point itself included
(it contributes to l = 0 only).  Points farther away are dropped, whereas Eq. A7
sums over all points: pass ``neighbour_cutoff=dscribe_neighbour_cutoff(r_cut,
sigma)`` to reproduce DScribe exactly.  r_cut enters nowhere else: it only sets
the GTO exponents, and the basis functions are not truncated at r_cut.
"""


from __future__ import annotations

import math

import numpy as np
from scipy.special import sph_harm_y

from pixelsoap.soap.basis import DECAY_THRESHOLD, gto_basis

__all__ = [
    "density",
    "gto_radial",
    "spherical_harmonic",
    "spatial_basis",
    "power_spectrum",
    "power_spectrum_labels",
    "descriptor_size",
    "dscribe_neighbour_cutoff",
]


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def as_xyz(xyz) -> np.ndarray:
    arr = np.asarray(xyz, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"expected Cartesian points with a last axis of size 3, got shape {arr.shape}")
    return arr


def as_points(points) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {np.shape(points)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("points hold NaN or infinite values")
    return arr


def check_sigma(sigma) -> float:
    s = float(sigma)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    return s


def check_lm(l, m):
    if int(l) != l or l < 0:
        raise ValueError(f"l must be an integer >= 0, got {l!r}")
    if int(m) != m or abs(m) > l:
        raise ValueError(f"m must be an integer with |m| <= l = {l}, got {m!r}")
    return int(l), int(m)


def dscribe_neighbour_cutoff(r_cut: float, sigma: float) -> float:
    """The distance within which DScribe includes points: r_cut + sigma sqrt(-2 ln 1e-3).

    DScribe pads r_cut so that a Gaussian of width sigma has decayed to 1e-3 at
    the padding distance (``SOAP.get_cutoff_padding``); neighbours with
    distance <= this value (center point included) enter the density.
    """
    return float(r_cut) + check_sigma(sigma) * math.sqrt(-2.0 * math.log(DECAY_THRESHOLD))


# ----------------------------------------------------------------------------
# Eq. 1: density
# ----------------------------------------------------------------------------
def density(r, points, sigma: float) -> np.ndarray:
    """Gaussian-smeared density ``rho(r) = sum_i exp(-|r - R_i|^2 / (2 sigma^2))`` (Eq. 1).

    Parameters
    ----------
    r : array (..., 3)
        Where to evaluate, same frame and units as ``points``.
    points : array (N, 3)
        The point positions R_i (N may be 0: the density is then 0).
    sigma : float
        Gaussian width sigma_p (> 0), length units.

    Returns
    -------
    float64 array (...): the density (unnormalised Gaussians, so each point
    contributes 1 at its own position).
    """
    r = as_xyz(r)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    s = check_sigma(sigma)
    out = np.zeros(r.shape[:-1], dtype=np.float64)
    inv = 1.0 / (2.0 * s * s)
    for p in pts:  # N is small in every use here; this keeps memory at one grid
        d2 = np.sum((r - p) ** 2, axis=-1)
        out += np.exp(-d2 * inv)
    return out


# ----------------------------------------------------------------------------
# Eq. A2: radial basis
# ----------------------------------------------------------------------------
def gto_radial(r, r_cut: float, n_max: int, l_max: int) -> np.ndarray:
    """Orthonormal GTO radial functions g_nl(r) (Eq. A2 with Algorithm A1).

    g_nl(r) = sum_k beta[l, n, k] r^l exp(-alpha[l, k] r^2), with ``alpha, beta =
    basis.gto_basis(r_cut, n_max, l_max)``.  ``beta[l, n, k]`` is used with the
    *first* matrix index selecting the radial function n and the second the
    primitive k, as in DScribe's C++ (``betas[l*n_max^2 + n*n_max + k]``).  (The
    paper writes beta_{l b n} with the primitive b first; beta is symmetric up to
    round-off, which matters only for ill-conditioned bases.)

    Parameters
    ----------
    r : array of any shape
        Radii (>= 0), length units.
    r_cut, n_max, l_max : basis parameters.

    Returns
    -------
    float64 array (l_max + 1, n_max, *r.shape); ``out[l, n]`` is g_nl(r), in
    length^-3/2, normalised so that int_0^inf r^2 g_nl g_n'l dr = delta_nn'.
    """
    r = np.asarray(r, dtype=np.float64)
    alphas, betas = gto_basis(r_cut, n_max, l_max)
    flat = r.reshape(-1)
    r2 = flat * flat
    out = np.empty((alphas.shape[0], alphas.shape[1], flat.size), dtype=np.float64)
    for l in range(alphas.shape[0]):
        prim = flat[None, :] ** l * np.exp(-alphas[l][:, None] * r2[None, :])  # (k, points)
        out[l] = betas[l] @ prim
    return out.reshape(alphas.shape + r.shape)


# ----------------------------------------------------------------------------
# Eq. A1: spherical harmonics
# ----------------------------------------------------------------------------
def _angles(xyz):
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    r = np.sqrt(x * x + y * y + z * z)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_t = np.where(r > 0, z / np.where(r > 0, r, 1.0), 1.0)
    theta = np.arccos(np.clip(cos_t, -1.0, 1.0))
    phi = np.arctan2(y, x)
    return r, theta, phi


def spherical_harmonic(l: int, m: int, xyz) -> np.ndarray:
    """Complex spherical harmonic Y_lm at the direction of Cartesian points (Eq. A1).

    Y_lm(theta, phi) = (-1)^m sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!) P_l^m(cos theta) e^{i m phi}
    with the Condon-Shortley phase (-1)^m counted once (P_l^m here is the
    Legendre function *without* that phase), theta = arccos(z / r) the polar and
    phi = arctan2(y, x) the azimuthal angle.  Y_{l,-m} = (-1)^m conj(Y_lm).
    Evaluated with ``scipy.special.sph_harm_y(l, m, theta, phi)`` (polar first).

    Y depends on direction only, so Y(a xyz) = Y(xyz) for a > 0 (Eq. 3).  At the
    origin the direction is undefined; we use theta = 0, phi = 0 (the +z
    direction): Y_l0(0) = sqrt((2l+1)/(4 pi)), Y_lm(0) = 0 for m != 0.  In
    Phi_nlm = g_nl Y_lm this never matters for l > 0, where g_nl(0) = 0.

    Parameters
    ----------
    l, m : int, 0 <= l, ``|m| <= l``
    xyz : array (..., 3)

    Returns
    -------
    complex128 array (...).
    """
    l, m = check_lm(l, m)
    xyz = as_xyz(xyz)
    _, theta, phi = _angles(xyz)
    return np.asarray(sph_harm_y(l, m, theta, phi), dtype=np.complex128)


def spatial_basis(xyz, n: int, l: int, m: int, r_cut: float, n_max: int, l_max: int) -> np.ndarray:
    """Spatial basis function Phi_nlm(x, y, z) = g_nl(r) Y_lm(theta, phi) (Eq. 2).

    Parameters
    ----------
    xyz : array (..., 3)
        Points relative to the reference point, length units.
    n : int, 0 <= n < n_max (0-based, so the paper's Phi_053 is n=0, l=5, m=3)
    l, m : int, 0 <= l <= l_max, ``|m| <= l``
    r_cut, n_max, l_max : parameters of the GTO basis (g_nl depends on all three
        through the Loewdin orthonormalisation of Algorithm A1).

    Returns
    -------
    complex128 array (...).
    """
    l, m = check_lm(l, m)
    if not 0 <= l <= l_max:
        raise ValueError(f"l={l} must be in 0..l_max={l_max}")
    if int(n) != n or not 0 <= n < n_max:
        raise ValueError(f"n={n!r} must be an integer in 0..n_max-1={n_max - 1}")
    xyz = as_xyz(xyz)
    r = np.sqrt(np.sum(xyz * xyz, axis=-1))
    alphas, betas = gto_basis(r_cut, n_max, l)  # only degrees 0..l are needed
    g = (betas[l, int(n)][:, None] * (r.reshape(-1)[None, :] ** l)
         * np.exp(-alphas[l][:, None] * (r.reshape(-1) ** 2)[None, :])).sum(axis=0)
    return g.reshape(r.shape) * spherical_harmonic(l, m, xyz)


# ----------------------------------------------------------------------------
# Eq. 5: power spectrum
# ----------------------------------------------------------------------------
def descriptor_size(n_max: int, l_max: int) -> int:
    """Length of the one-species power spectrum: n_max (n_max + 1) / 2 * (l_max + 1)."""
    n_max, l_max = int(n_max), int(l_max)
    if n_max < 1 or l_max < 0:
        raise ValueError(f"need n_max >= 1 and l_max >= 0, got n_max={n_max}, l_max={l_max}")
    return n_max * (n_max + 1) // 2 * (l_max + 1)


def power_spectrum_labels(n_max: int, l_max: int) -> list[tuple[int, int, int]]:
    """(n, n', l) of each feature of :func:`power_spectrum`, in DScribe's order.

    DScribe (``getPD`` in soapGTO.cpp) loops l outermost, then n, then n' >= n:
    [(0,0,0), (0,1,0), ..., (n_max-1,n_max-1,0), (0,0,1), ...].  0-based indices.
    """
    return [(n, n2, l) for l in range(int(l_max) + 1)
            for n in range(int(n_max)) for n2 in range(n, int(n_max))]


def power_spectrum(coeffs) -> np.ndarray:
    """SOAP power spectrum P_nn'l = pi sqrt(8/(2l+1)) sum_m conj(c_nlm) c_n'lm (Eq. 5).

    Parameters
    ----------
    coeffs : complex array (..., n_max, l_max + 1, 2 l_max + 1)
        ``coeffs[..., n, l, m + l_max]`` = c_nlm (entries with ``|m| > l`` must be 0),
        e.g. from :func:`pixelsoap.soap.expansion.coefficients_closed_form`.

    Returns
    -------
    float64 array (..., n_max (n_max + 1) / 2 * (l_max + 1)) in DScribe's feature
    order for one species: l outermost, then n, then n' >= n (see
    :func:`power_spectrum_labels`).  For coefficients of a real density the sum
    is real (the m and -m terms are complex conjugates); the real part is
    returned.
    """
    c = np.asarray(coeffs)
    if c.ndim < 3 or c.shape[-1] != 2 * c.shape[-2] - 1:
        raise ValueError(f"coeffs must have shape (..., n_max, l_max+1, 2*l_max+1), got {c.shape}")
    n_max, L = c.shape[-3], c.shape[-2]
    l = np.arange(L)
    pref = np.pi * np.sqrt(8.0 / (2.0 * l + 1.0))                           # (L,)
    P = np.einsum("...alm,...blm->...lab", np.conj(c), c).real              # (..., L, n, n')
    P = P * pref[:, None, None]
    iu, ju = np.triu_indices(n_max)
    return P[..., iu, ju].reshape(c.shape[:-3] + (L * len(iu),))
