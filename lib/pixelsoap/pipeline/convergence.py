"""``python -m pixelsoap.pipeline.convergence``: the search's ranking at a ladder of budgets, and Fig. 10c.

The study itself (what it trains, how it caches, what it measures) is
:mod:`pixelsoap.experiments.search.convergence`; this entry point runs it for the active profile's
search settings (or ``--profile``), writes its record (``results/experiment1/ranking_stability.json``)
and draws Fig. 10c (:func:`pixelsoap.plots.experiment1.fig10c_ranking_stability`).  It is a study of
its own, committed and read by the report, not a stage of ``make reproduce``.
"""

from __future__ import annotations

import argparse

from pixelsoap.experiments.search.convergence import DEFAULT_BUDGETS, FIGURE, OUTPUT, parse_budget, run_study
from pixelsoap.plots import save_figure
from pixelsoap.plots.experiment1 import fig10c_ranking_stability
from pixelsoap.runtime import paths
from pixelsoap.runtime.io import write_json
from pixelsoap.runtime.profiles import load_params, load_profile


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Ranking of the search's trials against the search budget.")
    parser.add_argument("--profile", help="profile whose search settings to use (default: params.yaml)")
    parser.add_argument("--trials", type=int, default=24, help="parameter sets (the search's first usable draws)")
    parser.add_argument("--budgets", nargs="+", type=parse_budget, default=list(DEFAULT_BUDGETS),
                        metavar="SPECTRAxEPOCHS", help="e.g. 2500x5 5000x10 10000x20 (smallest first)")
    args = parser.parse_args(argv)
    params = load_profile(args.profile) if args.profile else load_params()
    record = run_study(params, args.trials, args.budgets)
    record["profile"] = args.profile or "params.yaml"
    root = paths.project_root()
    write_json(root / OUTPUT, record)
    save_figure(fig10c_ranking_stability(record), FIGURE)
    for step in record["steps"]:
        print(f"{step['from'][0]}x{step['from'][1]} -> {step['to'][0]}x{step['to'][1]}: "
              f"rho {step['spearman_rho']:.3f}, tau {step['kendall_tau']:.3f}, top overlap {step['top_overlap']:.2f}, "
              f"same best: {step['same_best']}")
    print(f"settled from: {record['settled_from']}; written {root / OUTPUT}")


if __name__ == "__main__":
    main()
