"""The SOAP engine's solid harmonics (LLVM vector code) against the addition theorem and each other."""

import numba
import numpy as np
import pytest

from pixelsoap.soap.engine.harmonics import HARMONIC_LANES, UNROLLED_L_MAX, harmonic_constants, solid_harmonics


@numba.njit
def _harmonics(dx, dy, dz, r2, w, npad, lmax, norm, rec_a, rec_b, Q, cs, S):
    solid_harmonics(dx, dy, dz, r2, w, npad, lmax, norm, rec_a, rec_b, Q, cs, S)


def harmonics(xyz, lmax, weights=None):
    """S (n, (lmax+1)^2) for displacements xyz (n, 3), n a multiple of 8, through the kernel's layout."""
    n = len(xyz)
    dx, dy, dz = (np.ascontiguousarray(xyz[:, i]) for i in range(3))
    w = np.ones(n) if weights is None else weights
    norm, rec_a, rec_b = harmonic_constants(lmax)
    nq, nlm = (lmax + 1) * (lmax + 2) // 2, (lmax + 1) ** 2
    S = np.full((n // HARMONIC_LANES, nlm, HARMONIC_LANES), np.nan)
    _harmonics(dx, dy, dz, dx * dx + dy * dy + dz * dz, w, n, lmax, norm, rec_a, rec_b,
               np.empty(nq * HARMONIC_LANES), np.empty(2 * (lmax + 1) * HARMONIC_LANES), S)
    return S.transpose(0, 2, 1).reshape(n, nlm)


@pytest.mark.parametrize("lmax", [0, 3, UNROLLED_L_MAX, UNROLLED_L_MAX + 1, 20])
def test_the_addition_theorem_holds_for_every_degree(lmax):
    """sum_m (r^l Y_lm)^2 = (2l + 1) / (4 pi) r^(2l), whatever the sign conventions."""
    rng = np.random.default_rng(lmax)
    xyz = rng.normal(size=(64, 3)) * 3.0
    S = harmonics(xyz, lmax)
    r2 = (xyz ** 2).sum(axis=1)
    for l in range(lmax + 1):
        expected = (2 * l + 1) / (4 * np.pi) * r2 ** l
        np.testing.assert_allclose((S[:, l * l:(l + 1) ** 2] ** 2).sum(axis=1), expected, rtol=1e-12)


def test_weights_zero_padding_and_the_straight_line_code_agrees_with_the_loops():
    rng = np.random.default_rng(1)
    xyz = rng.normal(size=(16, 3)) * 5.0
    weights = np.r_[np.ones(11), np.zeros(5)]
    straight = harmonics(xyz, UNROLLED_L_MAX, weights)            # straight-line code
    looped = harmonics(xyz, UNROLLED_L_MAX + 1, weights)          # loops, degrees up to 13
    assert np.all(straight[11:] == 0.0) and np.all(looped[11:] == 0.0)
    common = looped[:, :straight.shape[1]]
    np.testing.assert_allclose(straight, common, rtol=1e-13, atol=1e-13 * np.abs(common).max())
