# twingrad: `make demo` and `make test` are all a newcomer needs; both install first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The torch release the tests run against. pyproject.toml admits a wider range.
TORCH_VERSION := 2.13.*
# Set it to force an index. Empty, tools/torch_source.py asks pip what it would install and
# adds PyTorch's CPU index only where that would be a CUDA build (PyPI on Linux x86-64): a CPU
# wheel already at hand (a wheelhouse, a mirror) is taken as it is, with no network.
TORCH_INDEX_URL ?=
# One .venv, installed in two levels, each marked by a stamp file: the demo's (torch, numpy,
# twingrad with rich and graphviz) and, on top of it, the development stack (the dev extras).
DEMO_STAMP := $(VENV)/.installed-demo
DEV_STAMP := $(VENV)/.installed-dev
# nbval re-runs every notebook in this environment and compares each checked output with
# the stored one; the sanitize file masks only memory addresses and graphviz's version line.
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: install dot chromium node demo test lint bench bench-full notebooks jupyter clean

$(DEMO_STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "torch==$(TORCH_VERSION)" \
	  $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL),$$($(PY) tools/torch_source.py "torch==$(TORCH_VERSION)"))
	$(PIP) install --quiet -e ".[torch]"
	@touch $@

$(DEV_STAMP): $(DEMO_STAMP)
	$(PIP) install --quiet -e ".[dev]"
	@touch $@

# What each level needs outside pip. Targets below name a level, never install by themselves.
DEMO_NEEDS := $(DEMO_STAMP) dot
DEV_NEEDS := $(DEV_STAMP) dot chromium node

# The command is in .venv/bin, not on the PATH: the last thing `make demo` and `make install`
# say is how to type it.
HOW_TO_RUN := printf '\n%s\n  %s\n%s\n' \
  'twingrad is installed in $(VENV), not on your PATH. Activate it once in each shell:' \
  'source $(VENV)/bin/activate' \
  'then type twingrad (twingrad --help lists its commands); or type the full path, $(VENV)/bin/twingrad'

install: $(DEV_NEEDS)
	@$(HOW_TO_RUN)

# Debian packages the tests need, installed with apt-get where we are root or have sudo:
# $(call apt_install,TEST,PACKAGE,MESSAGE): nothing if the shell TEST passes; else install
# PACKAGE, and print MESSAGE if TEST still fails. $(call apt_need,COMMAND,PACKAGE,what needs it)
# is the usual case: the package brings COMMAND.
define apt_install
	@($(1)) || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null); \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null); \
	  fi; \
	  ($(1)) || echo "$(3)"; \
	}
endef
apt_need = $(call apt_install,command -v $(1) >/dev/null 2>&1,$(2),$(1) is missing; $(3) need it: install the $(2) package)

# graphviz's `dot` renders the drawings.
dot:
	$(call apt_need,dot,graphviz,drawings)

# node runs the JavaScript engine of examples/javascript, checked through the worker protocol.
node:
	$(call apt_need,node,nodejs,the JavaScript example and its tests)

# Chromium: the test of twingrad check's HTML report loads the page in a real headless browser
# (tests/browser.py looks for these names, or TWINGRAD_CHROMIUM). GitHub's runners have Chrome.
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
HAVE_BROWSER := { [ -n "$$TWINGRAD_CHROMIUM" ] && exit 0; for b in $(BROWSERS); do command -v $$b >/dev/null 2>&1 && exit 0; done; exit 1; }
CHROMIUM_MISSING := chromium is missing; the HTML report's browser test needs it: apt-get install chromium (Debian), or set TWINGRAD_CHROMIUM to a Chrome or Chromium binary
chromium:
	$(call apt_install,$(HAVE_BROWSER),chromium,$(CHROMIUM_MISSING))

# Only what the demo needs: `make test` adds the development stack.
demo: $(DEMO_NEEDS)
	$(VENV)/bin/twingrad demo
	@$(HOW_TO_RUN)

# One pytest run: the tests, every benchmark once with timing off (benchmarks/README.md)
# and the notebooks, re-executed and compared by nbval (README: Notebooks).
test: $(DEV_NEEDS)
	$(VENV)/bin/ruff check .
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest tests benchmarks notebooks --benchmark-disable $(NBVAL)

# Re-run the notebooks and store their outputs (commit the result): what `make test` verifies.
notebooks: $(DEV_NEEDS)
	$(PY) notebooks/execute.py

# Open the notebooks in JupyterLab, running on this project's environment (.venv, with
# twingrad installed in it): what a learner types to follow along.
# JupyterLab on the notebooks, in .venv. As root (a container, CI) it needs --allow-root;
# JUPYTER_ARGS adds options (tests/test_jupyter.py: --no-browser, a port and a token).
JUPYTER_ARGS ?=
jupyter: $(DEV_NEEDS)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root) $(JUPYTER_ARGS)

# `make bench`: the figures that matter, in about two minutes -- the moons step against micrograd
# and torch scalar and parity.compare against torch alone (both GC policies), one whole check, a
# class of 21, a class with an endless backward(). `make bench-full`: every workload (~12 min).
# Both print the summary first, then the ratio tables; pytest's own output goes to a log beside
# the results. BENCH_ARGS="-k moons" narrows bench-full.
BENCH_RESULTS := benchmarks/results
BENCH_ARGS ?=
BENCH_QUICK := -k "moons-step or parity-compare" --benchmark-min-rounds=3 --benchmark-max-time=0.5
# Without nbval: its import (IPython, Jupyter) adds ~138k GC-tracked objects that a
# process using twingrad and torch would not have, and the default-GC column would time them.
BENCH_PYTEST := $(PY) -m pytest benchmarks/test_workloads.py --benchmark-only -q -p no:nbval \
	--benchmark-columns=min,median,rounds --benchmark-sort=name
# $(call bench_run,PYTEST ARGS): time under both GC policies, then print summary, scripts, tables.
define bench_run
	@mkdir -p $(BENCH_RESULTS)
	@for policy in frozen default; do \
	  $(BENCH_PYTEST) $(1) --gc-policy=$$policy --benchmark-json=$(BENCH_RESULTS)/$$policy.json \
	    > $(BENCH_RESULTS)/pytest-$$policy.log 2>&1 \
	    || { tail -n 30 $(BENCH_RESULTS)/pytest-$$policy.log; echo "make bench: pytest failed (log: $(BENCH_RESULTS)/pytest-$$policy.log)"; exit 1; }; \
	done
	@$(PY) -m benchmarks.alone > $(BENCH_RESULTS)/scripts.txt
	@$(PY) -m benchmarks.check_one >> $(BENCH_RESULTS)/scripts.txt
	@$(PY) -m benchmarks.batch >> $(BENCH_RESULTS)/scripts.txt
	@{ $(VENV)/bin/twingrad bench --summary $(BENCH_RESULTS)/frozen.json $(BENCH_RESULTS)/default.json; \
	  sed 's/^/  /' $(BENCH_RESULTS)/scripts.txt; echo; \
	  $(VENV)/bin/twingrad bench $(BENCH_RESULTS)/frozen.json $(BENCH_RESULTS)/default.json \
	    --chart $(BENCH_RESULTS)/bench.png; } > $(BENCH_RESULTS)/table.txt
	@cat $(BENCH_RESULTS)/table.txt
endef
bench: $(DEV_NEEDS)
	$(call bench_run,$(BENCH_QUICK))
bench-full: $(DEV_NEEDS)
	$(call bench_run,$(BENCH_ARGS))

lint: $(DEV_NEEDS)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks .ruff_cache src/*.egg-info
