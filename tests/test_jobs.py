"""pixelsoap.runtime.dask: the Dask machinery every experiment shares."""

import pytest

from pixelsoap.runtime import cache
from pixelsoap.runtime import dask as jobs


def _power(job, exponent, offset):
    return job ** exponent + offset


def test_run_each_hands_every_result_to_finish_once(client):
    finished = []
    jobs.run_each([2, 3, 5, 7], _power, (2, 1), lambda job, result: finished.append((job, result)),
                  scheduler=client, progress=False)
    assert sorted(finished) == [(2, 5), (3, 10), (5, 26), (7, 50)]


def test_run_each_with_no_jobs_computes_nothing(client):
    jobs.run_each([], _power, (2, 0), lambda job, result: pytest.fail("nothing to finish"), scheduler=client,
                  progress=False)


def _fail_on_three(job):
    if job == 3:
        raise ArithmeticError(f"job {job} failed")
    return job


def test_a_failing_job_stops_the_run_with_its_error(client):
    finished = {}
    with pytest.raises(ArithmeticError, match="job 3 failed"):
        jobs.run_each([3], _fail_on_three, (), finished.__setitem__, scheduler=client, progress=False)
    assert finished == {}


def test_digest_depends_on_kind_and_payload_not_key_order():
    assert cache.digest("a", {"x": 1, "y": 2}) == cache.digest("a", {"y": 2, "x": 1})
    assert cache.digest("a", {"x": 1}) != cache.digest("b", {"x": 1}) != cache.digest("b", {"x": 2})
    assert cache.digest("level", {"x": 1}, length=10).startswith("level-") and len(cache.digest("k", 1, 10)) == 12


def test_cached_results_are_the_readable_files_marked_cached(tmp_path, caplog):
    import json

    def save(path, result):
        path.write_text(json.dumps(result))

    store = cache.ResultCache(tmp_path, ".json", lambda path: json.loads(path.read_text()), save)
    store.put("k-done", {"accuracy": 0.5})
    store.path("k-torn").write_text('{"accuracy": 0.')          # a write cut short
    found = store.cached_results({("a", 1): "k-done", ("b", 2): "k-torn", ("c", 3): "k-never"})
    assert found == {("a", 1): {"accuracy": 0.5, "cached": True}}
    assert (tmp_path / "k-torn.json.unreadable").is_file() and not (tmp_path / "k-torn.json").exists()
    assert "k-torn.json" in caplog.text
    assert store.get("k-done") == {"accuracy": 0.5}           # the file itself is not marked
