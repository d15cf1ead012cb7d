# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv in the repo and installs the pinned set (constraints.txt) into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	$(PY) -m pip check
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m paddle_roberta.demo

test: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) bench/bench_convert.py

clean:
	rm -rf $(VENV) build *.egg-info
