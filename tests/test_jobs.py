"""pixelsoap.runtime.dask: the Dask machinery every experiment shares."""

import os
from types import SimpleNamespace

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


@pytest.mark.slow
def test_the_local_cluster_does_not_ask_for_port_8787():
    """dashboard_address=None still opened the scheduler's HTTP server on 8787: with another cluster
    there, every stage warned "Port 8787 is already in use"."""
    import socket
    import warnings

    from pixelsoap.runtime.dask import dask_client

    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:
        pass   # something holds it already: the case itself
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_client(None, 1) as client:
                assert client.submit(abs, -2).result() == 2
    finally:
        holder.close()
    assert not [w for w in caught if "already in use" in str(w.message)]


def _checkpoint(folder, age_s: float):
    """A group checkpoint folder whose files were last written ``age_s`` seconds ago."""
    import time

    (folder / "group-0").mkdir(parents=True)
    state = folder / "group-0" / "state.npz"
    state.write_bytes(b"x")
    for path in (state, folder / "group-0", folder):
        os.utime(path, (time.time() - age_s, time.time() - age_s))
    return folder


def test_checkpoints_of_abandoned_runs_are_pruned_and_recent_ones_kept(tmp_path):
    from pixelsoap.runtime.cache import ABANDONED_AFTER, prune_checkpoints

    old = _checkpoint(tmp_path / "ckpt" / "group-abc", ABANDONED_AFTER + 60)     # a killed run, days ago
    live = _checkpoint(tmp_path / "ckpt" / "group-def", 60)                    # maybe another run's
    assert prune_checkpoints(tmp_path / "ckpt") == [old]
    assert not old.exists() and live.exists()
    assert prune_checkpoints(tmp_path / "missing") == []


def test_experiment2_prunes_abandoned_group_checkpoints_when_its_jobs_are_done(tmp_path):
    from pixelsoap.experiments.experiment2 import jobs as experiment2_jobs
    from pixelsoap.runtime.cache import ABANDONED_AFTER

    old = _checkpoint(tmp_path / "checkpoints" / "group-abc", ABANDONED_AFTER + 60)
    assert experiment2_jobs.run_jobs(SimpleNamespace(fingerprint=lambda: "d"), [], [], None, folder=tmp_path,
                         progress=False) == ([], [])
    assert not old.exists()


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
