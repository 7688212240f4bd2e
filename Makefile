# Two commands do everything on a fresh machine with Python 3.11:
#   make book   create .venv if needed, install, execute every chapter, build _build/html
#   make test   lint and run the whole test suite (which also executes every chapter)
# and `make lab` opens the chapters in JupyterLab, `make student` builds the student
# edition (no solutions) for instructors to hand out.

PYTHON     ?= $(shell command -v python3.11 || command -v python3)
VENV       ?= .venv
BIN        := $(VENV)/bin
# A CPU build of torch where the machine provides one; override for a CUDA build.
TORCH_SPEC ?= torch==2.13.0
PIP        := $(BIN)/python -m pip
INSTALLED  := $(VENV)/.installed

.PHONY: help venv book student test lint format lab browser-assets clean distclean

help:
	@echo "make book    execute every chapter and build the HTML book into _build/html"
	@echo "make student the student edition (no solutions) into _build/student: html/ and notebooks/"
	@echo "make test    lint, then run the test suite (executes every chapter, builds the book)"
	@echo "make lab     open the chapters in JupyterLab (the .md chapters open as notebooks)"
	@echo "make clean   remove _build (executed outputs and the HTML)"
	@echo "(make test also checks every page in headless Chromium: see .ci/run)"

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[test]"
	touch $@

venv: $(INSTALLED)

book: $(INSTALLED)
	$(BIN)/python scripts/build_book.py
	@echo "The book is in _build/html/index.html"

# The student edition: the HTML book without solutions and one notebook per chapter with
# the solutions removed (scripts/student.py). Reuses the executions `make book` cached.
student: $(INSTALLED)
	$(BIN)/python scripts/student.py
	@echo "Hand out _build/student/notebooks/*.ipynb; the book is _build/student/html/index.html"

lint: $(INSTALLED)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

format: $(INSTALLED)
	$(BIN)/ruff format
	$(BIN)/ruff check --fix

test: lint browser-assets
	$(BIN)/python -m pytest

# The browser test (tests/test_browser.py) answers the book's CDN requests (MathJax,
# require.js, the widgets' HTML manager) from npm packages pinned in tests/browser.
# Without npm the test is skipped, and the test run says so loudly.
BROWSER_ASSETS := tests/browser/node_modules/.installed

$(BROWSER_ASSETS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

browser-assets:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(BROWSER_ASSETS); \
	else echo "make: npm not found: the browser test will be skipped"; fi

# JupyterLab opens .md chapters as notebooks through jupytext; the settings override
# makes that the default viewer for Markdown files in this environment.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_SETTINGS): $(INSTALLED)
	$(PIP) install --quiet -e ".[lab]"
	mkdir -p $(dir $@)
	printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' > $@

lab: $(LAB_SETTINGS)
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis
