"""benchmarks/bench_device.py, the GPU measurement prepared for a machine that has one, run small here."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_device.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_device", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_device_benchmark_writes_epochs_and_the_papers_hours_from_them(tmp_path):
    bench = _load()
    result = bench.main(["--rows", "512", "--trial-rows", "128", "--epochs", "2", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "device-epochs.json").read_text())
    assert written["device"] == result["device"] and "JAX" in written["device"]
    assert set(written["linear_autoencoder"]) == {"16", "100", "250"}
    assert all(s > 0 for s in [written["classifier"], written["trial_per_model"],
                               written["deep_autoencoder_h_m_2_h_e_100"], *written["linear_autoencoder"].values()])
    scale, hours = 96_000 / 512, written["estimates_hours"]
    assert hours["search_168_trials_x_300_epochs"] == pytest.approx(168 * 300 * written["classifier"] * scale / 3600)
    long_run = 10_000 * sum(written["linear_autoencoder"].values()) * scale / 3600
    assert hours["long_run_10000_epochs"] == pytest.approx(long_run)
    deep_night = 10 * 3600 / (10_000 * written["deep_autoencoder_h_m_2_h_e_100"] * scale)
    assert written["night_h_e_values"]["deep_h_m_2"] == pytest.approx(deep_night)
    text = (tmp_path / "device-epochs.txt").read_text()
    assert "1. classifier" in text and "long_run_10000_epochs" in text


def test_device_benchmark_refuses_sizes_too_small_to_measure(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _load().main(["--rows", "100", "--out", str(tmp_path)])
    assert "--rows >= 512" in capsys.readouterr().err
