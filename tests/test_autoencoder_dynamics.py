"""The long run of the linear autoencoder against PCA (pixelsoap.experiments.experiment2.dynamics and its
_training and _claims modules) on tiny data: chunks continue exactly, an interrupted run resumes where
it stopped, and the summary's numbers."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pixelsoap.experiments.experiment2 import dynamics as dyn
from pixelsoap.experiments.experiment2 import dynamics_claims as claims
from pixelsoap.experiments.experiment2 import dynamics_training as chunks
from pixelsoap.experiments.experiment2.compression import CompressionData, TrainingConfig
from pixelsoap.experiments.experiment2.pca import fit_pca
from pixelsoap.runtime import paths
from pixelsoap.training.loop import train_group
from pixelsoap.training.spec import autoencoder_spec

D = 12


def _data(n: int = 160, rank: int = 4, seed: int = 0) -> CompressionData:
    """Low-rank rows plus noise (train n, val and test n // 4), float32, labels 0..9."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.normal(size=(D, rank)))[0].T
    parts = []
    for rows in (n, n // 4, n // 4):
        X = (rng.normal(size=(rows, rank)) @ (np.linspace(2, 1, rank)[:, None] * axes)
             + 0.1 * rng.normal(size=(rows, D)) + 0.3).astype(np.float32)
        parts += [X, rng.integers(0, 10, rows).astype(np.uint8)]
    return CompressionData(*parts)


TRAINING = TrainingConfig(learning_rate=1e-3, batch_size=32, epochs=1, patience=None, seed=3)


@pytest.mark.slow
def test_chunks_continue_exactly_as_one_run(tmp_path):
    """3 epochs then 4 more (two calls, state saved between) give bit for bit the weights, Adam state and
    history of 7 epochs in one call, and of the engine's own 7-epoch run; the second call trains 4."""
    data = _data()
    trained = []
    first = chunks.train_until(data.X_train, data.X_val, 3, TRAINING, tmp_path / "two", 3)
    assert len(first["val_mse"]) == 3
    two = chunks.train_until(data.X_train, data.X_val, 3, TRAINING, tmp_path / "two", 7,
                          on_epoch=lambda epoch, record: trained.append(epoch))
    assert trained == [4, 5, 6, 7]
    one = chunks.train_until(data.X_train, data.X_val, 3, TRAINING, tmp_path / "one", 7)
    for column in ("val_mse", "train_loss"):
        assert two[column] == one[column] and len(one[column]) == 7
    a, b = chunks.load_state(tmp_path / "two"), chunks.load_state(tmp_path / "one")
    assert a["epochs"] == b["epochs"] == 7
    assert len(a["arrays"]) == len(b["arrays"])
    for x, y in zip(a["arrays"], b["arrays"]):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    # the state is (weights, Adam m, Adam v, step count): the step count went on from the first call
    steps = -(-len(data.X_train) // TRAINING.batch_size) * 7
    assert float(a["arrays"][-1].ravel()[0]) == steps
    # and equals the engine's uninterrupted run
    spec = autoencoder_spec(D, 3)
    settings = chunks._settings(TRAINING, 7)
    [result] = train_group([spec], data.X_train, None, data.X_val, None, settings, [TRAINING.seed], progress=False)
    assert result.history["val_loss"] == one["val_mse"]
    for weight, leaf in zip(result.weights, a["arrays"][:4]):
        assert np.array_equal(weight, leaf[0])
    # a state already past the target is returned as it is
    assert chunks.train_until(data.X_train, data.X_val, 3, TRAINING, tmp_path / "one", 5)["val_mse"] == one["val_mse"]


@pytest.mark.slow
def test_interrupted_run_resumes_at_the_last_finished_epoch(tmp_path, monkeypatch):
    """Ctrl-C in the middle of a chunk keeps the finished chunks' outputs; the rerun trains only what is
    missing (from the engine's checkpoint of the last finished epoch) and ends with the uninterrupted
    run's numbers."""
    data = _data()
    real = chunks.train_until
    calls, epochs_trained = [], []

    def interrupting(X, Xv, h_e, training, folder, target, on_epoch=None):
        calls.append((h_e, target))

        def spy(epoch, record):
            epochs_trained.append((h_e, epoch))
            if on_epoch:
                on_epoch(epoch, record)
            if len(calls) == 3 and epoch == 3:
                raise KeyboardInterrupt
        return real(X, Xv, h_e, training, folder, target, spy)

    monkeypatch.setattr(dyn, "train_until", interrupting)
    kw = dict(h_e=[2, 5], epochs=6, chunk=2, progress=False, command="resume-me")
    with pytest.raises(KeyboardInterrupt):
        dyn.run(data, TRAINING, cache=tmp_path / "cache", out=tmp_path / "out", **kw)
    assert calls == [(2, 2), (5, 2), (2, 4)]
    partial = pd.read_csv(tmp_path / "out" / "dynamics.csv")
    assert partial.groupby("h_e")["epoch"].max().to_dict() == {2: 2, 5: 2}
    summary = json.loads((tmp_path / "out" / "dynamics.json").read_text())
    assert summary["epochs_reached"] == 2 and summary["command"] == "resume-me" and not summary["complete"]

    calls.clear()
    epochs_trained.clear()
    dyn.run(data, TRAINING, cache=tmp_path / "cache", out=tmp_path / "out", **kw)
    assert calls == [(2, 4), (5, 4), (2, 6), (5, 6)]
    assert [e for h, e in epochs_trained if h == 2] == [4, 5, 6]      # epoch 3 was kept
    assert [e for h, e in epochs_trained if h == 5] == [3, 4, 5, 6]
    resumed = pd.read_csv(tmp_path / "out" / "dynamics.csv")

    monkeypatch.setattr(dyn, "train_until", real)
    dyn.run(data, TRAINING, cache=tmp_path / "cache2", out=tmp_path / "out2", **kw)
    straight = pd.read_csv(tmp_path / "out2" / "dynamics.csv")
    pd.testing.assert_frame_equal(resumed.drop(columns="seconds"), straight.drop(columns="seconds"))
    assert len(straight) == 12
    summary = json.loads((tmp_path / "out" / "dynamics.json").read_text())
    assert summary["complete"] and summary["h_e"] == [2, 5]
    pca = fit_pca(data.X_train).mse(data.X_val, [2, 5])
    assert np.allclose(straight.groupby("h_e")["pca_val_mse"].first().to_numpy(), pca, rtol=1e-12)
    # a longer target continues from the saved state: only the new epochs are trained
    epochs_trained.clear()
    monkeypatch.setattr(dyn, "train_until", interrupting)
    calls.append("past the interruption")
    dyn.run(data, TRAINING, cache=tmp_path / "cache", out=tmp_path / "out", **{**kw, "epochs": 8})
    assert sorted(epochs_trained) == [(2, 7), (2, 8), (5, 7), (5, 8)]


def _table(gaps_by_h_e: dict[int, np.ndarray], pca: float = 2.0) -> pd.DataFrame:
    histories = {h: {"val_mse": list(pca * (1 + g)), "train_loss": list(pca * (1 + g)),
                     "seconds": [3.0] + [0.5] * (len(g) - 1)} for h, g in gaps_by_h_e.items()}
    return claims.dynamics_table(histories, {h: pca for h in gaps_by_h_e})


def test_summary_gap_and_verdicts_on_known_curves():
    """Gaps of 2 e^-1/2 (h_e 10) and 0.5 e^-1/10 (h_e 300) over 400 of 10,000 epochs."""
    e = np.arange(1, 401, dtype=np.float64)
    table = _table({10: 2.0 * e ** -0.5, 300: 0.5 * e ** -0.1})
    assert np.allclose(table.loc[table["h_e"] == 10, "gap"], 2.0 * e ** -0.5, rtol=1e-12)
    s = claims.summarise(table, target=10_000, tolerance=0.05)
    low, high = s["per_h_e"]["10"], s["per_h_e"]["300"]
    assert low["epochs"] == 400 and not low["complete"] and s["epochs_reached"] == 400
    assert low["gap"] == pytest.approx(2.0 / 20.0, rel=1e-9)                     # (val - pca) / pca at epoch 400
    assert low["val_mse"] == pytest.approx(2.0 * 1.1) and low["pca_val_mse"] == 2.0
    assert low["excess_mse"] == pytest.approx(0.2)
    # epochs 360..400
    assert low["val_mse_change_last_tenth"] == pytest.approx((1 + 2 / 20) / (1 + 2 / 360 ** 0.5) - 1)
    assert low["power_law"]["exponent"] == pytest.approx(-0.5, rel=1e-6)
    assert low["epochs_to_tolerance"] == pytest.approx((0.05 / 2.0) ** -2, rel=1e-6)   # 1,600 epochs
    assert low["gap_at_target"] == pytest.approx(2.0 / 100.0, rel=1e-6)
    assert low["seconds_per_epoch"] == 0.5 and low["seconds_per_epoch_last_100"] == 0.5
    assert low["seconds_left"] == pytest.approx(9_600 * 0.5)
    assert high["gap_at_target"] == pytest.approx(0.5 * 10_000 ** -0.1, rel=1e-6)
    below, above = s["claims"]["pca_equals_linear_ae_below_200"], s["claims"]["pca_better_above_200"]
    assert below["holds"] is False and below["at_target"] is True
    assert below["epochs_to_tolerance"] == pytest.approx(1_600, rel=1e-6)
    assert "within the paper's epochs" in below["verdict"] and "h_e 10: +10.00% (0% of the last 100" in below["verdict"]
    assert low["gap_last_100"] == pytest.approx({"median": 2.0 / 350.5 ** 0.5, "min": 0.1, "max": 2.0 / 301 ** 0.5,
                                                 "share_within_tolerance": 0.0}, rel=1e-3)
    assert above["holds"] is True and above["distinguishable"] is True and above["at_target"] is True
    assert above["min_gap"] == pytest.approx(0.5 * 400 ** -0.1)
    assert s["claims"]["contrast"] == {**s["claims"]["contrast"], "holds": False, "at_target": True}
    assert below["published"]["text"].startswith("PCA and a linear autoencoder")

    # measured once the target is reached; a gap within the tolerance gives the first epoch it was
    done = claims.summarise(table, target=400, tolerance=0.2)
    low = done["per_h_e"]["10"]
    assert done["complete"] and low["gap_at_target_is"] == "measured" and low["gap_at_target"] == low["gap"]
    assert low["first_epoch_within_tolerance"] == 100 and low["epochs_to_tolerance"] == 100
    assert low["gap_last_100"]["share_within_tolerance"] == 1.0
    assert done["claims"]["pca_equals_linear_ae_below_200"]["holds"] is True
    assert "after 400 epochs" in done["claims"]["pca_equals_linear_ae_below_200"]["verdict"]
    # a gap that does not shrink has no epoch count
    flat = claims.summarise(_table({10: np.full(50, 0.3)}), target=100, tolerance=0.05)
    assert flat["per_h_e"]["10"]["epochs_to_tolerance"] is None
    assert flat["claims"]["pca_better_above_200"]["holds"] is None


def test_outputs_are_written_and_state_is_keyed_by_data(tmp_path):
    table = _table({4: np.linspace(1.0, 0.1, 20)})
    summary = claims.summarise(table, target=20)
    csv, js = dyn.write_outputs(table, summary, tmp_path)
    back = pd.read_csv(csv)
    assert list(back.columns) == claims.COLUMNS and len(back) == 20
    assert np.allclose(back["gap"], np.linspace(1.0, 0.1, 20))
    assert json.loads(js.read_text())["per_h_e"]["4"]["epochs"] == 20
    a, b = _data(seed=0).fingerprint(), _data(seed=1).fingerprint()
    assert chunks.state_key(4, TRAINING, a) != chunks.state_key(4, TRAINING, b) != chunks.state_key(5, TRAINING, b)
    other_epochs = TRAINING.__class__(**{**TRAINING.as_dict(), "epochs": 9})
    assert chunks.state_key(4, TRAINING, a) == chunks.state_key(4, other_epochs, a)


def test_summary_names_state_relative_to_the_project(tmp_path, monkeypatch):
    """A committed dynamics.json must not carry one machine's absolute paths."""
    monkeypatch.setenv("PIXELSOAP_ROOT", str(tmp_path))
    summary = dyn.run(_data(), TRAINING, h_e=[2], epochs=1, chunk=1, progress=False,
                      cache=tmp_path / "results" / "state", out=tmp_path / "out")
    (folder,) = summary["state"].values()
    assert folder.startswith("results/state/linear-dynamics-") and (tmp_path / folder).is_dir()
    outside = dyn.run(_data(), TRAINING, h_e=[2], epochs=1, chunk=1, progress=False,
                      cache=tmp_path.parent / f"{tmp_path.name}-elsewhere", out=tmp_path / "out2")
    assert all(Path(f).is_absolute() for f in outside["state"].values())


def test_state_keys_of_saved_runs_stay_the_same():
    """The folders a run of the paper's protocol (Adam 1e-4, batch 512, seed 0) saved its states in: a
    change of the key would orphan them, and the run would start again from epoch 0."""
    paper = TrainingConfig(learning_rate=1e-4, batch_size=512, epochs=10_000, patience=None, seed=0)
    assert {h: chunks.state_key(h, paper, "99797c7e083bb383") for h in (16, 100, 250)} == {
        16: "linear-dynamics-011ee4cfffe54fe14850a82a", 100: "linear-dynamics-1fd05d5b1e92e51ab0136abd",
        250: "linear-dynamics-a1e92d444fc6b7294a73db94"}


def test_report_rows_read_the_summary(tmp_path):
    """The two rows of artifacts.yaml for the long run find every value in dynamics.json and judge it."""
    from pixelsoap import report

    e = np.arange(1, 401, dtype=np.float64)
    table = _table({16: 2.0 * e ** -1.0, 100: 20.0 * e ** -0.5, 250: 5e4 * e ** -0.2})
    summary = {**claims.summarise(table, target=10_000),
               "command": "python -m pixelsoap.experiments.experiment2.dynamics"}
    dyn.write_outputs(table, summary, tmp_path / dyn.OUTPUT_DIR)

    def near_200(gap_150: float) -> None:
        """The run near h_e 200 (its own folder, as `--out` writes it): h_e 199 within, h_e 150 at ``gap_150``."""
        near = _table({150: gap_150 + 0.0 * e, 199: 0.01 + 0.0 * e})
        dyn.write_outputs(near, {**claims.summarise(near, target=10_000), "command": "near"},
                          tmp_path / paths.DYNAMICS_NEAR_200.parent)

    def rows() -> tuple:
        ids = ("experiment2.claims.pca_equals_linear_ae_below_200", "experiment2.claims.pca_better_above_200")
        found = {r.id: r for r in report.evaluate_rows(tmp_path) if r.id in ids}
        return tuple(found[i] for i in ids)

    near_200(0.02)
    below, above = rows()
    # the long runs' values are all found (the pipeline's short run, shown beside them, has not run here)
    assert not [s.label for r in (below, above) for s in r.shown
                if s.missing and s.label.startswith(("long run", "run near"))]
    assert below.status == report.NOT_REPRODUCED                       # h_e 100: 20 / sqrt(400) = 100 %
    assert "after 400 of 10,000 epochs" in below.why and "h_e 100: +100.00%" in below.why
    assert below.shown[0].text == "16: 400, 100: 400"
    assert above.status == report.REPRODUCED
    # the first run holding is not enough: h_e 150, near the paper's line, must hold too
    table = _table({16: 0.01 + 0.0 * e, 100: 0.02 + 0.0 * e, 250: 5e4 * e ** -0.2})
    dyn.write_outputs(table, {**claims.summarise(table, target=10_000), "command": "first"},
                      tmp_path / dyn.OUTPUT_DIR)
    assert rows()[0].status == report.REPRODUCED
    near_200(0.5)
    below = rows()[0]
    assert below.status == report.NOT_REPRODUCED and "h_e 150: +50.00%" in below.why


@pytest.mark.slow
def test_out_puts_the_outputs_and_the_state_of_a_run_in_its_own_folder(tmp_path, monkeypatch):
    """`--out DIR`: dynamics.json, dynamics.csv and DIR/dynamics-state, nothing in the default folders."""
    monkeypatch.setattr(dyn, "load", lambda: None)
    monkeypatch.setattr(dyn.CompressionData, "from_dataset", classmethod(lambda cls, *args, **kwargs: _data()))
    monkeypatch.setattr(dyn, "load_stage_params", lambda *args, **kwargs: {
        "seed": 3, "experiment2": {"n_train": None, "training": {"learning_rate": 1e-3, "batch_size": 32}}})
    monkeypatch.setattr(dyn, "output_dir", lambda: pytest.fail("the default output folder was used"))
    monkeypatch.setattr(dyn, "cache_root", lambda: pytest.fail("the default state folder was used"))
    out = tmp_path / "near-200"
    dyn.main(["--h-e", "2", "3", "--epochs", "2", "--chunk", "1", "--out", str(out), "--no-progress"])
    summary = json.loads((out / "dynamics.json").read_text())
    assert summary["complete"] and summary["h_e"] == [2, 3]
    assert sorted(pd.read_csv(out / "dynamics.csv")["h_e"].unique()) == [2, 3]
    assert len(list((out / dyn.STATE_DIR.name).iterdir())) == 2     # one saved state per h_e
