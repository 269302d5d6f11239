# pixelsoap: the two commands a reader needs are `make reproduce` and `make test`.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PROFILE ?= default
STAMP   := $(VENV)/.installed
PLOTS_PAGE := build/dvc-plots/offline.html

.PHONY: install install-browser reproduce verify test test-fast lint lab lock benchmark docs clean-venv

## install: create .venv with the locked environment, the project (editable) and the "pixelsoap" Jupyter kernel,
##   and the offline page of `dvc plots show` (vega from npm inlined, pixelsoap.pipeline.dvc_plots; a warning
##   and no page when npm cannot fetch it).  Packages are byte-compiled at install, pip's default: where
##   PYTHONDONTWRITEBYTECODE is set (our CI machines), one installed with --no-compile is compiled again by
##   every process that imports it, which made `make test` slower than the 1:40 --no-compile saves.
## TEST_WORKERS: pytest-xdist processes for `make test` (default 2; 0 runs in this process). Whole files go to
##   one worker (--dist loadfile), so a module's or the session's fixtures (the smoke pipeline) run once.
TEST_WORKERS ?= 2
TEST_WORKERS_ARGS = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

install: $(STAMP) $(PLOTS_PAGE)

$(PLOTS_PAGE): $(STAMP)
	-$(BIN)/python -m pixelsoap.pipeline.dvc_plots --force

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0) if v == (3, 11) else print(f"warning: requirements.lock is made for Python 3.11, this is {v[0]}.{v[1]}")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name pixelsoap --display-name "Python (pixelsoap)"
	touch $(STAMP)

## reproduce: regenerate figures, metrics, tables, executed notebooks and the report (PROFILE=smoke|default|paper)
##   Any profile but default, SET="soap.r_cut=40 ..." or VARIANT=name runs in a clone under runs/ (printed)
##   and leaves the committed results alone (pixelsoap.pipeline.variants).
##   If a stage fails, the stages that do not need it still run (--keep-going), the report is
##   written anyway with the failed and skipped stages shown as not run, and the target fails.
##   One Ctrl-C stops the whole run (pixelsoap.pipeline.reproduce); `make reproduce` again resumes it.
reproduce: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pixelsoap.pipeline.reproduce $(PROFILE) \
	  $(foreach s,$(SET),--set $(s)) $(if $(VARIANT),--variant $(VARIANT))

## verify: regenerate the profile (PROFILE, default: default) from scratch in a temporary clone of the
##   committed HEAD (as long as `make reproduce`: 25-35 min on 2 cores for the default) and list every
##   verdict and number of the report that differs from the committed one, with the interval it may move in; fails if any
##   verdict differs or any number leaves its interval.  VERIFY_DIR=folder keeps (and resumes) the clone there.
verify: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pixelsoap.pipeline.verify --profile $(PROFILE) $(if $(VERIFY_DIR),--workdir $(VERIFY_DIR))

## lint: ruff on the library, notebooks, tests and benchmarks (rules in pyproject.toml)
lint: install
	$(BIN)/ruff check .

## install-browser: headless Chromium and chromedriver for the browser tests (the report, JupyterLab):
##   Debian's chromium chromium-driver through apt-get, as root or with sudo; nothing to do when both
##   are found ($$CHROMIUM / $$CHROMEDRIVER, PATH, /usr/bin).  No test installs anything itself.
install-browser:
	$(PYTHON) tests/browser.py --install

## test: the lint, then the whole test suite (unit tests, notebooks and the smoke pipeline) on TEST_WORKERS
##   pytest-xdist workers.  The browser tests must run here: a missing Chromium fails them instead of skipping
##   them.  The library is byte-compiled first: where PYTHONDONTWRITEBYTECODE is set, each of the suite's few
##   hundred Python processes would otherwise compile it again (0.3 s each).
test: install lint install-browser
	$(BIN)/python -m compileall -q lib
	PATH="$(CURDIR)/$(BIN):$$PATH" PIXELSOAP_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest $(TEST_WORKERS_ARGS)

## test-fast: the inner loop: the lint, then every test not marked slow (about 2 min on 2 cores); `make test`
##   runs the slow ones too (the smoke pipeline, notebooks, browsers, Dask searches, training equivalences)
test-fast: install lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow" -q

## lab: JupyterLab on the notebooks (py:percent files open as notebooks through jupytext:
##   .jupyter/labconfig makes "Jupytext Notebook" their default viewer; tests/test_lab.py runs one);
##   as root (a container) with --allow-root, which Jupyter otherwise demands
lab: install
	PATH="$(CURDIR)/$(BIN):$$PATH" JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter" $(BIN)/jupyter lab \
	  $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

## benchmark: speed measurements (on demand, not part of the tests)
benchmark: install
	$(BIN)/python benchmarks/bench_soap.py
	$(BIN)/python benchmarks/bench_training.py

## docs: the documentation site (Sphinx: docs/*.md and the API from the docstrings) into docs/_build/html,
##   warnings as errors
docs: install
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

## lock: re-solve requirements.in into requirements.lock (then update environment.yml to match)
lock:
	rm -rf build/lockenv && $(PYTHON) -m venv build/lockenv
	build/lockenv/bin/python -m pip install --quiet -r requirements.in
	{ echo "# Generated by 'make lock' from requirements.in with pip on Python 3.11 (Linux x86_64)."; \
	  echo "# Install: pip install -r requirements.lock && pip install --no-deps -e ."; \
	  build/lockenv/bin/python -m pip freeze --exclude-editable; } > requirements.lock

clean-venv:
	rm -rf $(VENV)
