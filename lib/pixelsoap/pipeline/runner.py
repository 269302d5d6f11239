"""Run a section notebook with papermill, parameterised from the active profile.

Notebooks live in ``notebooks/`` as py:percent scripts (jupytext): no outputs,
no execution metadata.  This runner converts one to ``.ipynb``, injects the
profile sections it asks for into its tagged ``parameters`` cell, executes it
with an explicit kernel, a per-cell timeout and logged output, and writes the
executed copy atomically (an interrupted run leaves no half-written notebook).
Before anything runs, the injected sections (and ``seed``) are checked against the
profile schema (:mod:`pixelsoap.runtime.profile_schema`); a broken one stops the stage with
one line per problem and exit status 2.

Command line (as used in ``dvc.yaml``)::

    python -m pixelsoap.pipeline.runner notebooks/01-conversion.py results/notebooks/01-conversion.ipynb \
        --sections seed conversion --kernel pixelsoap --timeout 1800 --log-output
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
from pathlib import Path

from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.interrupt import exit_if_interrupted
from pixelsoap.runtime.io import atomic_path
from pixelsoap.runtime.profiles import load_stage_params

KERNEL = "pixelsoap"


def has_parameters_cell(notebook) -> bool:
    """True if a code cell carries the ``parameters`` tag papermill injects after."""
    return any(c.cell_type == "code" and "parameters" in c.metadata.get("tags", []) for c in notebook.cells)


def run_notebook(source: str | Path, output: str | Path, parameters: dict, *, kernel: str = KERNEL,
                 timeout: int = 1800, log_output: bool = True) -> Path:
    """Execute ``source`` (py:percent or .ipynb) with ``parameters``; write the executed copy to ``output``.

    Raises ValueError if the notebook has no tagged ``parameters`` cell (papermill
    would otherwise silently ignore the injected values).
    """
    jupytext = require("jupytext", extra="pipeline")  # optional (pipeline extra), imported where it is used
    nbformat = require("nbformat", extra="pipeline")
    papermill = require("papermill", extra="pipeline")

    source, output = Path(source), Path(output)
    notebook = jupytext.read(source)
    if not has_parameters_cell(notebook):
        raise ValueError(f"{source} has no code cell tagged 'parameters': injected values would be ignored")
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    remove_leftovers(output)
    with tempfile.TemporaryDirectory() as tmp, atomic_path(output) as out_tmp:
        converted = Path(tmp) / (source.stem + ".ipynb")
        nbformat.write(notebook, converted)
        papermill.execute_notebook(str(converted), str(out_tmp), parameters=parameters, kernel_name=kernel,
                                   log_output=log_output, execution_timeout=timeout,
                                   cwd=str(paths.project_root()), progress_bar=not log_output)
    return output


def remove_leftovers(output: str | Path) -> list[Path]:
    """Delete the temporary copies (``.<stem>.*.tmp.ipynb``) an earlier, killed run left beside ``output``.

    Returns the paths removed.  (A run stopped by Ctrl-C or SIGTERM removes its own: see :func:`main`.)
    """
    output = Path(output)
    removed = []
    for path in output.parent.glob(f".{output.stem}.*.tmp{output.suffix}"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="notebook (py:percent script or .ipynb)")
    parser.add_argument("output", help="where the executed .ipynb goes")
    parser.add_argument("--sections", nargs="*", default=[],
                        help="top-level keys of params.yaml injected as notebook parameters")
    parser.add_argument("--params", default=None, help="parameter file (default: <root>/params.yaml)")
    parser.add_argument("-k", "--kernel", default=KERNEL)
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell execution timeout, seconds")
    parser.add_argument("--log-output", action="store_true", help="stream cell output to the log")
    args = parser.parse_args(argv)
    exit_if_interrupted(Path(args.output).stem)
    # DVC stops a stage with SIGTERM on some paths: exit through Python so temporary files are removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.log_output:  # papermill logs cell output on its logger, at INFO
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    params = load_stage_params(args.params, args.sections, Path(args.output).stem)
    missing = [s for s in args.sections if s not in params]
    if missing:
        sys.exit(f"params file lacks section(s) {', '.join(missing)}")
    # outputs = "pipeline": the notebook writes the project's figures/ and results/, not scratch/
    run_notebook(args.source, args.output, {**{s: params[s] for s in args.sections}, "outputs": "pipeline"},
                 kernel=args.kernel, timeout=args.timeout, log_output=args.log_output)


if __name__ == "__main__":
    main()
