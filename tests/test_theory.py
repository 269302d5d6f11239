"""The theory of Sec. 3.1 / Appendix A (pixelsoap.soap.theory, pixelsoap.soap.expansion) against
quadrature and DScribe."""

import math
import warnings

import numpy as np
import pytest

from pixelsoap.soap import expansion as C
from pixelsoap.soap import theory as T

ase = pytest.importorskip("ase")
dscribe_soap = pytest.importorskip("dscribe.descriptors").SOAP

# Small point set, z >= 1 as in the MNIST point clouds.
POINTS = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [2.5, -1.0, 3.0],
                   [-1.5, 2.0, 2.2], [0.3, -2.2, 1.4]])


def _dscribe(points, centers, sigma, r_cut, n_max, l_max):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soap = dscribe_soap(species=["H"], r_cut=r_cut, n_max=n_max, l_max=l_max,
                            sigma=sigma, rbf="gto", periodic=False)
        atoms = ase.Atoms(f"H{len(points)}", positions=points)
        return soap.create(atoms, centers=centers), soap.get_number_of_features()


def _assert_close_features(ours, ref, rtol=1e-8):
    """Relative agreement with an absolute floor of rtol * max|feature|."""
    floor = rtol * np.abs(ref).max()
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=floor)


def _sphere_rule(n_theta=40, n_phi=80):
    ct, wt = np.polynomial.legendre.leggauss(n_theta)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    st = np.sqrt(1 - ct**2)
    dirs = np.stack([np.outer(st, np.cos(phi)), np.outer(st, np.sin(phi)),
                     np.outer(ct, np.ones(n_phi))], axis=-1).reshape(-1, 3)
    return dirs, np.repeat(wt * 2 * np.pi / n_phi, n_phi)


def _random_orthogonal(seed, reflect):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    if reflect:
        q = q @ np.diag([1.0, 1.0, -1.0])
    return q


# --------------------------------------------------------------------- Eq. 1
def test_density_values_and_shape():
    pts = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])  # Fig. 2b
    sigma = 0.5
    r = np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 1.0], [3.0, -2.0, 0.0]])
    d = T.density(r, pts, sigma)
    manual = [sum(math.exp(-sum((a - b) ** 2 for a, b in zip(x, p)) / (2 * sigma**2)) for p in pts)
              for x in r]
    np.testing.assert_allclose(d, manual, rtol=1e-14)
    # at P1: 1 from itself plus exp(-2 / (2 * 0.25)) = exp(-4) from P2
    np.testing.assert_allclose(d[0], 1 + math.exp(-4), rtol=1e-14)
    grid = np.zeros((4, 5, 3))
    assert T.density(grid, pts, sigma).shape == (4, 5)
    assert np.all(T.density(grid, np.empty((0, 3)), sigma) == 0)
    with pytest.raises(ValueError):
        T.density(r, pts, 0.0)


def test_density_integrates_to_gaussian_volume():
    # int rho d^3r = N (2 pi sigma^2)^(3/2), on a fine Cartesian grid
    pts = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    sigma = 0.5
    x = np.linspace(-4, 5, 91)
    h = x[1] - x[0]
    grid = np.stack(np.meshgrid(x, x, x - 0.5, indexing="ij"), axis=-1)
    total = T.density(grid, pts, sigma).sum() * h**3
    np.testing.assert_allclose(total, 2 * (2 * np.pi * sigma**2) ** 1.5, rtol=1e-9)


# -------------------------------------------------------------- Eq. A1, Eq. 3
def test_spherical_harmonics_known_values():
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(50, 3))
    r = np.linalg.norm(xyz, axis=1)
    th = np.arccos(xyz[:, 2] / r)
    ph = np.arctan2(xyz[:, 1], xyz[:, 0])
    np.testing.assert_allclose(T.spherical_harmonic(0, 0, xyz), 0.5 / np.sqrt(np.pi), rtol=1e-14)
    np.testing.assert_allclose(T.spherical_harmonic(1, 0, xyz), np.sqrt(3 / (4 * np.pi)) * np.cos(th),
                               rtol=1e-12, atol=1e-15)
    # Condon-Shortley phase: Y_11 = -sqrt(3/(8 pi)) sin(theta) e^{i phi}
    np.testing.assert_allclose(T.spherical_harmonic(1, 1, xyz),
                               -np.sqrt(3 / (8 * np.pi)) * np.sin(th) * np.exp(1j * ph), rtol=1e-12)
    # Y_53 (Figs. 3, 5, 6): -(1/32) sqrt(385/pi) sin^3 (9 cos^2 - 1) e^{3 i phi}
    y53 = -np.sqrt(385 / np.pi) / 32 * np.sin(th) ** 3 * (9 * np.cos(th) ** 2 - 1) * np.exp(3j * ph)
    np.testing.assert_allclose(T.spherical_harmonic(5, 3, xyz), y53, rtol=1e-10, atol=1e-14)
    # Y_{l,-m} = (-1)^m conj(Y_lm)
    np.testing.assert_allclose(T.spherical_harmonic(5, -3, xyz), -np.conj(y53), rtol=1e-10, atol=1e-14)
    # Eq. 3: scale invariance
    np.testing.assert_allclose(T.spherical_harmonic(4, 2, 3.7 * xyz), T.spherical_harmonic(4, 2, xyz),
                               rtol=1e-13, atol=1e-15)
    # origin: the +z direction by convention
    origin = np.zeros(3)
    np.testing.assert_allclose(T.spherical_harmonic(2, 0, origin), np.sqrt(5 / (4 * np.pi)))
    assert T.spherical_harmonic(2, 1, origin) == 0
    with pytest.raises(ValueError):
        T.spherical_harmonic(2, 3, xyz)


def test_spherical_harmonics_orthonormal():
    dirs, w = _sphere_rule()
    lm = [(l, m) for l in range(7) for m in range(-l, l + 1)]
    Y = np.stack([T.spherical_harmonic(l, m, dirs) for l, m in lm])
    gram = (np.conj(Y) * w) @ Y.T
    np.testing.assert_allclose(gram, np.eye(len(lm)), atol=1e-12)


def test_spatial_basis_is_radial_times_angular():
    rng = np.random.default_rng(1)
    xyz = rng.normal(scale=3.0, size=(7, 4, 3))
    r = np.linalg.norm(xyz, axis=-1)
    phi = T.spatial_basis(xyz, 0, 5, 3, 10, 7, 10)  # Phi_053 of Fig. 3
    g = T.gto_radial(r, 10, 7, 10)[5, 0]
    assert phi.shape == (7, 4)
    np.testing.assert_allclose(phi, g * T.spherical_harmonic(5, 3, xyz), rtol=1e-12, atol=1e-300)
    with pytest.raises(ValueError):
        T.spatial_basis(xyz, 7, 5, 3, 10, 7, 10)


# ----------------------------------------------------------- Eqs. A7 to A9
def test_xi_printed_formula_and_reversed_parity_rule():
    for l in range(11):
        for m in range(l + 1):
            for k in range(m, l + 1):
                printed = C.legendre_xi_printed(l, m, k)
                ours = C.legendre_xi(l, m, k)
                if (l + k) % 2:  # printed A9 (Gamma functions) vanishes for l + k ODD
                    assert printed == 0 and ours == 0
                else:  # ... and is non-zero for l + k EVEN, against the printed rule
                    assert ours != 0
                    np.testing.assert_allclose(printed, ours, rtol=1e-12)


def test_solid_harmonic_equals_r_l_times_y():
    rng = np.random.default_rng(2)
    xyz = rng.normal(scale=2.0, size=(40, 3))
    r = np.linalg.norm(xyz, axis=1)
    for l in range(11):
        for m in range(-l, l + 1):
            np.testing.assert_allclose(C.solid_harmonic(l, m, xyz), r**l * T.spherical_harmonic(l, m, xyz),
                                       rtol=1e-9, atol=1e-9 * r.max() ** l)
    # the center point (R = 0) contributes to l = 0 only
    assert C.solid_harmonic(0, 0, np.zeros(3)) == pytest.approx(0.5 / np.sqrt(np.pi))
    assert C.solid_harmonic(3, 1, np.zeros(3)) == 0


@pytest.mark.parametrize("center_index,sigma,n_max,l_max", [(0, 0.5, 4, 4), (2, 1.0, 3, 3)])
def test_closed_form_equals_numerical_integration(center_index, sigma, n_max, l_max):
    """Eq. A7 against Eq. 4 on a 100 x 64 x 128 product grid: agreement to 1e-9 of max|c|."""
    center = POINTS[center_index]
    closed = C.coefficients_closed_form(POINTS, center, sigma, 10, n_max, l_max)
    numeric = C.coefficients_numerical(POINTS, center, sigma, 10, n_max, l_max,
                                       n_radial=100, n_theta=64, n_phi=128)
    assert closed.shape == (n_max, l_max + 1, 2 * l_max + 1)
    scale = np.abs(closed).max()
    assert np.abs(closed[:, 1:]).max() > 1e-3 * scale  # non-trivial angular content
    np.testing.assert_allclose(numeric, closed, rtol=0, atol=1e-9 * scale)
    # entries with |m| > l stay zero
    for l in range(l_max + 1):
        assert np.all(closed[:, l, : l_max - l] == 0) and np.all(closed[:, l, l_max + l + 1:] == 0)


# ------------------------------------------------------------------ Eq. 5
@pytest.mark.parametrize("sigma,r_cut,n_max,l_max", [
    (0.5, 10, 4, 4), (1.0, 10, 3, 3), (0.7, 10, 5, 10), (3.0, 63, 7, 10)])
def test_power_spectrum_equals_dscribe(sigma, r_cut, n_max, l_max):
    ref, n_features = _dscribe(POINTS, list(range(len(POINTS))), sigma, r_cut, n_max, l_max)
    assert n_features == T.descriptor_size(n_max, l_max)
    ours = np.stack([T.power_spectrum(C.coefficients_closed_form(POINTS, p, sigma, r_cut, n_max, l_max))
                     for p in POINTS])
    assert ours.shape == ref.shape == (len(POINTS), n_features)
    _assert_close_features(ours, ref)


def test_power_spectrum_of_numerical_coefficients_equals_dscribe():
    ref, _ = _dscribe(POINTS, [1], 0.8, 10, 3, 4)
    c = C.coefficients_numerical(POINTS, POINTS[1], 0.8, 10, 3, 4, n_radial=100, n_theta=64, n_phi=128)
    _assert_close_features(T.power_spectrum(c), ref[0])
    # Eq. 4 with conj(Phi) instead of Phi conjugates c and leaves P unchanged
    np.testing.assert_allclose(T.power_spectrum(np.conj(c)), T.power_spectrum(c), rtol=1e-12)


def test_power_spectrum_at_a_cartesian_center():
    center = [0.4, 0.1, 2.0]  # not one of the points
    ref, _ = _dscribe(POINTS, [center], 1.0, 10, 4, 6)
    _assert_close_features(T.power_spectrum(C.coefficients_closed_form(POINTS, center, 1.0, 10, 4, 6)), ref[0])


def test_dscribe_drops_points_beyond_padded_cutoff():
    # r_cut = 3, sigma = 2: DScribe keeps points within 3 + 2 sqrt(2 ln 1000) = 10.43
    pts = np.array([[0, 0, 1.0], [1, 1, 1], [0, 0, 12.0], [0.5, 0.2, 1.3]])
    ref, _ = _dscribe(pts, [0], 2.0, 3, 3, 3)
    cut = T.dscribe_neighbour_cutoff(3, 2.0)
    assert cut == pytest.approx(3 + 2 * math.sqrt(2 * math.log(1000)))
    with_cut = T.power_spectrum(C.coefficients_closed_form(pts, pts[0], 2.0, 3, 3, 3, neighbour_cutoff=cut))
    all_points = T.power_spectrum(C.coefficients_closed_form(pts, pts[0], 2.0, 3, 3, 3))
    _assert_close_features(with_cut, ref[0])
    assert np.abs(all_points - ref[0]).max() > 1e-7 * np.abs(ref).max()  # Eq. A7 keeps the far point


def test_center_point_is_included_like_dscribe():
    ref, _ = _dscribe(POINTS, [0], 1.0, 10, 3, 3)
    without_center = T.power_spectrum(C.coefficients_closed_form(POINTS[1:], POINTS[0], 1.0, 10, 3, 3))
    assert np.abs(without_center - ref[0]).max() > 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize("reflect", [False, True])
def test_power_spectrum_rotation_and_mirror_invariant(reflect):
    q = _random_orthogonal(3, reflect)
    center = POINTS[1]
    moved = (POINTS - center) @ q.T + np.array([5.0, -3.0, 2.0])
    c0 = C.coefficients_closed_form(POINTS, center, 0.7, 10, 4, 6)
    c1 = C.coefficients_closed_form(moved, moved[1], 0.7, 10, 4, 6)
    assert np.abs(c1 - c0).max() > 1e-2 * np.abs(c0).max()  # coefficients do change
    p0, p1 = T.power_spectrum(c0), T.power_spectrum(c1)
    np.testing.assert_allclose(p1, p0, rtol=1e-10, atol=1e-12 * np.abs(p0).max())


def test_power_spectrum_layout():
    assert T.descriptor_size(7, 10) == 308
    labels = T.power_spectrum_labels(3, 1)
    assert labels[:7] == [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 1, 0), (1, 2, 0), (2, 2, 0), (0, 0, 1)]
    assert len(labels) == T.descriptor_size(3, 1)
    # feature (n, n', l) is pi sqrt(8/(2l+1)) sum_m conj(c_nlm) c_n'lm
    c = C.coefficients_closed_form(POINTS, POINTS[0], 1.0, 10, 3, 2)
    p = T.power_spectrum(c)
    for i, (n, n2, l) in enumerate(T.power_spectrum_labels(3, 2)):
        expected = np.pi * np.sqrt(8 / (2 * l + 1)) * np.vdot(c[n, l], c[n2, l])
        assert abs(expected.imag) < 1e-12 * abs(p).max()
        assert p[i] == pytest.approx(expected.real, rel=1e-12, abs=1e-14 * abs(p).max())
    # batched input
    assert T.power_spectrum(np.stack([c, c])).shape == (2, len(p))
