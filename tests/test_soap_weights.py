"""Weighted SOAP: the density sum_i w_i exp(-|r - r_i|^2 / 2 sigma^2), against independent expectations.

DScribe has no weights, but an integer weight w is w coincident points: DScribe on the cloud with
every point repeated w times is the oracle (its setup as in tests/test_soap_engine.py, agreement at
rtol 1e-8 with a floor of 1e-8 x max|p|).  The power spectrum is quadratic in the density, so
scaling every weight by c scales it by c^2, and p(a + b) + p(a - b) = 2 p(a) + 2 p(b) for any
weights a >= b >= 0 (the parallelogram law), which checks fractional weights with no oracle.
"""

import warnings

import numpy as np
import pytest
from ase import Atoms
from dscribe.descriptors import SOAP

from pixelsoap.soap.descriptor import SoapParams, soap_spectra, soap_spectra_batch, soap_spectra_stream
from pixelsoap.soap.engine.engine import RADIAL_EXP, RADIAL_NEAR_TABLE, RADIAL_TABLE, PreparedSet

PAPER = SoapParams(63, 7, 10, 3)
WIDE = SoapParams(20, 5, 6, 1.0)       # off the lattice: the table's rows times a long Taylor polynomial
NARROW = SoapParams(20, 5, 6, 0.4)     # off the lattice: exponentials
RTOL = 1e-8


def dscribe_repeated(points, weights, params, centers):
    """DScribe's SOAP (called directly) of ``points`` with point i repeated weights[i] times, at the
    positions of ``points[centers]`` (positions, so that a point of weight 0 can be a center)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soap = SOAP(species=["H"], r_cut=params.r_cut, n_max=params.n_max, l_max=params.l_max,
                    sigma=params.sigma, rbf="gto", periodic=False, dtype="float64")
    cloud = np.concatenate([np.tile(p, (int(w), 1)) for p, w in zip(points, weights)])
    atoms = Atoms(f"H{len(cloud)}", positions=cloud)
    return np.asarray(soap.create(atoms, centers=[points[i] for i in centers]), dtype=np.float64).reshape(
        len(centers), params.size)


def assert_close(ours, ref, rtol=RTOL, what=""):
    assert ours.shape == ref.shape and ours.dtype == np.float64
    floor = rtol * max(np.abs(ref).max(), np.finfo(float).tiny)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=floor, err_msg=what)


def _cloud(n=30, seed=11):
    return np.random.default_rng(seed).random((n, 3)) * [28, 28, 26]


#: (points, params, the radial path our engine takes): every path the kernel has
PATHS = [("lattice", PAPER, RADIAL_TABLE), ("off", PAPER, RADIAL_NEAR_TABLE), ("off", WIDE, RADIAL_NEAR_TABLE),
         ("off", NARROW, RADIAL_EXP)]


def _points(kind, seed=11):
    cloud = _cloud(seed=seed)
    return np.floor(cloud) if kind == "lattice" else cloud


@pytest.mark.parametrize("kind, params, mode", PATHS)
def test_weights_of_one_give_the_unweighted_spectra_bit_for_bit(kind, params, mode):
    points = _points(kind)
    assert PreparedSet(points, *params.as_dict().values()).radial_mode == mode
    plain = soap_spectra(points, params)
    assert np.array_equal(soap_spectra(points, params, weights=np.ones(len(points))), plain)
    assert np.array_equal(soap_spectra(points, params, weights=[1] * len(points)), plain)    # integers


@pytest.mark.parametrize("kind, params, mode", PATHS)
def test_integer_weights_equal_dscribe_on_the_cloud_with_repeated_points(kind, params, mode):
    points = _points(kind, seed=3)
    weights = np.random.default_rng(4).integers(0, 4, len(points))
    weights[:2] = [0, 3]
    centers = list(range(0, len(points), 3))          # weight-0 point 0 among them: a center, no density
    ours = soap_spectra(points, params, centers, weights=weights)
    assert_close(ours, dscribe_repeated(points, weights, params, centers), what=f"{kind} {params}")
    assert_close(soap_spectra(points, params, centers, weights=weights, engine="dscribe"), ours)


def test_integer_weights_on_the_cell_list_and_past_one_block():
    """A cloud wide enough for the cell list, and a dense one whose neighbours fill more than one block."""
    from pixelsoap.soap.engine.kernels import BLOCK

    rng = np.random.default_rng(12)
    wide = np.floor(rng.random((3000, 3)) * [300, 300, 26]) + 0.25
    params = SoapParams(6, 4, 5, 1)
    assert PreparedSet(wide, 6.0, 4, 5, 1.0).use_cells
    weights = rng.integers(0, 3, len(wide))
    centers = rng.choice(len(wide), 25, replace=False).tolist()
    assert_close(soap_spectra(wide, params, centers, weights=weights),
                 dscribe_repeated(wide, weights, params, centers))
    dense = rng.random((BLOCK + 20, 3)) * [28, 28, 26]
    weights = rng.integers(0, 3, len(dense))
    params = SoapParams(40, 4, 5, 2)
    assert_close(soap_spectra(dense, params, [0, 7, 100], weights=weights),
                 dscribe_repeated(dense, weights, params, [0, 7, 100]))


@pytest.mark.parametrize("kind, params, mode", PATHS)
def test_weight_zero_removes_the_point_except_as_a_center(kind, params, mode):
    points = _points(kind, seed=5)
    weights = np.ones(len(points))
    gone = np.array([1, 4, 5, 17])
    weights[gone] = 0.0
    kept = np.setdiff1d(np.arange(len(points)), gone)
    weighted = soap_spectra(points, params, weights=weights)
    assert_close(weighted[kept], soap_spectra(points[kept], params), rtol=1e-12)
    # at a removed point: the spectrum of the other points' density there (DScribe, centered at a position)
    assert_close(weighted[gone], dscribe_repeated(points, weights, params, gone))
    assert np.all(soap_spectra(points, params, weights=np.zeros(len(points))) == 0)


@pytest.mark.parametrize("kind, params, mode", PATHS)
def test_scaling_every_weight_by_c_scales_the_spectra_by_c_squared(kind, params, mode):
    points = _points(kind, seed=6)
    weights = np.random.default_rng(7).random(len(points)) * 2
    base = soap_spectra(points, params, weights=weights)
    for c in (0.1, 2.5, 255.0):
        assert_close(soap_spectra(points, params, weights=c * weights), c * c * base, rtol=1e-12, what=f"c={c}")


@pytest.mark.parametrize("kind, params, mode", PATHS)
def test_fractional_weights_obey_the_parallelogram_law(kind, params, mode):
    """p is a quadratic form of the weights: p(a + b) + p(a - b) = 2 p(a) + 2 p(b) for a >= b >= 0."""
    points = _points(kind, seed=8)
    rng = np.random.default_rng(9)
    a = rng.random(len(points)) + 0.5
    b = rng.random(len(points)) * a
    p = {name: soap_spectra(points, params, weights=w) for name, w in (("a+b", a + b), ("a-b", a - b), ("a", a),
                                                                     ("b", b))}
    assert_close(p["a+b"] + p["a-b"], 2 * p["a"] + 2 * p["b"], rtol=1e-10)


def test_batch_and_stream_take_one_weight_array_per_set(tmp_path):
    rng = np.random.default_rng(2)
    sets = [np.floor(rng.random((int(rng.integers(5, 40)), 3)) * [28, 28, 26]) + (0.3 if i % 2 else 0.0)
            for i in range(5)]
    weights = [rng.random(len(p)) for p in sets]
    weights[2] = None                                 # this set unweighted
    singles = [soap_spectra(p, PAPER, weights=w) for p, w in zip(sets, weights)]
    batch = soap_spectra_batch(sets, PAPER, weights=weights, chunk_size=2, n_jobs=2, progress=False,
                               checkpoint_dir=tmp_path)
    for a, b in zip(batch, singles):
        assert np.array_equal(a, b)
    # the checkpoint key holds the weights: other weights are computed, not loaded
    doubled = [None if w is None else 2 * w for w in weights]
    again = soap_spectra_batch(sets, PAPER, weights=doubled, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    assert_close(again[0], 4 * singles[0], rtol=1e-12)
    got = {k: [] for k in range(len(sets))}
    for k, _start, spectra in soap_spectra_stream(iter(sets), PAPER, weights=iter(weights), rows_per_chunk=16,
                                                 dtype="float64", n_jobs=2, progress=False):
        got[k].append(spectra)
    for k, ref in enumerate(singles):
        assert np.array_equal(np.concatenate(got[k]), ref)


@pytest.mark.parametrize("bad, message", [
    (np.ones(4), r"shape \(5,\), one weight per point, got shape \(4,\)"),
    (np.ones((5, 1)), r"got shape \(5, 1\)"),
    ([1, 1, -0.5, 1, 1], r"weights\[2\] = -0.5 is negative"),
    ([1, np.nan, 1, 1, 1], r"weights\[1\] = nan is not finite"),
    ([1, 1, 1, np.inf, -1], r"weights\[3\] = inf is not finite \(2 bad value"),
    (np.ones(5, dtype=bool), "numbers.*dtype bool"),
    (["1"] * 5, "numbers.*dtype <U1"),
])
def test_bad_weights_are_refused_naming_the_value(bad, message):
    points = np.floor(_cloud(5))
    with pytest.raises(ValueError, match=message):
        soap_spectra(points, PAPER, weights=bad)


def test_bad_weights_in_batches_and_streams_are_named_before_work():
    sets = [np.zeros((2, 3)), np.ones((3, 3))]
    with pytest.raises(ValueError, match="2 point sets but 1 weight arrays"):
        soap_spectra_batch(sets, PAPER, weights=[np.ones(2)], progress=False)
    with pytest.raises(ValueError, match=r"weights of point set 1 must be finite and >= 0: .*\[0\] = -1.0"):
        soap_spectra_batch(sets, PAPER, weights=[np.ones(2), np.array([-1.0, 1, 1])], progress=False)
    with pytest.raises(ValueError, match=r"weights of point set 0 must have shape \(2,\)"):
        next(soap_spectra_stream(sets, PAPER, weights=[np.ones(3), np.ones(3)], progress=False))
    with pytest.raises(ValueError, match="point_sets and weights differ in length"):
        list(soap_spectra_stream(sets, PAPER, weights=[np.ones(2)], progress=False))


def test_dscribe_engine_takes_integer_weights_only():
    points = np.floor(_cloud(8))
    with pytest.raises(ValueError, match=r"engine 'dscribe' takes integer weights only.*weights\[3\] = 0.5"):
        soap_spectra(points, PAPER, weights=[1, 2, 1, 0.5, 1, 1, 1, 1], engine="dscribe")
    assert np.all(soap_spectra(points, PAPER, [0, 1], weights=np.zeros(8), engine="dscribe") == 0)
