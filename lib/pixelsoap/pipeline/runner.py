"""Run a section notebook with papermill, parameterised from the active profile.

Notebooks live in ``notebooks/`` as py:percent scripts (jupytext): no outputs,
no execution metadata.  This runner converts one to ``.ipynb``, injects the
profile sections it asks for into its tagged ``parameters`` cell, executes it
with an explicit kernel, a per-cell timeout and logged output, and writes the
executed copy atomically (an interrupted run leaves no half-written notebook).
Before anything runs, the injected sections (and ``seed``) are checked against the
profile schema (:mod:`pixelsoap.runtime.profile_schema`); a broken one stops the stage with
one line per problem and exit status 2.

With ``--log-output`` everything the stage prints goes to its log, ``results/logs/<stage>.log``
(:func:`~pixelsoap.runtime.progress.log_path`; renamed into place when the stage ends, so the last
complete log stays readable while a stage runs): papermill's cell markers, the cells' output, and
the kernel's own stdout and stderr (XLA's C++ logging).  The terminal gets only the notebook's tqdm bars
(:class:`pixelsoap.runtime.progress.TerminalBars`) and, when the stage fails, the last lines of its
log.  The kernel runs with :func:`kernel_environment`: text progress bars, and on a machine without
an NVIDIA GPU no CUDA device for JAX to probe.

Command line (as used in ``dvc.yaml``)::

    python -m pixelsoap.pipeline.runner notebooks/01-conversion.py results/notebooks/01-conversion.ipynb \
        --sections seed conversion --kernel pixelsoap --timeout 1800 --log-output
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from pixelsoap.runtime import paths
from pixelsoap.runtime.extras import require
from pixelsoap.runtime.interrupt import exit_if_interrupted
from pixelsoap.runtime.io import atomic_path
from pixelsoap.runtime.profiles import load_stage_params
from pixelsoap.runtime.progress import PROGRESS_ENV, TerminalBars, log_path, print_tail, stage_log

KERNEL = "pixelsoap"


def stage_name(output: str | Path) -> str:
    """The stage of an executed notebook: its name without the number (``03-experiment1`` -> ``experiment1``)."""
    return re.sub(r"^\d+-", "", Path(output).stem)


def has_nvidia_gpu() -> bool:
    """True if the NVIDIA driver shows a GPU on this machine (``/dev/nvidia<N>`` or ``/proc/driver/nvidia/gpus``)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return any(Path("/dev").glob("nvidia[0-9]*")) or (gpus.is_dir() and any(gpus.iterdir()))


def kernel_environment(environ: Mapping[str, str] | None = None, gpu: bool | None = None) -> dict[str, str]:
    """The variables the runner sets for the notebook kernel (on top of ``environ``, default ``os.environ``).

    - ``PIXELSOAP_PROGRESS=text``: the library's progress bars are text (see :mod:`pixelsoap.runtime.progress`);
    - without a GPU (``gpu`` False; None: :func:`has_nvidia_gpu`), ``CUDA_VISIBLE_DEVICES=""`` unless set,
      so that JAX does not look for a CUDA device.
    """
    environ = os.environ if environ is None else environ
    env = {PROGRESS_ENV: "text"}
    if not (has_nvidia_gpu() if gpu is None else gpu) and "CUDA_VISIBLE_DEVICES" not in environ:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` in ``os.environ`` (the kernel, started inside, inherits them), then restore it."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def has_parameters_cell(notebook) -> bool:
    """True if a code cell carries the ``parameters`` tag papermill injects after."""
    return any(c.cell_type == "code" and "parameters" in c.metadata.get("tags", []) for c in notebook.cells)


def run_notebook(source: str | Path, output: str | Path, parameters: dict, *, kernel: str = KERNEL,
                 timeout: int = 1800, log_output: bool = True, stderr_file: TextIO | None = None) -> Path:
    """Execute ``source`` (py:percent or .ipynb) with ``parameters``; write the executed copy to ``output``.

    ``log_output``: cell output goes to papermill's logger; ``stderr_file``: the cells' stderr is also
    written there (the runner passes :class:`~pixelsoap.runtime.progress.TerminalBars`).
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
                                   cwd=str(paths.project_root()), progress_bar=not log_output,
                                   stderr_file=stderr_file)
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
    parser.add_argument("--log-output", action="store_true",
                        help="everything the stage prints goes to its log (results/logs/<stage>.log), the terminal "
                             "shows the notebook's progress bars and, on failure, the log's last lines")
    parser.add_argument("--log", default=None,
                        help="with --log-output: the log file (default: results/logs/<stage>.log)")
    args = parser.parse_args(argv)
    exit_if_interrupted(Path(args.output).stem)
    # DVC stops a stage with SIGTERM on some paths: exit through Python so temporary files are removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    params = load_stage_params(args.params, args.sections, Path(args.output).stem)
    missing = [s for s in args.sections if s not in params]
    if missing:
        sys.exit(f"params file lacks section(s) {', '.join(missing)}")
    # outputs = "pipeline": the notebook writes the project's figures/ and results/, not scratch/
    parameters = {**{s: params[s] for s in args.sections}, "outputs": "pipeline"}
    if not args.log_output:
        with environment(kernel_environment()):
            run_notebook(args.source, args.output, parameters, kernel=args.kernel, timeout=args.timeout,
                         log_output=False)
        return
    log = Path(args.log) if args.log else log_path(stage_name(args.output))
    failed = False
    with environment(kernel_environment()), stage_log(log) as terminal:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
        bars = TerminalBars(terminal)
        try:
            run_notebook(args.source, args.output, parameters, kernel=args.kernel, timeout=args.timeout,
                         log_output=True, stderr_file=bars)
        except Exception:
            traceback.print_exc()   # into the log
            failed = True
        finally:
            bars.end_line()
    if failed:
        print_tail(Path(args.output).stem, log)
        sys.exit(1)


if __name__ == "__main__":
    main()
