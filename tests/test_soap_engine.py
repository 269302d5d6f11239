"""pixelsoap's SOAP engine against DScribe (the oracle), its determinism, streaming and limits.

Agreement is judged at rtol 1e-8 with an absolute floor of 1e-8 x max|p| per
spectrum set: at r_cut near 63 the GTO overlap matrix has reciprocal condition
near 1e-32, so DScribe itself moves by ~1e-9 relative between processes.
"""

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from dscribe.descriptors import SOAP

from pixelsoap.experiments.search.monte_carlo import usable_draws
from pixelsoap.images.conversion import image_to_points, images_to_points
from pixelsoap.soap.descriptor import SoapParams, soap_spectra, soap_spectra_batch, soap_spectra_stream
from pixelsoap.soap.engine.engine import ENGINE_BYTES_PER_POINT, PreparedSet

PAPER = SoapParams(63, 7, 10, 3)
RTOL = 1e-8


def dscribe_spectra(points, params, centers=None):
    """DScribe's SOAP called directly (not through pixelsoap), float64 (M, d)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soap = SOAP(species=["H"], r_cut=params.r_cut, n_max=params.n_max, l_max=params.l_max,
                    sigma=params.sigma, rbf="gto", periodic=False, dtype="float64")
    atoms = Atoms(f"H{len(points)}", positions=points)
    kw = {} if centers is None else {"centers": list(centers)}
    return np.asarray(soap.create(atoms, **kw), dtype=np.float64).reshape(-1, params.size)


def assert_matches_dscribe(points, params, centers=None):
    ours = soap_spectra(points, params, centers)
    ref = dscribe_spectra(points, params, centers)
    assert ours.shape == ref.shape and ours.dtype == np.float64
    floor = RTOL * max(np.abs(ref).max(), np.finfo(float).tiny)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=floor,
                               err_msg=f"params {params.as_dict()}, {len(points)} points")


@pytest.mark.parametrize("seed", range(20))
def test_random_clouds_across_the_search_space(seed):
    rng = np.random.default_rng(seed)
    params = usable_draws(None, seed, 1)[0]     # as the paper's search draws it
    cloud = rng.random((35, 3)) * [28, 28, 26]
    assert_matches_dscribe(cloud, params)                 # off the lattice: exponentials
    assert_matches_dscribe(np.floor(cloud), params)       # on the lattice: the radial table


def test_paper_extremes_of_the_search_space():
    rng = np.random.default_rng(7)
    cloud = rng.random((30, 3)) * [28, 28, 26]
    for params in (SoapParams(100, 11, 11, 10), SoapParams(100, 11, 11, 1), SoapParams(2, 2, 11, 1),
                   SoapParams(2, 2, 2, 10), SoapParams(63, 7, 10, 3), SoapParams(40, 2, 0, 2),
                   SoapParams(30, 1, 3, 2)):
        assert_matches_dscribe(cloud, params)


def test_mnist_digits_clean(digits):
    for image in digits[:3]:
        assert_matches_dscribe(image_to_points(image), PAPER)


@pytest.mark.parametrize("level", [0.1, 1.0, 3.9, 5.0])
def test_mnist_digits_at_experiment3_noise_levels(digits, level):
    points = images_to_points(digits[:1], level, np.random.default_rng(3))[0]
    assert not np.all(points == np.rint(points))
    assert_matches_dscribe(points, PAPER)
    assert_matches_dscribe(points, SoapParams(8, 5, 6, 1.5))


def test_cloud_larger_than_any_digit_uses_the_cell_list():
    rng = np.random.default_rng(11)
    cloud = np.floor(rng.random((4000, 3)) * [300, 300, 26])
    params = SoapParams(6, 4, 5, 1)
    prepared = PreparedSet(cloud, 6.0, 4, 5, 1.0)
    assert prepared.use_cells and prepared.table.size
    centers = rng.choice(len(cloud), 60, replace=False)
    assert_matches_dscribe(cloud, params, centers)
    assert_matches_dscribe(cloud + 0.25, params, centers)


@pytest.mark.parametrize("extra", [0, 1, 44])
def test_more_neighbours_than_one_block(extra):
    """Every point is a neighbour of every center: BLOCK + extra neighbours, so a second block, padded."""
    from pixelsoap.soap.engine.kernels import BLOCK

    rng = np.random.default_rng(extra)
    cloud = rng.random((BLOCK + extra, 3)) * [28, 28, 26]
    params = SoapParams(40, 4, 5, 2)
    centers = rng.choice(len(cloud), 12, replace=False)
    assert_matches_dscribe(cloud, params, centers)                 # off the lattice
    assert_matches_dscribe(np.floor(cloud), params, centers)       # on the lattice


@pytest.mark.slow
def test_one_point_duplicates_and_far_points():
    assert_matches_dscribe(np.array([[3.0, 4.0, 5.0]]), PAPER)
    dup = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [4.0, 2.0, 0.0], [4.0, 2.0, 0.0]])
    assert_matches_dscribe(dup, PAPER)
    far = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [500.0, 0.0, 0.0], [0.0, 1e6, 0.0]])
    assert_matches_dscribe(far, SoapParams(5, 3, 4, 1))
    # a point far outside the cutoff does not change the center's spectrum
    alone = soap_spectra(far[:2], SoapParams(5, 3, 4, 1), [0])
    np.testing.assert_array_equal(soap_spectra(far, SoapParams(5, 3, 4, 1), [0]), alone)


def test_two_points_1e9_apart_are_cheap():
    points = np.array([[0.0, 0.0, 0.0], [1e9, 1e9, 1e9]] + [[float(i), 0.0, 0.0] for i in range(3000)])
    spectra = soap_spectra(points, SoapParams(3, 2, 2, 1), [0, 1])
    # the lone far point sees only itself: its spectrum is that of a single point
    np.testing.assert_allclose(spectra[1], soap_spectra(np.zeros((1, 3)), SoapParams(3, 2, 2, 1))[0], rtol=1e-12)


def test_two_points_1e9_apart_cost_nothing_in_our_engine_and_are_refused_for_dscribe(monkeypatch):
    import time

    from pixelsoap.soap.engine.engine import estimate_set_memory

    far = np.array([[0.0, 0.0, 0.0], [1e9, 1e9, 1e9]])
    soap_spectra(far, SoapParams(3, 2, 2, 1))                      # compiled
    start = time.perf_counter()
    spectra = soap_spectra(far, SoapParams(3, 2, 2, 1))
    assert time.perf_counter() - start < 1.0                         # measured: under 1 ms
    np.testing.assert_array_equal(spectra[0], spectra[1])
    assert estimate_set_memory(far, 3.0) == 2 * ENGINE_BYTES_PER_POINT  # per point, extent ignored
    # DScribe's cell list spans the bounding box (1e4 apart on every axis exhausted 24 GB): refused before work
    monkeypatch.setenv("PIXELSOAP_MAX_OUTPUT_BYTES", str(2**30))
    with pytest.raises(MemoryError, match=r"2 points spanning .* need an estimated [\d,]+ bytes \(1\.\d+e\+03 GiB\) in "
                                          r"the dscribe engine, more than the 1,073,741,824 bytes \(1 GiB\) allowed"):
        soap_spectra(far * 1e-5, SoapParams(5, 2, 2, 1), engine="dscribe")


def test_a_point_set_beyond_the_memory_bound_is_refused_before_work(monkeypatch):
    monkeypatch.setenv("PIXELSOAP_MAX_OUTPUT_BYTES", str(ENGINE_BYTES_PER_POINT * 1000))
    big = np.zeros((1001, 3))
    with pytest.raises(MemoryError, match=rf"1,001 points .* estimated {ENGINE_BYTES_PER_POINT * 1001:,} bytes .* in "
                                          rf"the pixelsoap engine, more than the {ENGINE_BYTES_PER_POINT * 1000:,} "
                                          r"bytes .* allowed \(at most 1,000 points"):
        soap_spectra(big, PAPER, [0])
    with pytest.raises(MemoryError, match="point set 1: 1,001 points"):
        soap_spectra_batch([big[:5], big], PAPER, [[0], [0]], progress=False)
    with pytest.raises(MemoryError, match="point set 0: 1,001 points"):
        next(soap_spectra_stream([big], PAPER, progress=False))
    assert soap_spectra(big[:1000], SoapParams(3, 2, 2, 1), [0]).shape == (1, 9)    # at the bound: computed


def _sets(n=6, seed=5):
    rng = np.random.default_rng(seed)
    return [np.floor(rng.random((int(rng.integers(5, 40)), 3)) * [28, 28, 26]) + (0.3 if i % 2 else 0.0)
            for i in range(n)]


def test_bit_identical_whatever_the_chunking_and_workers():
    sets = _sets()
    one = soap_spectra_batch(sets, PAPER, chunk_size=1, n_jobs=1, progress=False)
    many = soap_spectra_batch(sets, PAPER, chunk_size=4, n_jobs=2, progress=False)
    singles = [soap_spectra(p, PAPER) for p in sets]
    subset = soap_spectra(sets[1], PAPER, [3, 0])
    for a, b, c in zip(one, many, singles):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert np.array_equal(subset, singles[1][[3, 0]])


def _digest(arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_bit_identical_in_another_process():
    sets = _sets(seed=9)
    here = _digest(soap_spectra(p, PAPER) for p in sets)
    code = ("import numpy as np, hashlib; from pixelsoap.soap.descriptor import SoapParams, soap_spectra_batch\n"
            "rng = np.random.default_rng(9)\n"
            "sets = [np.floor(rng.random((int(rng.integers(5, 40)), 3)) * [28, 28, 26]) + (0.3 if i % 2 else 0.0)"
            " for i in range(6)]\n"
            "h = hashlib.sha256()\n"
            "for a in soap_spectra_batch(sets, SoapParams(63, 7, 10, 3), chunk_size=2, n_jobs=2, progress=False):\n"
            "    h.update(np.ascontiguousarray(a).tobytes())\n"
            "print(h.hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


def test_stream_pieces_equal_the_batch_and_stay_small():
    sets = _sets(8, seed=2)
    batch = soap_spectra_batch(sets, PAPER, progress=False, dtype="float32")
    got = {k: [] for k in range(len(sets))}
    pieces = 0
    for k, start, spectra in soap_spectra_stream((p for p in sets), PAPER, rows_per_chunk=16, n_jobs=2, dtype="float32",
                                                 progress=False):
        assert len(spectra) <= 16 and start == sum(len(s) for s in got[k])
        got[k].append(spectra)
        pieces += 1
    assert pieces >= sum(len(p) for p in sets) // 16
    for k, ref in enumerate(batch):
        assert np.array_equal(np.concatenate(got[k]), ref)


def test_engine_selection_by_name(monkeypatch):
    points = image_to_points((np.arange(64).reshape(8, 8) * 4) % 256)
    ref = soap_spectra(points, PAPER, engine="dscribe")
    np.testing.assert_array_equal(ref, dscribe_spectra(points, PAPER))
    monkeypatch.setenv("PIXELSOAP_SOAP_ENGINE", "dscribe")
    np.testing.assert_array_equal(soap_spectra(points, PAPER), ref)
    monkeypatch.setenv("PIXELSOAP_SOAP_ENGINE", "fastest")
    with pytest.raises(ValueError, match="PIXELSOAP_SOAP_ENGINE.*'fastest'"):
        soap_spectra(points, PAPER)
    with pytest.raises(ValueError, match="engine must be one of.*'turbo'"):
        soap_spectra(points, PAPER, engine="turbo")


def test_too_large_an_output_is_refused_before_work(monkeypatch):
    monkeypatch.setenv("PIXELSOAP_MAX_OUTPUT_BYTES", str(308 * 8 * 1000))
    big = np.zeros((4000 * 4000 // 16, 3))           # never reaches the kernel
    with pytest.raises(MemoryError, match=r"1,000,000 spectra of 308 values need .* GiB.*at most 1,000 spectra"):
        soap_spectra(big, PAPER)
    with pytest.raises(MemoryError, match="soap_spectra_stream"):
        soap_spectra_batch([big[:600], big[:600]], PAPER, progress=False)


def test_bad_stream_arguments_are_named():
    with pytest.raises(ValueError, match="rows_per_chunk.*0"):
        next(soap_spectra_stream([np.zeros((2, 3))], PAPER, rows_per_chunk=0))
    with pytest.raises(ValueError, match="n_jobs.*'2'"):
        soap_spectra_batch([np.zeros((2, 3))], PAPER, n_jobs="2")


def test_the_kernels_exp_is_within_three_ulp_of_the_exact_one():
    """_radial_rows against exp in extended precision of the same float64 argument, over [-708, 0]."""
    from pixelsoap.soap.engine.kernels import _radial_rows

    rng = np.random.default_rng(3)
    r2 = np.concatenate([rng.random(20000) * 708.0, rng.random(2000) * 1e-3, [0.0, 708.0, 5000.0]])
    out = np.empty((len(r2), 1))
    _radial_rows(np.array([-1.0]), r2, len(r2), out)
    out = out[:, 0]
    v = np.maximum(-r2, -708.0)                    # arguments below -708 give exp(-708)
    exact = np.exp(v.astype(np.longdouble))
    ulps = np.abs(out - exact) / np.spacing(exact.astype(np.float64))
    assert out[-3] == 1.0 and ulps.max() <= 3.0, ulps.max()        # measured: 2.46 (numpy: 0.66)


@pytest.mark.parametrize("n_max", [3, 4, 5, 8, 9, 16, 17])
def test_every_vector_layout_of_the_kernels(n_max):
    """n_max 1-4 run in vectors of 4, 5-8 in one vector of 8, 9-16 in two, 17-20 in three; l_max up to
    SoapParams' 20 gives orders chunked across several accumulator sets.  (At n_max 20 the basis is
    orthonormal only to ~1e-2 and DScribe's own spectra move by 2e-8 of their largest value.)"""
    from pixelsoap.soap.engine.vector_kernels import lanes_for

    width, vectors = lanes_for(n_max)
    assert width * vectors >= n_max > width * vectors - width
    rng = np.random.default_rng(n_max)
    cloud = rng.random((40, 3)) * [28, 28, 26]
    for l_max in (0, 13, 20):
        params = SoapParams(100, n_max, l_max, 3)
        assert_matches_dscribe(cloud, params, centers=range(0, 40, 5))
        assert_matches_dscribe(np.floor(cloud), params, centers=range(0, 40, 5))


def test_the_radial_path_follows_the_points_and_every_path_matches_dscribe(monkeypatch):
    """On the lattice: the table's rows; off it: the table's rows times a Taylor polynomial (in the
    contraction's registers up to FUSED_NEAR_DEGREE, as rows before it beyond); for a narrow sigma
    (|aOa| up to 1/(2 sigma^2) makes the polynomial too long) or a table past MAX_TABLE_BYTES: exps."""
    from pixelsoap.soap.engine import engine as soap_engine
    from pixelsoap.soap.engine.engine import RADIAL_EXP, RADIAL_NEAR_TABLE, RADIAL_TABLE, engine_constants
    from pixelsoap.soap.engine.vector_kernels import FUSED_NEAR_DEGREE

    wide_sigma = SoapParams(20, 5, 6, 1.0)
    assert engine_constants(*PAPER.as_dict().values()).near_table_degree <= FUSED_NEAR_DEGREE
    assert engine_constants(*wide_sigma.as_dict().values()).near_table_degree > FUSED_NEAR_DEGREE
    rng = np.random.default_rng(11)
    cloud = rng.random((30, 3)) * [28, 28, 26]
    narrow_sigma = SoapParams(20, 5, 6, 0.4)
    for points, params, mode in ((np.floor(cloud), PAPER, RADIAL_TABLE), (cloud, PAPER, RADIAL_NEAR_TABLE),
                                 (cloud, wide_sigma, RADIAL_NEAR_TABLE), (cloud, narrow_sigma, RADIAL_EXP)):
        assert PreparedSet(points, *params.as_dict().values()).radial_mode == mode
        assert_matches_dscribe(points, params)
    monkeypatch.setattr(soap_engine, "MAX_TABLE_BYTES", 1000)
    soap_engine._radial_table.cache_clear()
    try:
        params = SoapParams(10, 4, 3, 1.5)
        assert PreparedSet(np.floor(cloud), *params.as_dict().values()).radial_mode == RADIAL_EXP
        assert_matches_dscribe(np.floor(cloud), params)
    finally:
        soap_engine._radial_table.cache_clear()


@pytest.mark.parametrize("sigma", [1.0, 3.0, 10.0])
def test_radial_rows_near_the_table_are_as_accurate_as_the_exps(sigma):
    """rows_near_table (the table's row of the nearest integer r^2 times a Taylor polynomial) and the
    exps of _radial_rows against exp(aOa r^2) in extended precision, for the exponents of the search
    space's sigma: both within 4 ulp plus what rounding the argument aOa r^2 to float64 costs."""
    import numba

    from pixelsoap.soap.engine.engine import _radial_table, engine_constants
    from pixelsoap.soap.engine.kernels import _radial_rows
    from pixelsoap.soap.engine.vector_kernels import rows_near_table

    @numba.njit
    def near(table, rows, delta, exponents, n, degree, out):
        rows_near_table(table, rows, delta, exponents, n, degree, out)

    const = engine_constants(63, 7, 10, sigma)
    table = _radial_table(63, 7, 10, sigma)
    rng = np.random.default_rng(5)
    r2 = np.concatenate([rng.random(400) * const.cutoff2, [0.0, 0.49, 0.5, const.cutoff2]])
    rows = np.floor(r2 + 0.5).astype(np.int64)
    out, direct = np.empty((len(r2), table.shape[1])), np.empty((len(r2), table.shape[1]))
    near(table, rows, r2 - rows, const.table_exponents, len(r2), const.near_table_degree, out)
    _radial_rows(const.table_exponents, r2, len(r2), direct)
    argument = const.table_exponents[None, :].astype(np.longdouble) * r2[:, None].astype(np.longdouble)
    exact = np.exp(argument)
    bound = 4.0 + np.abs(argument).astype(np.float64)
    normal = argument >= -700                     # below -708 both give about exp(-708), 3e-308, not 0
    assert normal.mean() > 0.5
    for values in (out, direct):
        ulps = np.abs(values - exact).astype(np.float64) / np.spacing(exact.astype(np.float64))
        assert (ulps[normal] <= bound[normal]).all(), (ulps / bound)[normal].max()
        assert (values[argument < -708] < 1e-307).all()


def test_cached_kernels_are_dropped_when_the_vector_code_they_compile_in_changes(tmp_path):
    from pixelsoap.soap.engine.kernels import drop_stale_cached_kernels

    source = tmp_path / "soap_vector_kernels.py"
    source.write_text("x = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()

    def cached_files():
        for name in ("soap_kernels.spectra_kernel-1.py311.nbi", "soap_kernels.spectra_kernel-1.py311.1.nbc",
                     "soap_vector_kernels.contract_block-2.py311.nbi", "training_kernels.step-3.py311.nbi"):
            (cache / name).write_bytes(b"")

    cached_files()
    args = (cache, [source], ("soap_kernels", "soap_vector_kernels"))
    assert drop_stale_cached_kernels(*args) == 3                 # no stamp yet: provenance unknown
    assert sorted(p.name for p in cache.glob("*.nb*")) == ["training_kernels.step-3.py311.nbi"]
    cached_files()
    assert drop_stale_cached_kernels(*args) == 0                 # sources unchanged: kept
    source.write_text("x = 2\n")
    assert drop_stale_cached_kernels(*args) == 3                 # edited: dropped
    assert drop_stale_cached_kernels(*args) == 0


def test_the_kernel_module_keeps_its_stamp_beside_numbas_cache():
    """The wiring of drop_stale_cached_kernels: Numba's cache directory of spectra_kernel (a private
    attribute, so a Numba upgrade that moves it fails here rather than silently) holds the stamp."""
    from pathlib import Path

    from pixelsoap.soap.engine import kernels as soap_kernels

    cache_dir = Path(soap_kernels.spectra_kernel._cache._cache_path)
    assert (cache_dir / "pixelsoap-vector-code.sha256").is_file()
