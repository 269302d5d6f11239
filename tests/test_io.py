"""Atomic writers: complete files or none, and equal arrays give equal bytes."""

import time

import numpy as np
import pytest

from pixelsoap.runtime.io import save_npz, write_json


@pytest.mark.slow
def test_npz_round_trips_and_equal_arrays_give_equal_bytes(tmp_path):
    arrays = {"X": np.arange(12, dtype=np.float32).reshape(3, 4), "y": np.array([3, 1, 4], np.int64),
              "is_val": np.array([True, False, True])}
    first = save_npz(tmp_path / "a.npz", **arrays)
    time.sleep(2.1)                      # zip timestamps have a 2-second resolution
    second = save_npz(tmp_path / "b.npz", **arrays)
    assert first.read_bytes() == second.read_bytes()
    with np.load(first) as loaded:
        assert sorted(loaded.files) == ["X", "is_val", "y"]
        for name, value in arrays.items():
            assert loaded[name].dtype == value.dtype and np.array_equal(loaded[name], value)
    other = save_npz(tmp_path / "c.npz", **{**arrays, "y": np.array([3, 1, 5], np.int64)})
    assert other.read_bytes() != first.read_bytes()


def test_npz_matches_what_numpy_writes(tmp_path):
    """Same members and array payloads as np.savez (only the timestamps differ)."""
    arrays = {"a": np.linspace(0, 1, 7), "b": np.array(["x", "yz"])}
    ours = save_npz(tmp_path / "ours.npz", **arrays)
    np.savez(tmp_path / "numpy.npz", **arrays)
    with np.load(ours) as x, np.load(tmp_path / "numpy.npz") as y:
        assert x.files == y.files
        assert all(np.array_equal(x[k], y[k]) for k in x.files)


def test_object_arrays_are_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(ValueError):
        save_npz(tmp_path / "bad.npz", a=np.array([{"k": 1}], dtype=object))
    assert list(tmp_path.iterdir()) == []


def test_json_is_written_with_numpy_values(tmp_path):
    path = write_json(tmp_path / "m.json", {"a": np.float32(0.5), "b": np.arange(3)})
    assert path.read_text() == '{\n  "a": 0.5,\n  "b": [\n    0,\n    1,\n    2\n  ]\n}\n'
