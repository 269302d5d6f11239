"""``python -m pixelsoap.experiments.search``: the search stage."""

from pixelsoap.experiments.search.monte_carlo import main

main()
