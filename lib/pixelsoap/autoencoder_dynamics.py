"""How the linear autoencoder approaches PCA under the paper's protocol (Sec. 4.3.3; issue 15).

The paper reports that "PCA and a linear autoencoder exhibit identical performance for h_e < 200,
PCA becoming superior at higher dimensions", training every autoencoder for 10,000 epochs (Adam,
learning rate 1e-4, batch 512) on 96,000 spectra of 308 features.  A linear autoencoder's optimum
reconstructs through PCA's subspace (its training MSE cannot go below PCA's, and reaches it), so
whether the two look "identical" is a question of training dynamics: how close Adam gets in the
paper's number of steps, at each h_e.  The pipeline's profiles cap the epochs (10 in ``default``);
this module is the separate, resumable long run that answers it.

``python -m pixelsoap.autoencoder_dynamics [--h-e 16 100 250] [--epochs 10000] [--chunk 100]``
trains one linear autoencoder per h_e on Experiment 2's data (the ``spectra`` stage's rows rescaled
by its RobustScaler, the same training and validation rows and the same seed as
:mod:`pixelsoap.compression`, so epoch 10 repeats ``results/experiment2/mse.csv``), with the
profile's learning rate and batch size and no early stopping, and records the validation MSE after
every epoch beside PCA's at the same h_e.  The h_e values take turns, one chunk of epochs each; after
every chunk it writes, atomically,

- ``results/experiment2/dynamics.csv``: h_e, epoch, val_mse, train_loss (the epoch's mean batch loss),
  pca_val_mse, gap = (val_mse - pca_val_mse) / pca_val_mse, seconds (wall seconds of the epoch);
- ``results/experiment2/dynamics.json``: per h_e the epochs reached, the gap at the last epoch, its
  power-law extrapolation, seconds per epoch; the machine; the command that resumes the run; and the
  verdict of the two claims on what was reached (:func:`summarise`).

**Resuming.**  Each h_e keeps its training state (weights, Adam's moments and step count, epochs done)
in ``data/cache/autoencoder-dynamics/<key>/`` after every chunk (:func:`train_until`), and the training
engine keeps its own checkpoint after every epoch inside a chunk, so Ctrl-C or a kill loses at most
the epoch in progress; the same command resumes.  A chunk continues exactly where the last one
stopped: ``N`` epochs then ``M`` more give the weights of ``N + M`` epochs in one call (batch order
and Adam steps depend on the seed and the absolute epoch only; a test checks it bit for bit).
A larger ``--epochs`` later continues from the saved state.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import paths
from . import training_checkpoint as checkpoint
from .io import atomic_path, write_json
from .jobs import UNREADABLE, digest, set_aside

#: encoding sizes of the default run: both sides of the paper's split at 200 (measured cost, see README)
DEFAULT_H_E = (16, 100, 250)
#: the paper's training length (Sec. 4.3.2)
PAPER_EPOCHS = 10_000
#: epochs per turn of one h_e (the state and the outputs are saved after each; a turn costs about a second
#: of set-up, data checks and hashing, on top of its epochs)
DEFAULT_CHUNK = 100
#: h_e below it: "identical"; at or above it: "PCA superior" (the paper's split)
SPLIT = 200
#: bump when the meaning of a saved state changes
FORMAT_VERSION = 1
STATE_FILE = "state.npz"
COLUMNS = ["h_e", "epoch", "val_mse", "train_loss", "pca_val_mse", "gap", "seconds"]
#: history keys of the training engine -> our column names
_HISTORY = {"val_loss": "val_mse", "loss": "train_loss", "epoch_seconds": "seconds"}


# --------------------------------------------------------------------------- one autoencoder, in chunks


def identical_tolerance() -> float:
    """The relative gap within which Experiment 2 calls the MSEs "identical"
    (:data:`pixelsoap.compression_claims.IDENTICAL_GAP`)."""
    from .compression_claims import IDENTICAL_GAP

    return float(IDENTICAL_GAP)


def _settings(training, epochs: int):
    """The engine's TrainSettings for ``training`` (a :class:`pixelsoap.compression.TrainingConfig`) run to
    ``epochs`` epochs in total, without early stopping."""
    from .autoencoders import training_settings

    return training_settings(dataclasses.replace(training, epochs=int(epochs), patience=None))


def state_key(h_e: int, training, fingerprint: str) -> str:
    """Folder name of one autoencoder's saved state: a hash of h_e, the protocol (epochs aside) and the data."""
    return digest("linear-dynamics", {"format": FORMAT_VERSION, "h_e": int(h_e), "data": fingerprint,
                                      "learning_rate": float(training.learning_rate),
                                      "batch_size": int(training.batch_size), "seed": int(training.seed)})


def load_state(folder: str | Path) -> dict[str, Any] | None:
    """The saved state of ``folder`` as {"arrays", "host", "history", "epochs"}, or None.

    arrays : the engine's state arrays (weights, Adam moments, step count) after ``epochs`` epochs;
    host : the engine's host-side state without its histories; history : column -> list per epoch
    (:data:`_HISTORY` values).  An unreadable file is set aside (:func:`pixelsoap.jobs.set_aside`).
    """
    path = Path(folder) / STATE_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            arrays = [stored[f"array_{i}"] for i in range(int(meta["n_arrays"]))]
            history = {c: stored[f"history_{c}"].astype(np.float64).tolist() for c in _HISTORY.values()}
    except UNREADABLE as error:
        set_aside(path, error)
        return None
    if meta.get("format") != FORMAT_VERSION or any(len(v) != meta["epochs"] for v in history.values()):
        set_aside(path, f"format {meta.get('format')} or history lengths do not match")
        return None
    return {"arrays": arrays, "host": meta["host"], "history": history, "epochs": int(meta["epochs"])}


def save_state(folder: str | Path, arrays: Sequence[np.ndarray], host: Mapping[str, Any],
               history: Mapping[str, Sequence[float]], info: Mapping[str, Any] | None = None) -> Path:
    """Write one autoencoder's state atomically (see :func:`load_state`); ``info`` is kept for reading."""
    epochs = int(host["epochs_done"])
    if any(len(history[c]) != epochs for c in _HISTORY.values()):
        raise ValueError(f"history lengths {[len(history[c]) for c in _HISTORY.values()]} != {epochs} epochs")
    meta = json.dumps({"format": FORMAT_VERSION, "epochs": epochs, "n_arrays": len(arrays),
                       "host": {k: v for k, v in host.items() if k != "histories"}, "info": dict(info or {})})
    target = Path(folder) / STATE_FILE
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, meta=np.array(meta), **{f"array_{i}": np.asarray(a) for i, a in enumerate(arrays)},
                     **{f"history_{c}": np.asarray(history[c], np.float64) for c in _HISTORY.values()})
    return target


def train_until(X_train: np.ndarray, X_val: np.ndarray, h_e: int, training, folder: str | Path, epochs: int,
                on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, list[float]]:
    """Train the linear autoencoder of code size ``h_e`` until it has ``epochs`` epochs in all; its history.

    Starts from the state saved in ``folder`` (:func:`save_state`: weights, Adam's moments and step
    count, epochs done) or from the seeded initial weights, continues with the training engine
    (:func:`pixelsoap.training.train_group`; batch order and Adam steps depend on the seed and the
    absolute epoch only), and saves the state at ``epochs``.  The engine checkpoints every epoch in
    ``folder/engine`` (keyed by this call's target), so an interrupted call resumed with the same
    target loses at most the epoch in progress.  Returns column -> per-epoch list for every epoch
    since the first (val_mse, train_loss, seconds); ``on_epoch(epoch, record)`` is called after each
    epoch trained here.  A state already at or past ``epochs`` is returned as it is.

    training : a :class:`pixelsoap.compression.TrainingConfig` (learning rate, batch size, seed; its
    epochs and patience are ignored: every epoch is trained).
    """
    from .training import autoencoder_spec, train_group

    folder = Path(folder)
    saved = load_state(folder)
    start = 0 if saved is None else saved["epochs"]
    if start >= epochs:
        return saved["history"]
    X_train = np.ascontiguousarray(X_train, np.float32)
    X_val = np.ascontiguousarray(X_val, np.float32)
    spec = autoencoder_spec(X_train.shape[1], int(h_e))
    settings = _settings(training, epochs)
    seeds = [int(training.seed)]
    engine_dir = folder / "engine"
    # The engine's checkpoint key of this call: train_group(specs, X, None (targets = inputs), X_val, None, ...).
    key = checkpoint.run_key([spec], settings, seeds, [X_train, X_val])
    history = {c: list(saved["history"][c]) if saved else [] for c in _HISTORY.values()}

    def finish(arrays, host) -> dict[str, list[float]]:
        new = host["histories"][0]
        if int(host["epochs_done"]) != start + len(new.get("val_loss", [])):
            raise RuntimeError(f"h_e {h_e}: the engine's state holds {len(new.get('val_loss', []))} epochs after "
                               f"epoch {start}, but says {host['epochs_done']} are done")
        for name, column in _HISTORY.items():
            history[column] += [float(v) for v in new[name]]
        save_state(folder, arrays, host, history, {"h_e": int(h_e), "settings": repr(settings), "key": key})
        return history

    pending = checkpoint.load(engine_dir, key)
    if pending is not None and int(pending[1]["epochs_done"]) >= epochs:
        # killed between the engine's last checkpoint of this call and our save: take it as it is
        out = finish(*pending)
        checkpoint.remove(engine_dir)
        return out
    if pending is None and saved is not None:
        # hand the saved state to the engine as if this call had checkpointed it after epoch `start`
        checkpoint.save(engine_dir, key, saved["arrays"], {**saved["host"], "histories": [{}]})

    def after_epoch(done: int, histories) -> None:
        new = histories[0]
        if done != start + len(new["val_loss"]):
            raise RuntimeError(f"h_e {h_e}: the engine did not continue from epoch {start} "
                               f"(epoch {done} with {len(new['val_loss'])} new epochs)")
        if done == epochs:  # the engine's checkpoint of the last epoch: the state to keep
            restored = checkpoint.load(engine_dir, key)
            if restored is None:
                raise RuntimeError(f"h_e {h_e}: the engine's checkpoint of epoch {done} is missing")
            finish(*restored)
        if on_epoch is not None:
            on_epoch(done, {column: float(new[name][-1]) for name, column in _HISTORY.items()})

    train_group([spec], X_train, None, X_val, None, settings, seeds, checkpoint_dir=str(engine_dir),
                progress=False, on_epoch_end=after_epoch)
    return history


# --------------------------------------------------------------------------- table and summary


def dynamics_table(histories: Mapping[int, Mapping[str, Sequence[float]]], pca_val_mse: Mapping[int, float],
                   epochs: int | None = None) -> "pd.DataFrame":  # noqa: F821
    """One row per (h_e, epoch) with :data:`COLUMNS` (epochs 1-based, at most ``epochs`` per h_e)."""
    import pandas as pd

    frames = []
    for h_e in sorted(histories):
        history = histories[h_e]
        n = len(history["val_mse"]) if epochs is None else min(len(history["val_mse"]), int(epochs))
        pca = float(pca_val_mse[h_e])
        val = np.asarray(history["val_mse"][:n], np.float64)
        frames.append(pd.DataFrame({"h_e": int(h_e), "epoch": np.arange(1, n + 1), "val_mse": val,
                                    "train_loss": np.asarray(history["train_loss"][:n], np.float64),
                                    "pca_val_mse": pca, "gap": (val - pca) / pca,
                                    "seconds": np.asarray(history["seconds"][:n], np.float64)}))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def power_law_fit(epochs: np.ndarray, gaps: np.ndarray, from_fraction: float = 0.25,
                  min_points: int = 10) -> dict[str, float] | None:
    """Least-squares fit of log(gap) = log(a) + b log(epoch) over the epochs >= ``from_fraction`` x the
    last epoch where the gap is positive: {"a", "exponent", "from_epoch"}; None with too few points."""
    epochs, gaps = np.asarray(epochs, np.float64), np.asarray(gaps, np.float64)
    if not len(epochs):
        return None
    keep = (epochs >= from_fraction * epochs.max()) & (gaps > 0) & np.isfinite(gaps)
    if keep.sum() < min_points:
        return None
    b, log_a = np.polyfit(np.log(epochs[keep]), np.log(gaps[keep]), 1)
    return {"a": float(np.exp(log_a)), "exponent": float(b), "from_epoch": int(epochs[keep].min())}


def _fmt_epochs(n: float | None) -> str:
    return "never (the gap is not shrinking)" if n is None else f"{int(round(n)):,}"


def summarise_h_e(rows: "pd.DataFrame", target: int, tolerance: float) -> dict[str, Any]:  # noqa: F821
    """The summary of one h_e's rows of :func:`dynamics_table`.

    gap : (val_mse - pca_val_mse) / pca_val_mse at the last epoch; excess_mse : the difference itself
    (squared rescaled units); val_mse_change_last_tenth : relative change of val_mse over the last
    tenth of the epochs (near 0: a plateau); gap_last_100 : median, range and share within ``tolerance``
    of the gap over the last 100 epochs (Adam's steps make it jump from epoch to epoch: the verdicts
    judge the last epoch, as a model trained for exactly that many epochs is); power_law : :func:`power_law_fit` of the gap, from which
    gap_at_target and epochs_to_tolerance are extrapolated while the run is short of them (a power law
    cannot see a plateau ahead: read them as what the trend so far gives).
    """
    rows = rows.sort_values("epoch")
    last = rows.iloc[-1]
    epochs = int(last["epoch"])
    within = rows.loc[rows["gap"].abs() <= tolerance, "epoch"]
    fit = power_law_fit(rows["epoch"].to_numpy(), rows["gap"].to_numpy())
    gap = float(last["gap"])
    if abs(gap) <= tolerance:
        to_tolerance, how = int(within.min()), "measured"
    elif fit is not None and fit["exponent"] < 0:
        to_tolerance, how = float((tolerance / fit["a"]) ** (1.0 / fit["exponent"])), "extrapolated"
    else:
        to_tolerance, how = None, "extrapolated"
    if epochs >= target:
        at_target, at_target_how = float(rows.loc[rows["epoch"] == target, "gap"].iloc[0]), "measured"
    elif fit is not None:
        at_target, at_target_how = float(fit["a"] * target ** fit["exponent"]), "extrapolated"
    else:
        at_target, at_target_how = None, "extrapolated"
    timed = rows["seconds"].iloc[1:] if len(rows) > 1 else rows["seconds"]  # the first epoch compiles
    per_epoch, recent = float(timed.median()), float(timed.iloc[-100:].median())
    recent_gaps = rows["gap"].iloc[-100:]
    tenth = rows[rows["epoch"] >= 0.9 * epochs]
    change = float(tenth["val_mse"].iloc[-1] / tenth["val_mse"].iloc[0] - 1.0)
    return {"epochs": epochs, "target_epochs": int(target), "complete": epochs >= target,
            "val_mse": float(last["val_mse"]), "pca_val_mse": float(last["pca_val_mse"]), "gap": gap,
            "excess_mse": float(last["val_mse"] - last["pca_val_mse"]), "val_mse_change_last_tenth": change,
            "gap_last_100": {"median": float(recent_gaps.median()), "min": float(recent_gaps.min()),
                             "max": float(recent_gaps.max()),
                             "share_within_tolerance": float((recent_gaps.abs() <= tolerance).mean())},
            "min_gap": float(rows["gap"].min()), "first_epoch_within_tolerance": int(within.min()) if len(within) else None,
            "power_law": fit, "gap_at_target": at_target, "gap_at_target_is": at_target_how,
            "epochs_to_tolerance": to_tolerance, "epochs_to_tolerance_is": how,
            "seconds": float(rows["seconds"].sum()), "seconds_per_epoch": per_epoch,
            "seconds_per_epoch_last_100": recent, "seconds_left": max(0, int(target) - epochs) * recent}


def summarise(table: "pd.DataFrame", target: int = PAPER_EPOCHS, tolerance: float | None = None,  # noqa: F821
              split: int = SPLIT) -> dict[str, Any]:
    """Per h_e (:func:`summarise_h_e`) and the verdict of the paper's two claims on what was reached.

    - ``pca_equals_linear_ae_below_200``: holds if |gap| <= ``tolerance`` at the last epoch of every
      h_e < ``split`` (Experiment 2's rule); ``at_target`` is the same test on the gap at ``target``
      epochs (measured, or extrapolated by the power law while the run is short of it).
    - ``pca_better_above_200``: holds if gap > 0 at every h_e >= ``split`` (Experiment 2's rule);
      ``distinguishable`` if gap > ``tolerance`` (PCA better by more than the "identical" margin, what
      makes the paper's contrast between the two sides); ``at_target`` likewise at ``target``.
    - ``contrast``: identical below and distinguishable above, at the epochs reached and at ``target``.
    Gaps are relative: (linear autoencoder MSE - PCA MSE) / PCA MSE on the validation rows.
    """
    from .published import value

    tolerance = identical_tolerance() if tolerance is None else float(tolerance)
    per_h_e = {int(h): summarise_h_e(rows, target, tolerance) for h, rows in table.groupby("h_e")}
    below = {h: s for h, s in per_h_e.items() if h < split}
    above = {h: s for h, s in per_h_e.items() if h >= split}

    def at_target(group: Mapping[int, dict], test) -> bool | None:
        gaps = [s["gap_at_target"] for s in group.values()]
        return None if not gaps or any(g is None for g in gaps) else bool(all(test(g) for g in gaps))

    def common(group: Mapping[int, dict], name: str) -> dict[str, Any]:
        return {"published": value(f"experiment2.claims.{name}"), "h_e": sorted(group),
                "epochs": {str(h): s["epochs"] for h, s in group.items()},
                "gaps": {str(h): s["gap"] for h, s in group.items()},
                "excess_mse": {str(h): s["excess_mse"] for h, s in group.items()},
                "share_of_last_100_within_tolerance": {str(h): s["gap_last_100"]["share_within_tolerance"]
                                                       for h, s in group.items()},
                "gaps_at_target": {str(h): s["gap_at_target"] for h, s in group.items()},
                "complete": bool(group) and all(s["complete"] for s in group.values())}

    below_holds = bool(below) and all(abs(s["gap"]) <= tolerance for s in below.values())
    needed = [s["epochs_to_tolerance"] for s in below.values()]
    below_claim = {**common(below, "pca_equals_linear_ae_below_200"),
                   "worst_gap": max((s["gap"] for s in below.values()), key=abs, default=None),
                   "holds": below_holds if below else None,
                   "at_target": at_target(below, lambda g: abs(g) <= tolerance),
                   "epochs_to_tolerance": None if not needed or any(n is None for n in needed) else float(max(needed))}
    above_claim = {**common(above, "pca_better_above_200"),
                   "min_gap": min((s["gap"] for s in above.values()), default=None),
                   "holds": bool(all(s["gap"] > 0 for s in above.values())) if above else None,
                   "distinguishable": bool(all(s["gap"] > tolerance for s in above.values())) if above else None,
                   "at_target": at_target(above, lambda g: g > tolerance),
                   "epochs_to_tolerance": {str(h): s["epochs_to_tolerance"] for h, s in above.items()}}
    below_claim["verdict"] = _below_verdict(below_claim, below, target, tolerance)
    above_claim["verdict"] = _above_verdict(above_claim, above, target, tolerance)
    contrast = None if below_claim["holds"] is None or above_claim["holds"] is None else \
        bool(below_claim["holds"] and above_claim["distinguishable"])
    contrast_target = None if below_claim["at_target"] is None or above_claim["at_target"] is None else \
        bool(below_claim["at_target"] and above_claim["at_target"])
    return {"h_e": sorted(per_h_e), "per_h_e": {str(h): s for h, s in per_h_e.items()},
            "target_epochs": int(target), "tolerance": tolerance, "split": int(split),
            "complete": bool(per_h_e) and all(s["complete"] for s in per_h_e.values()),
            "epochs_reached": min((s["epochs"] for s in per_h_e.values()), default=0),
            "claims": {"pca_equals_linear_ae_below_200": below_claim, "pca_better_above_200": above_claim,
                       "contrast": {"published": "identical for h_e < 200, PCA superior above (Sec. 4.3.3)",
                                    "holds": contrast, "at_target": contrast_target}}}


def _where(group: Mapping[int, dict], target: int) -> str:
    epochs = sorted({s["epochs"] for s in group.values()})
    if epochs[0] >= target:
        return f"after {target:,} epochs"
    return f"after {'/'.join(f'{e:,}' for e in epochs)} of {target:,} epochs"


def _below_verdict(claim: Mapping, group: Mapping[int, dict], target: int, tolerance: float) -> str:
    if not group:
        return "no h_e below the split in this run"
    gaps = ", ".join(f"h_e {h}: {s['gap']:+.2%} ({s['gap_last_100']['share_within_tolerance']:.0%} of the last "
                     f"100 epochs within)" for h, s in sorted(group.items()))
    head = f"{'holds' if claim['holds'] else 'does not hold'} {_where(group, target)} ({gaps}; tolerance {tolerance:.0%})"
    if claim["complete"] or claim["holds"]:
        return head
    needed = claim["epochs_to_tolerance"]
    outlook = ("within the paper's epochs" if needed is not None and needed <= target else "beyond the paper's epochs")
    return f"{head}; the power law of the gap reaches {tolerance:.0%} after {_fmt_epochs(needed)} epochs ({outlook})"


def _above_verdict(claim: Mapping, group: Mapping[int, dict], target: int, tolerance: float) -> str:
    if not group:
        return "no h_e at or above the split in this run"
    gaps = ", ".join(f"h_e {h}: {s['gap']:+.2%}" for h, s in sorted(group.items()))
    head = (f"{'holds' if claim['holds'] else 'does not hold'} {_where(group, target)} ({gaps}): PCA "
            f"{'better by more' if claim['distinguishable'] else 'not better by more'} than the {tolerance:.0%} "
            f"of 'identical'")
    if claim["complete"]:
        return head
    parts = []
    for h, s in sorted(group.items()):
        if s["gap_at_target"] is not None:
            parts.append(f"h_e {h}: {s['gap_at_target']:+.2%} at {target:,} epochs ({s['gap_at_target_is']})")
    return head + (f"; power law: {', '.join(parts)}" if parts else "")


# --------------------------------------------------------------------------- the run


def output_dir() -> Path:
    """``results/experiment2``: where dynamics.csv and dynamics.json go."""
    return paths.results_dir() / "experiment2"


def cache_root() -> Path:
    """``data/cache/autoencoder-dynamics``: one folder of saved state per h_e (:func:`state_key`)."""
    return paths.cache_dir() / "autoencoder-dynamics"


def machine() -> dict[str, Any]:
    """Cores this process may use, the CPU model, the platform and the process's niceness."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": model or platform.processor() or None, "platform": platform.platform(),
            "nice": os.nice(0) if hasattr(os, "nice") else None}


def write_outputs(table, summary: Mapping[str, Any], folder: str | Path | None = None) -> tuple[Path, Path]:
    """Write dynamics.csv and dynamics.json into ``folder`` (default :func:`output_dir`), each atomically."""
    folder = Path(folder) if folder else output_dir()
    csv = folder / "dynamics.csv"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.9g")
    return csv, write_json(folder / "dynamics.json", summary)


def experiment2_check(table, mse_csv: str | Path) -> dict[str, Any]:
    """Our rows beside ``results/experiment2/mse.csv``'s at the same h_e: PCA's validation MSE, and the
    linear autoencoder's at the epoch the pipeline stopped (its best epoch), when both have it."""
    import pandas as pd

    path = Path(mse_csv)
    if not path.is_file():
        return {}
    mse = pd.read_csv(path)
    out = {}
    for h_e, rows in table.groupby("h_e"):
        entry = {}
        pca = mse[(mse["method"] == "pca") & (mse["h_e"] == h_e)]
        if len(pca):
            entry["pca_val_mse"] = {"ours": float(rows["pca_val_mse"].iloc[0]), "mse_csv": float(pca["val_mse"].iloc[0])}
        lin = mse[(mse["method"] == "linear") & (mse["h_e"] == h_e)]
        if len(lin):
            epoch = int(lin["best_epoch"].iloc[0])
            ours = rows.loc[rows["epoch"] == epoch, "val_mse"]
            entry["linear_val_mse"] = {"epoch": epoch, "ours": float(ours.iloc[0]) if len(ours) else None,
                                       "mse_csv": float(lin["val_mse"].iloc[0])}
        if entry:
            out[str(int(h_e))] = entry
    return out


def run(data, training, h_e: Sequence[int] = DEFAULT_H_E, epochs: int = PAPER_EPOCHS, chunk: int = DEFAULT_CHUNK,
        cache: str | Path | None = None, out: str | Path | None = None, command: str | None = None,
        progress: bool = True, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train every h_e to ``epochs`` epochs, ``chunk`` at a time in turns, writing the outputs after each chunk.

    data : a :class:`pixelsoap.compression.CompressionData`; training : a
    :class:`pixelsoap.compression.TrainingConfig` (learning rate, batch size, seed).  ``cache``: the folder
    of saved states (default :func:`cache_root`); ``out``: of the outputs (default :func:`output_dir`).
    Returns the last summary written.
    """
    from tqdm.auto import tqdm

    from .compression_pca import fit_pca, pca_table

    h_e = sorted({int(h) for h in h_e})
    if not h_e or not all(1 <= h <= data.n_features for h in h_e):
        raise ValueError(f"h_e must be values in 1..{data.n_features}, got {h_e}")
    if not (int(epochs) >= 1 and int(chunk) >= 1):
        raise ValueError(f"epochs and chunk must be >= 1, got {epochs}, {chunk}")
    epochs, chunk = int(epochs), int(chunk)
    cache = Path(cache) if cache else cache_root()
    out = Path(out) if out else output_dir()
    X_train = np.ascontiguousarray(data.X_train, np.float32)
    X_val = np.ascontiguousarray(data.X_val, np.float32)
    fingerprint = data.fingerprint()
    pca_val = {int(r["h_e"]): r["val_mse"] for r in pca_table(fit_pca(X_train), data) if int(r["h_e"]) in h_e}
    folders = {h: cache / state_key(h, training, fingerprint) for h in h_e}
    histories = {}
    for h in h_e:
        saved = load_state(folders[h])
        histories[h] = saved["history"] if saved else {c: [] for c in _HISTORY.values()}
    meta = {"command": command, "machine": machine(), "data": {"fingerprint": fingerprint, "n_train": len(X_train),
                                                                "n_val": len(X_val), "d": data.n_features},
            "protocol": {"learning_rate": training.learning_rate, "batch_size": training.batch_size,
                         "seed": training.seed, "early_stopping": None, "chunk": chunk},
            "state": {str(h): str(folders[h]) for h in h_e}, **dict(extra or {})}
    mse_csv = out / "mse.csv"

    def write() -> dict[str, Any]:
        table = dynamics_table({h: v for h, v in histories.items() if v["val_mse"]}, pca_val, epochs)
        if table.empty:
            return {}
        summary = {**summarise(table, epochs), **meta, "experiment2_check": experiment2_check(table, mse_csv),
                   "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_outputs(table, summary, out)
        return summary

    done = {h: len(histories[h]["val_mse"]) for h in h_e}
    bar = tqdm(total=len(h_e) * epochs, initial=sum(min(n, epochs) for n in done.values()), unit="epoch",
               desc="linear autoencoders", disable=not progress, smoothing=0.05)
    summary = write()
    try:
        while any(done[h] < epochs for h in h_e):
            for h in h_e:
                if done[h] >= epochs:
                    continue
                target = min(epochs, (done[h] // chunk + 1) * chunk)

                def on_epoch(epoch: int, record: dict[str, float], h=h) -> None:
                    bar.update(1)
                    bar.set_postfix({"h_e": h, "epoch": epoch, "gap": f"{(record['val_mse'] - pca_val[h]) / pca_val[h]:+.3%}"})

                histories[h] = train_until(X_train, X_val, h, training, folders[h], target, on_epoch)
                done[h] = len(histories[h]["val_mse"])
                bar.n = sum(min(n, epochs) for n in done.values())  # right again after a chunk resumed midway
                bar.refresh()
                summary = write()
    finally:
        bar.close()
    return summary


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def _resume_command(argv: Sequence[str]) -> str:
    return " ".join(["python -m pixelsoap.autoencoder_dynamics", *map(shlex.quote, argv)])


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m pixelsoap.autoencoder_dynamics``: see the module's docstring."""
    import argparse

    from .compression import CompressionData, TrainingConfig, parse_section
    from .profiles import load_stage_params
    from .spectra import load

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description="Validation MSE of the linear autoencoder against epochs under "
                                                 "the paper's protocol, beside PCA's (resumable; issue 15).")
    parser.add_argument("--h-e", type=int, nargs="+", default=list(DEFAULT_H_E), help="encoding sizes")
    parser.add_argument("--epochs", type=int, default=PAPER_EPOCHS, help="epochs per autoencoder (paper: 10,000)")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="epochs per turn (state saved after each)")
    parser.add_argument("--params", default=None, help="parameter file (default: params/paper.yaml, the paper's "
                                                       "protocol): seed, experiment2.n_train and experiment2.training")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from .profiles import profile_path

    params = load_stage_params(args.params or profile_path("paper"), ["experiment2"], "autoencoder dynamics")
    seed = int(params["seed"])
    section = parse_section(params["experiment2"], seed)
    training = TrainingConfig(learning_rate=section["training"].learning_rate,
                              batch_size=section["training"].batch_size, epochs=args.epochs, patience=None, seed=seed)
    data = CompressionData.from_dataset(load(), section["n_train"], seed)
    command = _resume_command(argv)
    signal.signal(signal.SIGTERM, _terminate)  # `kill` stops like Ctrl-C: temporary files removed
    print(f"{len(data.X_train):,} training and {len(data.X_val):,} validation rows, d = {data.n_features}; "
          f"h_e {sorted(set(args.h_e))}, {args.epochs:,} epochs, Adam {training.learning_rate:g}, "
          f"batch {training.batch_size}, seed {seed}; resume with: {command}", flush=True)
    try:
        summary = run(data, training, args.h_e, args.epochs, args.chunk, command=command,
                      progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted; every finished epoch is kept. Resume with: {command}", file=sys.stderr)
        sys.exit(130)
    claims = summary.get("claims", {})
    for name in ("pca_equals_linear_ae_below_200", "pca_better_above_200"):
        if name in claims:
            print(f"{name}: {claims[name]['verdict']}")


if __name__ == "__main__":
    main()
