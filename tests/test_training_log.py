"""Training curves written with DVCLive (pixelsoap.training.log)."""

import csv
import json

import pytest

from pixelsoap.training.log import write_history


def _tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_each_metric_becomes_a_step_column_file_and_the_last_epoch_the_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # outside any DVC repository
    history = {"loss": [2.0, 1.5, 1.25], "accuracy": [0.3, 0.5, 0.6], "val_loss": [2.1, 1.7, 1.6],
               "val_accuracy": [0.25, 0.45, 0.55], "epoch_seconds": [3.1, 2.9, 3.0]}
    out = write_history(history, tmp_path / "training")
    assert out == tmp_path / "training"
    files = sorted(p.name for p in (out / "plots" / "metrics").iterdir())
    assert files == ["accuracy.tsv", "loss.tsv", "val_accuracy.tsv", "val_loss.tsv"]   # no timings
    assert _tsv(out / "plots" / "metrics" / "loss.tsv") == [
        {"step": "0", "loss": "2.0"}, {"step": "1", "loss": "1.5"}, {"step": "2", "loss": "1.25"}]
    val_accuracy = _tsv(out / "plots" / "metrics" / "val_accuracy.tsv")
    assert [float(r["val_accuracy"]) for r in val_accuracy] == [0.25, 0.45, 0.55]
    summary = json.loads((out / "metrics.json").read_text())
    assert summary == {"loss": 1.25, "accuracy": 0.6, "val_loss": 1.6, "val_accuracy": 0.55, "step": 2}


def test_a_second_write_replaces_the_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_history({"loss": [3.0, 2.0, 1.0], "gone": [1.0, 1.0, 1.0]}, "training")
    write_history({"loss": [5.0, 4.0]}, "training")
    assert sorted(p.name for p in (tmp_path / "training" / "plots" / "metrics").iterdir()) == ["loss.tsv"]
    assert [r["loss"] for r in _tsv(tmp_path / "training" / "plots" / "metrics" / "loss.tsv")] == ["5.0", "4.0"]


def test_ragged_or_empty_histories_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="differ in length"):
        write_history({"loss": [1.0, 0.5], "val_loss": [1.0]}, tmp_path / "t")
    with pytest.raises(ValueError, match="empty history"):
        write_history({"epoch_seconds": [1.0]}, tmp_path / "t")
