"""SoapParams and the SOAP spectra (Algorithm 2) against DScribe."""

import numpy as np
import pytest
from ase import Atoms
from conftest import make_random_images
from dscribe.descriptors import SOAP

from pixelsoap.images.conversion import image_to_points
from pixelsoap.soap.descriptor import SoapParams, resolve_n_jobs, soap_spectra, soap_spectra_batch

PAPER = SoapParams(63, 7, 10, 3)


def _digit(seed=0, shape=(12, 12)):
    return make_random_images(1, shape, seed)[0]


def test_descriptor_size_formula():
    assert PAPER.size == 308
    for n_max, l_max in [(2, 2), (4, 6), (11, 11), (1, 0)]:
        p = SoapParams(40, n_max, l_max, 2)
        assert p.size == n_max * (n_max + 1) // 2 * (l_max + 1)
        spectra = soap_spectra(np.array([[0, 0, 1.0], [1, 2, 3]]), p)
        assert spectra.shape == (2, p.size)


@pytest.mark.parametrize("kwargs, message", [
    (dict(r_cut=1.0), "r_cut"), (dict(r_cut=-5), "r_cut"), (dict(r_cut=float("nan")), "r_cut"),
    (dict(n_max=0), "n_max"), (dict(n_max=7.5), "n_max"), (dict(n_max=True), "n_max"),
    (dict(l_max=-1), "l_max"), (dict(l_max=21), "l_max"), (dict(l_max="10"), "l_max"),
    (dict(sigma=0), "sigma"), (dict(sigma=float("inf")), "sigma"),
])
def test_params_validation_names_the_bad_value(kwargs, message):
    values = dict(r_cut=63, n_max=7, l_max=10, sigma=3) | kwargs
    with pytest.raises(ValueError, match=message):
        SoapParams(**values)


@pytest.mark.parametrize("kwargs, message", [
    (dict(sigma=1e-9), r"sigma must lie in \[0.001, 1000\] .*sigma=1e-09"),
    (dict(sigma=9.9e-4), r"sigma=0.00099"),
    (dict(sigma=1001), r"sigma must lie in \[0.001, 1000\].*sigma=1001.0"),
    (dict(r_cut=0.5), r"r_cut must lie in \(1, 10000\] .*r_cut=0.5"),
    (dict(r_cut=1.0), r"r_cut=1.0"),
    (dict(r_cut=1e4 + 1), r"r_cut must lie in \(1, 10000\].*r_cut=10001.0"),
    (dict(r_cut=2, n_max=8, l_max=20), r"orthonormal only to 1\.\de-01 .*n_max=8 .*r_cut=2"),
    (dict(r_cut=1.5, n_max=11), r"'r_cut': 1.5.*no usable GTO basis"),
])
def test_params_outside_the_meaningful_range_are_refused(kwargs, message):
    values = dict(r_cut=63, n_max=7, l_max=10, sigma=3) | kwargs
    with pytest.raises(ValueError, match=message):
        SoapParams(**values)


def test_params_at_the_bounds_work_and_agree_with_dscribe():
    from pixelsoap.soap.descriptor import R_CUT_RANGE, SIGMA_RANGE

    assert SIGMA_RANGE[0] <= 1 and SIGMA_RANGE[1] >= 10 and R_CUT_RANGE[0] < 2 and R_CUT_RANGE[1] >= 100
    points = np.random.default_rng(7).random((12, 3)) * [28, 28, 26]
    for params in (SoapParams(63, 7, 10, 1e-3), SoapParams(63, 7, 10, 1e3), SoapParams(1.01, 2, 3, 1),
                   SoapParams(1e4, 11, 11, 3), SoapParams(2, 10, 11, 1), SoapParams(2, 2, 11, 10)):
        ours = soap_spectra(points, params)
        ref = SOAP(species=["H"], r_cut=params.r_cut, n_max=params.n_max, l_max=params.l_max, sigma=params.sigma,
                   rbf="gto", periodic=False).create(Atoms(f"H{len(points)}", positions=points))
        assert np.all(np.isfinite(ours)) and np.abs(ours).max() > 1e-20
        np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max(), err_msg=str(params))


def test_the_paper_search_space_stays_allowed():
    from pixelsoap.soap.basis import gto_basis

    for r_cut in (2, 3, 5, 10, 63, 100):   # the basis is worst-conditioned at the shortest cutoff
        for n_max in range(2, 12):
            for l_max in range(2, 12):
                try:
                    gto_basis(r_cut, n_max, l_max)
                except ValueError:
                    continue                 # no basis at all (r_cut 2, n_max 11, l_max >= 10): refused as before
                for sigma in (1, 10):
                    SoapParams(r_cut, n_max, l_max, sigma)


def test_params_from_mapping():
    assert SoapParams.from_mapping({"r_cut": 63, "n_max": 7.0, "l_max": 10, "sigma": 3, "x": 1}) == PAPER
    with pytest.raises(ValueError, match="lack sigma"):
        SoapParams.from_mapping({"r_cut": 63, "n_max": 7, "l_max": 10})


def test_spectra_equal_dscribe_directly():
    points = image_to_points(_digit())
    ours = soap_spectra(points, PAPER)
    reference = SOAP(species=["H"], r_cut=63, n_max=7, l_max=10, sigma=3, rbf="gto", periodic=False).create(
        Atoms(f"H{len(points)}", positions=points))
    assert ours.shape == (len(points), 308) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, reference, rtol=1e-8, atol=1e-8 * np.abs(reference).max())
    # the DScribe engine, by name, is DScribe exactly
    np.testing.assert_array_equal(soap_spectra(points, PAPER, engine="dscribe"), reference)


def test_centers_select_rows():
    points = image_to_points(_digit(1))
    full = soap_spectra(points, PAPER)
    np.testing.assert_allclose(soap_spectra(points, PAPER, [4, 0]), full[[4, 0]], rtol=1e-10)
    assert soap_spectra(points, PAPER, []).shape == (0, 308)
    with pytest.raises(ValueError, match="center indices"):
        soap_spectra(points, PAPER, [len(points)])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        soap_spectra(points[:, :2], PAPER)


def test_batch_matches_single_in_order_and_dtype(tmp_path):
    sets = [image_to_points(_digit(s)) for s in range(5)]
    centers = [None, [0], [1, 2], None, [3]]
    singles = [soap_spectra(p, PAPER, c) for p, c in zip(sets, centers)]
    batch = soap_spectra_batch(sets, PAPER, centers, n_jobs=2, chunk_size=2, progress=False)
    # Worker processes may use another BLAS path for DScribe's ill-conditioned basis
    # (sqrtm(inv(S)), rcond ~ 1e-32 at r_cut = 63), hence 1e-8 relative, not bitwise.
    for a, b in zip(batch, singles):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8 * np.abs(b).max())
    batch32 = soap_spectra_batch(sets, PAPER, centers, dtype="float32", progress=False)
    assert all(b.dtype == np.float32 for b in batch32)
    np.testing.assert_allclose(batch32[0], singles[0], rtol=1e-6)


def test_batch_checkpoints_resume(tmp_path, monkeypatch):
    sets = [image_to_points(_digit(s)) for s in range(4)]
    first = soap_spectra_batch(sets, PAPER, chunk_size=1, progress=False, checkpoint_dir=tmp_path)
    chunks = sorted(tmp_path.rglob("chunk-*.npz"))
    assert len(chunks) == 4
    # A rerun must not compute anything: make computing impossible.
    import pixelsoap.soap.descriptor as soap_module
    monkeypatch.setattr(soap_module, "_chunk_spectra", lambda *a, **k: pytest.fail("recomputed"))
    again = soap_spectra_batch(sets, PAPER, chunk_size=1, progress=False, checkpoint_dir=tmp_path)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong shape"])
def test_a_damaged_checkpoint_chunk_is_set_aside_and_recomputed(tmp_path, caplog, damage):
    """A resume file cut short, overwritten or of another shape never blocks a rerun: the rerun warns,
    naming the file, moves it aside and computes that chunk again."""
    sets = [image_to_points(_digit(s)) for s in range(3)]
    first = soap_spectra_batch(sets, PAPER, chunk_size=1, progress=False, checkpoint_dir=tmp_path)
    chunk = sorted(tmp_path.rglob("chunk-*.npz"))[1]
    if damage == "truncated":
        chunk.write_bytes(chunk.read_bytes()[:100])
    elif damage == "garbage":
        chunk.write_bytes(b"not a zip file at all")
    else:
        np.savez(chunk, spectra=np.zeros((3, 5), np.float32), lengths=np.array([3]))
    with caplog.at_level("WARNING"):
        again = soap_spectra_batch(sets, PAPER, chunk_size=1, progress=False, checkpoint_dir=tmp_path)
    assert chunk.name in caplog.text
    assert chunk.with_name(chunk.name + ".unreadable").is_file() and chunk.is_file()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_batch_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dtype"):
        soap_spectra_batch([], PAPER, dtype="float16")
    with pytest.raises(ValueError, match="center lists"):
        soap_spectra_batch([np.zeros((1, 3))], PAPER, [None, None])


def test_n_jobs_follows_joblib_convention():
    import os
    assert resolve_n_jobs(1) == 1
    assert resolve_n_jobs(-1) == (os.cpu_count() or 1)
    with pytest.raises(ValueError):
        resolve_n_jobs(0)
