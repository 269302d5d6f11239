"""Headline metrics: a few flat numbers per stage, the ones ``dvc metrics show`` and ``dvc exp show`` print.

Each computing stage writes a detailed JSON file (``results/<stage>/metrics.json``; the search
writes ``results/experiment1/search.json``) that the report reads.  Those files hold hundreds of
values, too many for a table, so DVC declares them as plain outputs and declares as metrics only
``results/<stage>/headline.json``: 2-6 numbers picked from the detailed file by :data:`HEADLINES`.

The ``headline`` stage of ``dvc.yaml`` runs ``python -m pixelsoap.pipeline.headline`` after the others; it
costs nothing, and a change to the table below reruns only it.

A path into a detailed file is a dotted string; a part made of digits indexes a list
(``table1.0.accuracy.ours`` is ``data["table1"][0]["accuracy"]["ours"]``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pixelsoap.runtime import paths
from pixelsoap.runtime.interrupt import exit_if_interrupted
from pixelsoap.runtime.io import write_json

#: stage -> (detailed file under the project root, {headline name: dotted path into that file})
HEADLINES: dict[str, tuple[str, dict[str, str]]] = {
    "conversion": ("results/conversion/metrics.json", {       # Fig. 7: points per image (mean)
        "points_per_image_train": "points_per_image.train.mean",
        "images_train": "points_per_image.train.images",
    }),
    "soap": ("results/soap/metrics.json", {                   # largest relative deviations
        "dscribe_max_rel_diff": "closed_form_max_rel_diff",           # Eq. A7 + Eq. 5 against DScribe
        "invariance_max_rel_diff": "invariance_max_rel_diff",         # rotated / mirrored digits
        "descriptor_size": "descriptor_size",
    }),
    "spectra": ("results/spectra/metrics.json", {             # sampled spectra (rows)
        "n_train": "n_train",
        "n_val": "n_val",
        "n_test": "n_test",
    }),
    "search": ("results/experiment1/search.json", {           # Fig. 10
        "best_val_accuracy": "best_val_accuracy",
        "best_r_cut": "best_params.r_cut",
        "trials_complete": "n_complete",
        "trials_failed": "n_failed",
    }),
    "experiment1": ("results/experiment1/metrics.json", {     # Table 1
        "test_accuracy_profile_params": "table1.0.accuracy.ours",     # at the profile's soap
        "test_accuracy_search_best": "table1.1.accuracy.ours",
        "accuracy_minus_paper": "table1.0.accuracy.difference",
    }),
    "experiment2": ("results/experiment2/metrics.json", {     # Fig. 18-19
        "linear_ae_minus_pca_val_mse": "mse_findings.linear_vs_pca_optimum.min_gap_val",   # smallest gap
        "uncompressed_accuracy": "accuracy_findings.baseline_accuracy",
        "pca_accuracy_ratio_h_e_100": "accuracy_findings.at.per_method.pca.ratio",
        "deep_accuracy_ratio_h_e_100": "accuracy_findings.at.per_method.deep.ratio",
    }),
    "experiment3": ("results/experiment3/metrics.json", {     # Fig. 20: mean test accuracy over seeds
        "accuracy_sigma_0": "findings.baseline.accuracy",
        "accuracy_sigma_1": "findings.ratio_at_1.accuracy",
        "accuracy_sigma_3_9": "findings.value_at_3_9.accuracy",
    }),
    "experiment4": ("results/experiment4/metrics.json", {     # Fig. 21: accuracy upright and over angles
        "soap_vote_upright": "upright.soap_vote.accuracy",
        "soap_vote_mean_over_angles": "invariance.soap_vote.mean_over_angles",
        "cnn_upright": "upright.cnn.accuracy",
        "cnn_mean_over_angles": "invariance.cnn.mean_over_angles",
    }),
    "baselines": ("results/baselines/metrics.json", {         # Fig. 23: means over seeds (test rows)
        "soap_test_accuracy_row_split": "models.soap_row.test_accuracy.mean",
        "window_test_accuracy_row_split": "models.window_row.test_accuracy.mean",
        "soap_minus_window_row_split": "gain_over_window.row.mean",
        "soap_val_accuracy_leak": "row_split_leak.soap.val_accuracy.mean",   # row split minus image split
    }),
    "experiment5": ("results/experiment5/metrics.json", {     # per-pixel accuracy, means over seeds
        "e5_paper_upright": "accuracy.paper.rotate_0.soap_pixel.mean",
        "e5_paper_at_45": "accuracy.paper.rotate_45.soap_pixel.mean",
        "e5_plane_weight_at_45": "accuracy.plane_weight.rotate_45.soap_pixel.mean",
        "e5_z_weight_at_45": "accuracy.z_weight.rotate_45.soap_pixel.mean",
    }),
}


def headline_path(stage: str, root: str | Path | None = None) -> Path:
    """``<root>/results/<stage>/headline.json``."""
    return Path(root or paths.project_root()) / "results" / stage / "headline.json"


def detail_path(stage: str, root: str | Path | None = None) -> Path:
    """The detailed metrics file the headline of ``stage`` is picked from."""
    return Path(root or paths.project_root()) / HEADLINES[stage][0]


def lookup(data: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``a.b.0.c``) in nested dicts and lists; a KeyError names the missing part."""
    node = data
    for i, part in enumerate(dotted.split(".")):
        try:
            node = node[int(part)] if isinstance(node, list) and part.isdigit() else node[part]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{dotted}: no {'.'.join(dotted.split('.')[:i + 1])}") from None
    return node


def headline(stage: str, root: str | Path | None = None) -> dict[str, float | int | None]:
    """The headline numbers of ``stage``: {name: number}, read from its detailed metrics file.

    A value the stage recorded as null (a measurement a small profile does not make, such as an
    accuracy at an encoding size it does not train) stays None; DVC shows it as ``-``.  Raises
    KeyError (unknown stage, or a path missing from the file: the detailed file changed shape) or
    TypeError (a value that is neither a number nor null: DVC shows only numbers as metrics).
    """
    if stage not in HEADLINES:
        raise KeyError(f"no headline for stage {stage!r} (known: {', '.join(HEADLINES)})")
    source = detail_path(stage, root)
    data = json.loads(source.read_text())
    out = {}
    for name, dotted in HEADLINES[stage][1].items():
        try:
            value = lookup(data, dotted)
        except KeyError as exc:
            raise KeyError(f"{source}: {exc.args[0]}") from None
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"{source}: {dotted} is {value!r}, not a number")
        out[name] = value
    return out


def write_headline(stage: str, root: str | Path | None = None) -> Path:
    """Write :func:`headline` of ``stage`` to :func:`headline_path`; returns the path."""
    return write_json(headline_path(stage, root), headline(stage, root))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", help=f"stages to write (default: all of {', '.join(HEADLINES)})")
    args = parser.parse_args(argv)

    exit_if_interrupted("headline")
    for stage in args.stages or HEADLINES:
        print(write_headline(stage).relative_to(paths.project_root()))


if __name__ == "__main__":
    main()
