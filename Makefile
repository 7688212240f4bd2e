# Two commands do everything on a fresh machine with Python 3.11 and npm:
#   make book   create .venv if needed, install, execute every chapter, build _build/html
#               (self-contained: MathJax and the rest come from book/assets, pinned in npm)
#   make test   lint and run the whole test suite (which also executes every chapter,
#               builds the book, the student edition with its hand-out and the PDF)
# and `make lab` opens the chapters in JupyterLab, `make student` builds the student
# edition (no solutions) and _build/student/handout.zip, `make pdf` the PDF edition.

PYTHON     ?= $(shell command -v python3.11 || command -v python3)
VENV       ?= .venv
BIN        := $(VENV)/bin
# A CPU build of torch where the machine provides one; override for a CUDA build.
TORCH_SPEC ?= torch==2.13.0
PIP        := $(BIN)/python -m pip
INSTALLED  := $(VENV)/.installed

.PHONY: help venv book student course grade pdf test lint format lab assets browser-assets clean distclean

help:
	@echo "make book    execute every chapter and build the HTML book into _build/html"
	@echo "make student the student edition (no solutions) into _build/student: html/, notebooks/"
	@echo "             and handout.zip (the notebooks, the ptheory wheel, a README)"
	@echo "make course  COURSE=<file.yml>: an nbgrader course in _build/course (assignments, hand-outs)"
	@echo "make grade   COURSE=<file.yml> SUBMISSIONS=<dir>: autograde in a sandbox, feedback, grades.csv"
	@echo "make pdf     the PDF edition (XeLaTeX) into _build/pdf/book.pdf, also offered on the site"
	@echo "make test    lint, then run the test suite (executes every chapter, builds the book)"
	@echo "make lab     open the chapters in JupyterLab (the .md chapters open as notebooks)"
	@echo "make clean   remove _build (executed outputs and the HTML)"
	@echo "(make test also checks every page in headless Chromium: see .ci/run)"

# grading/ is the instructor's package (the exercises' graders): installed beside ptheory
# for the book's own build and tests, never part of a student's wheel.
$(INSTALLED): pyproject.toml grading/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[test]"
	$(PIP) install --quiet --no-deps -e grading
	touch $@

venv: $(INSTALLED)

# The JavaScript the pages load (MathJax, require.js, the widgets' HTML manager), pinned
# in book/assets/package.json and copied into the book's static files by the build.
ASSETS := book/assets/node_modules/.installed

$(ASSETS): book/assets/package.json book/assets/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is needed for the book's assets (apt-get install npm)"; exit 1; }
	cd book/assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

assets: $(ASSETS)

book: $(INSTALLED) $(ASSETS)
	$(BIN)/python scripts/build_book.py
	@echo "The book is in _build/html/index.html (the ptheory wheel in _build/html/downloads)"

# The student edition: the HTML book without solutions and one notebook per chapter with
# the solutions removed (scripts/student.py), zipped with the ptheory wheel into
# _build/student/handout.zip. Reuses the executions `make book` cached.
student: $(INSTALLED) $(ASSETS)
	$(BIN)/python scripts/student.py
	@echo "Hand out _build/student/handout.zip; the book is _build/student/html/index.html"

# Coursework with nbgrader (scripts/course.py, grading/ptheory_grading): a course file
# (book/course_example.yml) -> _build/course: source/ and release/ notebooks per
# assignment, handout/<assignment>.zip, nbgrader's gradebook. `make grade` autogrades
# SUBMISSIONS (<student>/<assignment>/<chapter>.ipynb, or an LMS's zips) with every kernel
# in a bubblewrap sandbox (apt-get install bubblewrap), then writes feedback and grades.csv.
COURSE      ?= book/course_example.yml
SUBMISSIONS ?=

course: $(INSTALLED) $(ASSETS)
	$(BIN)/python scripts/course.py build $(COURSE)

grade: $(INSTALLED)
	@test -n "$(SUBMISSIONS)" || { echo "make grade: say where the submissions are: SUBMISSIONS=<folder>"; exit 1; }
	$(BIN)/python scripts/course.py grade $(COURSE) $(SUBMISSIONS)

# The PDF edition: XeLaTeX (the Debian packages are PACKAGES in scripts/build_pdf.py, which
# names them when TeX is missing; .ci/run installs them). Reuses the cached executions.
# Without it, make book still works: the site then offers no PDF.
pdf: $(INSTALLED)
	$(BIN)/python scripts/build_pdf.py
	@echo "The PDF is _build/pdf/book.pdf (run make book again to offer it on the site)"

lint: $(INSTALLED)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

format: $(INSTALLED)
	$(BIN)/ruff format
	$(BIN)/ruff check --fix

test: lint assets browser-assets
	$(BIN)/python -m pytest

# The browser test (tests/test_browser.py) blocks every request that leaves the machine
# and runs axe-core (pinned in tests/browser) on every page. Without npm it is skipped,
# and the test run says so loudly.
BROWSER_ASSETS := tests/browser/node_modules/.installed

$(BROWSER_ASSETS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

browser-assets:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(BROWSER_ASSETS); \
	else echo "make: npm not found: the browser test will be skipped"; fi

# JupyterLab opens .md chapters as notebooks through jupytext's contents manager, and
# jupyterlab-myst renders their MyST (theorem boxes, cross-references); the settings
# override makes the notebook view the default for Markdown files in this environment
# and turns off the "notified about Jupyter news?" toast over the chapter.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_SETTINGS): $(INSTALLED) Makefile
	$(PIP) install --quiet -e ".[lab]"
	mkdir -p $(dir $@)
	printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Notebook", "myst": "Notebook"}}, "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' > $@
	@# jupytext's own lab extension needs JupyterLab 4.6, jupyterlab-myst < 4.5: its server
	@# side (which opens .md as notebooks) is all this needs.
	$(BIN)/jupyter labextension disable jupyterlab-jupytext

# book/_ext/lab_contents.py gives jupyterlab-myst the book's math macros (_config.yml).
lab: $(LAB_SETTINGS)
	PYTHONPATH=book/_ext $(BIN)/jupyter lab \
	    --ServerApp.contents_manager_class=lab_contents.BookContentsManager notebooks

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis book/assets/node_modules tests/browser/node_modules
