"""The reproduction report: every published value beside ours, as Markdown and as a browsable page.

``python -m pixelsoap.report``, the pipeline's ``report`` stage (see :mod:`pixelsoap.report`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pixelsoap.report.build import build_and_write
from pixelsoap.report.run_info import dvc_stale_stages
from pixelsoap.runtime import paths
from pixelsoap.runtime.interrupt import exit_if_interrupted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pixelsoap.report", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="project root (default: the folder holding dvc.yaml)")
    parser.add_argument("--markdown", default=None, help="default: <root>/results/REPORT.md")
    parser.add_argument("--html-dir", default=None, help="default: <root>/results/report")
    parser.add_argument("--no-notebooks", action="store_true", help="skip rendering the notebooks to HTML")
    parser.add_argument("--stale", nargs="*", default=[], metavar="STAGE",
                        help="stages that failed or did not run: their outputs show as not run")
    parser.add_argument("--from-dvc-status", action="store_true",
                        help="add the stages `dvc status` reports as not up to date to --stale "
                             "(`make reproduce` does this after a failed `dvc repro`)")
    parser.add_argument("--interrupted", default=None, metavar="STAGE",
                        help="the stage a Ctrl-C stopped (`make reproduce` passes it): shown as interrupted")
    args = parser.parse_args(argv)

    exit_if_interrupted("report")
    root = Path(args.root) if args.root else paths.project_root()
    stale = set(args.stale) | (set(dvc_stale_stages(root)) if args.from_dvc_status else set())
    if stale:
        print(f"showing as not run: {', '.join(sorted(stale))}", file=sys.stderr)
    md, html, report = build_and_write(root, args.markdown, args.html_dir, not args.no_notebooks, sorted(stale),
                                       args.interrupted)
    summary = ", ".join(f"{n} {v}" for v, n in report.counts)
    print(f"wrote {md} and {html}: {summary}", file=sys.stderr)


if __name__ == "__main__":
    main()
