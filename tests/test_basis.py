"""Algorithm A1 (pixelsoap.soap.basis.gto_basis) against DScribe and against its own purpose."""

import math
import warnings

import numpy as np
import pytest

from pixelsoap.soap.basis import gto_basis, gto_decay_radii, gto_overlap
from pixelsoap.soap.theory import gto_radial

dscribe_soap = pytest.importorskip("dscribe.descriptors").SOAP

# (r_cut, n_max, l_max): the paper's best (63, 7, 10), the brief's (10, 8, 5),
# n_max = 1, a small cutoff, a badly conditioned (3, 9, 2) and the search corner.
CASES = [(63, 7, 10), (10, 8, 5), (10, 4, 4), (5, 1, 3), (2.5, 4, 6), (3, 9, 2), (100, 11, 11)]


def _dscribe_basis(r_cut, n_max, l_max):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soap = dscribe_soap(species=["H"], r_cut=r_cut, n_max=n_max, l_max=l_max,
                            sigma=1.0, rbf="gto", periodic=False)
    return soap._alphas, soap._betas


@pytest.mark.parametrize("r_cut,n_max,l_max", CASES)
def test_gto_basis_equals_dscribe(r_cut, n_max, l_max):
    alphas, betas = gto_basis(r_cut, n_max, l_max)
    ref_a, ref_b = _dscribe_basis(r_cut, n_max, l_max)
    assert alphas.shape == (l_max + 1, n_max) and betas.shape == (l_max + 1, n_max, n_max)
    assert alphas.dtype == np.float64 and betas.dtype == np.float64
    np.testing.assert_allclose(alphas, ref_a, rtol=1e-13, atol=0)
    np.testing.assert_allclose(betas, ref_b, rtol=1e-10, atol=0)


def test_alphas_follow_the_printed_formula():
    r_cut, n_max, l_max = 63.0, 7, 10
    alphas, _ = gto_basis(r_cut, n_max, l_max)
    a = np.array([1 + (i - 1) * (r_cut - 1) / (n_max - 1) for i in range(1, n_max + 1)])
    np.testing.assert_allclose(gto_decay_radii(r_cut, n_max), a, rtol=1e-15)
    for l in range(l_max + 1):
        np.testing.assert_allclose(alphas[l], -np.log(1e-3 / a**l) / a**2, rtol=1e-14)
        # each primitive decays to the 1e-3 threshold at its radius a_i
        np.testing.assert_allclose(a**l * np.exp(-alphas[l] * a**2), 1e-3, rtol=1e-10)


def test_betas_are_inverse_square_root_of_overlap():
    alphas, betas = gto_basis(10, 5, 3)
    for l in range(4):
        S = gto_overlap(alphas[l], l)
        np.testing.assert_allclose(betas[l] @ S @ betas[l].T, np.eye(5), atol=1e-10)
        np.testing.assert_allclose(betas[l] @ betas[l], np.linalg.inv(S), rtol=1e-8)


def test_n_max_one_uses_radius_one():
    alphas, betas = gto_basis(7.0, 1, 2)
    np.testing.assert_array_equal(gto_decay_radii(7.0, 1), [1.0])
    np.testing.assert_allclose(alphas[:, 0], -np.log(1e-3), rtol=1e-15)  # a = 1: alpha = ln 1000
    for l in range(3):  # 1x1 Loewdin factor = 1/sqrt(S)
        S = 0.5 * math.gamma(l + 1.5) * (2 * alphas[l, 0]) ** (-(l + 1.5))
        np.testing.assert_allclose(betas[l, 0, 0], S ** -0.5, rtol=1e-13)


def _radial_gram(r_cut, n_max, l_max, nodes=400):
    x, w = np.polynomial.legendre.leggauss(nodes)
    r_max = 4.0 * r_cut  # the broadest primitive (a = r_cut) is ~1e-48 there
    r = 0.5 * r_max * (x + 1.0)
    w = 0.5 * r_max * w
    g = gto_radial(r, r_cut, n_max, l_max)
    return np.einsum("lar,lbr,r->lab", g, g, w * r * r)


@pytest.mark.parametrize("r_cut,n_max,l_max", [(63, 7, 10), (10, 8, 5), (10, 4, 4), (2.5, 4, 6)])
def test_gto_radial_is_orthonormal(r_cut, n_max, l_max):
    gram = _radial_gram(r_cut, n_max, l_max)
    assert gram.shape == (l_max + 1, n_max, n_max)
    err = np.abs(gram - np.eye(n_max)).max()
    assert err < 1e-6, f"max |<g_nl, g_n'l> - delta| = {err:.2e}"


def test_gto_radial_shape_and_primitive_sum():
    r = np.linspace(0.0, 12.0, 31).reshape(31, 1)
    g = gto_radial(r, 10, 3, 2)
    assert g.shape == (3, 3, 31, 1)
    alphas, betas = gto_basis(10, 3, 2)
    l, n = 2, 1
    manual = sum(betas[l, n, k] * r**l * np.exp(-alphas[l, k] * r**2) for k in range(3))
    np.testing.assert_allclose(g[l, n], manual, rtol=1e-13, atol=1e-300)
    # r^l factor: every l > 0 function vanishes at the origin, l = 0 does not
    assert np.all(g[1:, :, 0] == 0) and np.all(g[0, :, 0] != 0)


def test_complex_square_root_raises_like_dscribe():
    with pytest.raises(ValueError, match=r"r_cut=2\.0, n_max=12"):
        gto_basis(2.0, 12, 3)
    with pytest.raises(ValueError, match="real"):
        _dscribe_basis(2.0, 12, 3)  # DScribe refuses the same parameters


@pytest.mark.parametrize("args", [(1.0, 4, 2), (0.5, 4, 2), (10, 0, 2), (10, 3, -1), (10, 2.5, 2)])
def test_invalid_arguments(args):
    with pytest.raises(ValueError):
        gto_basis(*args)
