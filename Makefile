# twingrad: `make demo` and `make test` are all a newcomer needs; both install first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The torch release the tests run against. pyproject.toml admits a wider range.
TORCH_VERSION := 2.13.*
# Empty here (the CPU wheel is found locally); CI elsewhere points it at
# https://download.pytorch.org/whl/cpu so that pip never fetches a CUDA build.
TORCH_INDEX_URL ?=
STAMP := $(VENV)/.installed
# nbval re-runs every notebook in this environment and compares each checked output with
# the stored one; the sanitize file masks only memory addresses and graphviz's version line.
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: install dot demo test lint bench notebooks jupyter clean

install: $(STAMP) dot

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(PIP) install --quiet numpy
	$(PIP) install --quiet -e ".[dev]"
	@touch $(STAMP)

# graphviz's `dot` renders the drawings: install it with apt-get when we can.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null); \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null); \
	  fi; \
	  command -v dot >/dev/null 2>&1 || echo "graphviz's dot is missing; drawings need it: apt-get install graphviz (Debian/Ubuntu) or brew install graphviz (macOS)"; \
	}

demo: install
	$(VENV)/bin/twingrad demo

# One pytest run: the tests, every benchmark once with timing off (benchmarks/README.md)
# and the notebooks, re-executed and compared by nbval (README: Notebooks).
test: install
	$(VENV)/bin/ruff check .
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest tests benchmarks notebooks --benchmark-disable $(NBVAL)

# Re-run the notebooks and store their outputs (commit the result): what `make test` verifies.
notebooks: install
	$(PY) notebooks/execute.py

# Open the notebooks in JupyterLab, running on this project's environment (.venv, with
# twingrad installed in it): what a learner types to follow along.
jupyter: install
	$(VENV)/bin/jupyter lab notebooks/

# Times every workload twice, with the import-time heap frozen and with CPython's GC as
# it is, then prints the ratio tables and draws the chart. BENCH_ARGS="-k moons" narrows it.
BENCH_RESULTS := benchmarks/results
BENCH_ARGS ?=
BENCH_PYTEST := $(PY) -m pytest benchmarks/test_workloads.py --benchmark-only -q \
	--benchmark-columns=min,median,rounds --benchmark-sort=name $(BENCH_ARGS)
bench: install
	@mkdir -p $(BENCH_RESULTS)
	$(BENCH_PYTEST) --gc-policy=frozen --benchmark-json=$(BENCH_RESULTS)/frozen.json
	$(BENCH_PYTEST) --gc-policy=default --benchmark-json=$(BENCH_RESULTS)/default.json
	$(VENV)/bin/twingrad bench $(BENCH_RESULTS)/frozen.json $(BENCH_RESULTS)/default.json \
	  --chart $(BENCH_RESULTS)/bench.png > $(BENCH_RESULTS)/table.txt
	$(PY) -m benchmarks.alone >> $(BENCH_RESULTS)/table.txt
	@cat $(BENCH_RESULTS)/table.txt

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks .ruff_cache src/*.egg-info
