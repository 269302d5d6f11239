"""The reproduction report: every published value beside ours, as Markdown and as a browsable page.

The last pipeline stage (``python -m pixelsoap.report``) reads what the other stages wrote and
composes

- ``results/REPORT.md``: the profile and parameters of the run, the date, package versions, time
  per stage, one row per published value or claim (published, ours, verdict), links to every
  figure and executed notebook (relative to ``results/``), readable on a code host;
- ``results/report/index.html``: the same content as one self-contained page (figures inline as
  base64 PNG, no script, no external resource), and ``results/report/notebooks/<name>.html``, the
  executed notebooks rendered by nbconvert with a template that loads nothing from the network;
- ``results/REPORT.html``: the page of ``index.html`` with its figures downscaled to a 256-colour
  palette (under 3 MB), committed to git so that a fresh clone shows the report without reproducing.

Nothing in the report is typed by hand.  The rows are data (``artifacts.yaml``: which published
key, which file and path hold our value, the comparison rule and its tolerance); published values
come from ``published.yaml`` (:mod:`pixelsoap.published`), ours from the stages' output files.  A
file that does not exist (a stage that failed or has not run) shows as "not run", a key that is
not there as "missing"; neither breaks the report.

The package, one module per concern (at run time a module imports only those listed above it):

- :mod:`.files`: reading the project's files (JSON, YAML, CSV), params.yaml or the parameters in
  dvc.lock, the stages of dvc.yaml and the outputs of stages that did not run
- :mod:`.query`: paths into files and the expressions of artifacts.yaml
- :mod:`.formatting`: values as the report prints them
- :mod:`.rules`: verdicts, comparison rules and their tolerances
- :mod:`.rows`: the rows of artifacts.yaml, expanded and evaluated
- :mod:`.budget`: the doubled-budget labels of the rows (the record of :mod:`pixelsoap.pipeline.budget_check`)
- :mod:`.run_info`: profile, package versions, notebooks, time per stage, figures, ``dvc status``
- :mod:`.render`: Markdown and HTML templates, notebooks as HTML, the HTML folder swapped in whole
- :mod:`.build`: :func:`build_report` and :func:`write_report`
- ``__main__``: the command line (``python -m pixelsoap.report``)
"""

from pixelsoap.published import entry as published_entry
from pixelsoap.report.build import Report, build_and_write, build_report, write_report
from pixelsoap.report.files import (
                    PARAMS_FILE,
                    Missing,
                    Sources,
                    dvc_stages,
                    locked_params,
                    stage_of,
                    unavailable_outputs,
                    unavailable_reason,
)
from pixelsoap.report.formatting import fmt, fmt_seconds, fmt_tolerance, md_cell, parse_number
from pixelsoap.report.query import OPS, Context, RowError, evaluate, parse_path, references, resolve_path, split_ref
from pixelsoap.report.render import (
                    NOTEBOOK_TEMPLATE,
                    TEMPLATES,
                    external_resources,
                    render_html,
                    render_markdown,
                    render_notebook_html,
                    strip_external,
                    swap_in_folder,
                    write_html,
)
from pixelsoap.report.rows import (
                    ROWS_FILE,
                    RowResult,
                    Shown,
                    evaluate_row,
                    evaluate_rows,
                    expand_rows,
                    fill,  # noqa: F401  (the tests fill a row's for_each variables with it)
                    fill_text,
                    load_rows,
)
from pixelsoap.report.rules import (
                    DIFFERS,
                    ERROR,
                    INCONCLUSIVE,
                    MISSING,
                    NO_PUBLISHED,
                    NOT_REPRODUCED,
                    NOT_RUN,
                    OTHER_DATASET,
                    REPRODUCED,
                    RESULT_VERDICTS,
                    SAME,
                    VERDICT_STYLE,
                    VERDICTS,
                    WITHIN,
                    compare,
                    describe_rule,
                    tolerance,
                    values_equal,
                    verdict,
                    without_verdicts_on_other_data,
)
from pixelsoap.report.run_info import (
                    dvc_stale_stages,
                    figures,
                    infer_profile,
                    notebooks,
                    package_versions,
                    stage_timings,
)

__all__ = [
    "DIFFERS", "ERROR", "INCONCLUSIVE", "MISSING", "NOTEBOOK_TEMPLATE", "NOT_REPRODUCED", "NOT_RUN", "NO_PUBLISHED",
    "OPS",
    "OTHER_DATASET", "PARAMS_FILE", "REPRODUCED", "RESULT_VERDICTS", "ROWS_FILE", "SAME", "TEMPLATES", "VERDICTS",
    "VERDICT_STYLE", "WITHIN", "Context", "Missing", "Report", "RowError", "RowResult", "Shown", "Sources",
    "build_and_write", "build_report", "compare", "describe_rule", "dvc_stages", "dvc_stale_stages", "evaluate",
    "evaluate_row",
    "evaluate_rows", "expand_rows", "external_resources", "figures", "fill_text", "fmt", "fmt_seconds",
    "fmt_tolerance", "infer_profile", "load_rows", "locked_params", "md_cell", "notebooks", "package_versions",
    "parse_number", "parse_path", "published_entry", "references", "render_html", "render_markdown",
    "render_notebook_html", "resolve_path", "split_ref", "stage_of", "stage_timings", "strip_external",
    "swap_in_folder", "tolerance", "unavailable_outputs", "unavailable_reason", "values_equal", "verdict",
    "without_verdicts_on_other_data", "write_html", "write_report",
]
