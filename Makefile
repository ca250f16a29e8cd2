# O2 Twin: the two quick-start commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow lint format bench export clean

# (Re)create the virtual environment and install the project whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || { \
	  echo "O2 Twin needs a C compiler to build FMUs: install gcc (Debian/Ubuntu: apt-get install gcc)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)  ## the default concentrator scenario (COPD patient, cold start, 15 min)
	$(VENV)/bin/o2twin run

test: $(STAMP)  ## the default test suite (every capability, slow validation excluded)
	$(PY) -m pytest -m "not slow" -q

test-slow: $(STAMP)  ## the slow physics validation and long fuzzing campaigns
	$(PY) -m pytest -m slow -q

export: $(STAMP)
	$(VENV)/bin/o2twin export --all

lint: $(STAMP)  ## ruff (lint + format), the layering contracts (import-linter) and the type checker (mypy)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: $(STAMP)  ## every benchmark; each writes its measured figures into docs/ (see docs/benchmarks.md)
	$(PY) scripts/bench_export.py
	$(PY) scripts/bench_cs_solver.py --write-docs
	$(PY) scripts/bench_psa.py
	$(PY) scripts/bench_master.py
	$(PY) scripts/bench_controllers.py
	$(PY) scripts/bench_hil.py --write-docs
	$(PY) scripts/bench_dashboard.py --write-docs

clean:
	rm -rf build results fmus/*.fmu
