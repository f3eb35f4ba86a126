# The two commands of the README, plus `make check`. Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check bench clean models

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and exactly: 2.13.0 is the CPU build on local disk; anything else pulls CUDA.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[all,test,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q

check: $(STAMP)
	$(VENV)/bin/ruff check modelplane tests examples bench
	$(VENV)/bin/ruff format --check modelplane tests examples bench
	$(VENV)/bin/mypy --strict modelplane
	$(VENV)/bin/lint-imports

models: $(STAMP)
	$(PY) examples/build_models.py

bench: $(STAMP)
	$(PY) bench/server.py

clean:
	rm -rf $(VENV) examples/models .pytest_cache .mypy_cache .ruff_cache
