# aicsd-book. Front doors: `make reproduce` and `make test`; both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= cpu
DATASET ?= synthetic
DATA_ROOT ?=
ONLY ?=
CHROMIUM ?= chromium

.PHONY: venv reproduce test test-fast book reference lab bench screenshots results-table clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-input -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Execute every notebook (papermill) into book/_executed/; finished training runs are reused.
# ONLY="03_distill.ipynb 04_main_results.ipynb" executes just those notebooks.
reproduce: $(STAMP)
	$(PY) -m aicsd.study.reproduce --profile $(PROFILE) --dataset $(DATASET) $(if $(DATA_ROOT),--data-root $(DATA_ROOT),) $(if $(ONLY),--only $(ONLY),)

# The notebooks run once, through the driver of `make reproduce` (tests/test_book.py builds the book from them).
test: $(STAMP)
	$(PY) -m pytest tests

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

# The Jupyter Book (warnings as errors) from the executed notebooks, never re-executed: each chapter
# from book/_executed/ (your `make reproduce`) when there, else from book/reference/ (the committed
# reference reproduction), gathered into book/_chapters/ with a provenance line each.
book: $(STAMP)
	$(PY) -m aicsd.study.book_sources
	$(VENV)/bin/jupyter-book build . --path-output book --warningiserror --keep-going
	@echo "open book/_build/html/index.html"

# Make your complete book/_executed/ the shipped reference: book/reference/ and its records
# benchmarks/results/summary-<name>.json, reproduce-<name>.json (commit them). With CHAPTER=NN_name.ipynb
# only that chapter (a new one, executed with `make reproduce ONLY=...`) joins the reference.
reference: $(STAMP)
ifdef CHAPTER
	$(PY) -m aicsd.study.book_sources --freeze --chapter $(CHAPTER)
else
	$(PY) -m aicsd.study.book_sources --freeze
	$(PY) -m aicsd.study.record --publish
endif

# JupyterLab on notebooks/ (installs the lab extra once); prints the URL to open. Each chapter's
# parameters cell defaults to the cpu profile of `make reproduce`, whose finished runs it reuses.
lab: $(STAMP)
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet --no-input -e '.[dev,lab]'
	@echo "JupyterLab on notebooks/: open the http://127.0.0.1:PORT/lab?token=... URL it prints below (Ctrl-C stops it)"
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.root_dir=notebooks $$(test "$$(id -u)" = 0 && echo --allow-root)

bench: $(STAMP)
	$(PY) benchmarks/bench_losses.py
	$(PY) benchmarks/bench_step.py $$($(PY) -c "import torch; print('' if torch.cuda.is_available() else '--small')")

# Headless Chromium screenshots of the built book (Debian: apt-get install chromium).
screenshots: $(STAMP)
	$(PY) book/screenshots.py --chromium $(CHROMIUM)

# The README's results section (main table, claims ledger, wall time) from the summary record of
# PROFILE on DATASET: yours (book/_executed/summary.json, from make reproduce), else the committed one.
results-table: $(STAMP)
	$(PY) -m aicsd.study.results_section --profile $(PROFILE) --dataset $(DATASET)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info book/_build book/_chapters
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
