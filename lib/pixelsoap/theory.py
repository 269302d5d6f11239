"""The SOAP theory of Section 3.1 and Appendix A, written out in numpy.

Everything here is vectorised float64 / complex128 numpy and follows the paper's
notation:

* :func:`density` -- Eq. 1 (= Eq. A6), the Gaussian-smeared point density;
* :func:`gto_radial` -- Eq. A2, the orthonormal GTO radial functions g_nl(r) with
  the Algorithm A1 exponents and Loewdin factors (:mod:`pixelsoap.basis`);
* :func:`spherical_harmonic` -- Eq. A1, complex Y_lm with the Condon-Shortley phase;
* :func:`spatial_basis` -- Eq. 2, Phi_nlm = g_nl(r) Y_lm(theta, phi);
* :func:`coefficients_closed_form` -- Eqs. A7-A9, the closed-form c_nlm;
* :func:`coefficients_numerical` -- Eq. 4 integrated on a quadrature grid;
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
from scipy.special import rgamma, sph_harm_y

from .basis import DECAY_THRESHOLD, gto_basis

__all__ = [
    "density",
    "gto_radial",
    "spherical_harmonic",
    "spatial_basis",
    "legendre_xi",
    "legendre_xi_printed",
    "legendre_lambda",
    "solid_harmonic",
    "coefficients_closed_form",
    "coefficients_numerical",
    "power_spectrum",
    "power_spectrum_labels",
    "descriptor_size",
    "dscribe_neighbour_cutoff",
]


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def _as_xyz(xyz) -> np.ndarray:
    arr = np.asarray(xyz, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"expected Cartesian points with a last axis of size 3, got shape {arr.shape}")
    return arr


def _as_points(points) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {np.shape(points)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("points hold NaN or infinite values")
    return arr


def _check_sigma(sigma) -> float:
    s = float(sigma)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    return s


def _check_lm(l, m):
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
    return float(r_cut) + _check_sigma(sigma) * math.sqrt(-2.0 * math.log(DECAY_THRESHOLD))


# ----------------------------------------------------------------------------
# Eq. 1: density
# ----------------------------------------------------------------------------
def density(r, points, sigma: float) -> np.ndarray:
    """Gaussian-smeared density rho(r) = sum_i exp(-|r - R_i|^2 / (2 sigma^2)) (Eq. 1).

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
    r = _as_xyz(r)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    s = _check_sigma(sigma)
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
    l, m : int, 0 <= l, |m| <= l
    xyz : array (..., 3)

    Returns
    -------
    complex128 array (...).
    """
    l, m = _check_lm(l, m)
    xyz = _as_xyz(xyz)
    _, theta, phi = _angles(xyz)
    return np.asarray(sph_harm_y(l, m, theta, phi), dtype=np.complex128)


def spatial_basis(xyz, n: int, l: int, m: int, r_cut: float, n_max: int, l_max: int) -> np.ndarray:
    """Spatial basis function Phi_nlm(x, y, z) = g_nl(r) Y_lm(theta, phi) (Eq. 2).

    Parameters
    ----------
    xyz : array (..., 3)
        Points relative to the reference point, length units.
    n : int, 0 <= n < n_max (0-based, so the paper's Phi_053 is n=0, l=5, m=3)
    l, m : int, 0 <= l <= l_max, |m| <= l
    r_cut, n_max, l_max : parameters of the GTO basis (g_nl depends on all three
        through the Loewdin orthonormalisation of Algorithm A1).

    Returns
    -------
    complex128 array (...).
    """
    l, m = _check_lm(l, m)
    if not 0 <= l <= l_max:
        raise ValueError(f"l={l} must be in 0..l_max={l_max}")
    if int(n) != n or not 0 <= n < n_max:
        raise ValueError(f"n={n!r} must be an integer in 0..n_max-1={n_max - 1}")
    xyz = _as_xyz(xyz)
    r = np.sqrt(np.sum(xyz * xyz, axis=-1))
    alphas, betas = gto_basis(r_cut, n_max, l)  # only degrees 0..l are needed
    g = (betas[l, int(n)][:, None] * (r.reshape(-1)[None, :] ** l)
         * np.exp(-alphas[l][:, None] * (r.reshape(-1) ** 2)[None, :])).sum(axis=0)
    return g.reshape(r.shape) * spherical_harmonic(l, m, xyz)


# ----------------------------------------------------------------------------
# Eqs. A7-A9: closed-form coefficients
# ----------------------------------------------------------------------------
def legendre_lambda(l: int, m: int) -> float:
    """lambda_lm = 2^l sqrt((2l+1)(l-m)! / (4 pi (l+m)!)) (Eq. A8, as printed), m >= 0."""
    l, m = _check_lm(l, m)
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
    l, m = _check_lm(l, m)
    xyz = _as_xyz(xyz)
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
        If given, only points with |R_p - center| <= neighbour_cutoff enter.

    Returns
    -------
    complex128 array (n_max, l_max + 1, 2 l_max + 1); ``c[n, l, m + l_max]``.
    """
    pts = _as_points(points)
    ctr = np.asarray(center, dtype=np.float64).reshape(3)
    s = _check_sigma(sigma)
    alphas, betas = gto_basis(r_cut, n_max, l_max)
    n_max, l_max = int(n_max), int(l_max)
    rel = pts - ctr
    R2 = np.sum(rel * rel, axis=1)
    if neighbour_cutoff is not None:
        keep = R2 <= float(neighbour_cutoff) ** 2
        rel, R2 = rel[keep], R2[keep]
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
        Outer radius of the radial integral; default max_p |R_p| + 10 sigma, where
        the density has fallen below exp(-50).

    Returns
    -------
    complex128 array (n_max, l_max + 1, 2 l_max + 1); ``c[n, l, m + l_max]``.
    """
    pts = _as_points(points)
    ctr = np.asarray(center, dtype=np.float64).reshape(3)
    s = _check_sigma(sigma)
    n_max, l_max = int(n_max), int(l_max)
    rel = pts - ctr
    if neighbour_cutoff is not None:
        rel = rel[np.sum(rel * rel, axis=1) <= float(neighbour_cutoff) ** 2]
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
        ``coeffs[..., n, l, m + l_max]`` = c_nlm (entries with |m| > l must be 0),
        e.g. from :func:`coefficients_closed_form`.

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
