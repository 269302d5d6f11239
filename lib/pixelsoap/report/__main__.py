"""``python -m pixelsoap.report``: the pipeline's ``report`` stage (see :func:`pixelsoap.report.main`)."""

from . import main

main()
