# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv in the repo and installs the pinned set (constraints.txt) into it; `make test`
# also creates one .venv-stable-VERSION per stable PaddleNLP version (constraints-stable.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Stable PaddleNLP (2.x on paddlepaddle 2.6.2): each version gets .venv-stable-VERSION from constraints-stable.txt
# and loads the outputs the main environment converted (tests/stable/).
STABLE_VERSIONS ?= 2.8.1 2.7.2 2.6.1 2.6.0
STABLE_STAMPS := $(foreach v,$(STABLE_VERSIONS),.venv-stable-$(v)/.installed)
STABLE_CASES := build/stable-cases

.PHONY: demo test test-main test-stable bench bench-serving bench-sentence clean

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	$(PY) -m pip check
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m paddle_roberta.dev.demo

test: test-main test-stable

test-main: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile tests

.venv-stable-%/.installed: constraints-stable.txt
	$(PYTHON) -m venv .venv-stable-$*
	.venv-stable-$*/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-stable.txt \
		paddlepaddle paddlenlp==$* regex safetensors sentencepiece
	touch $@

test-stable: $(STAMP) $(STABLE_STAMPS)
	$(PY) tests/stable/make_cases.py $(STABLE_CASES)
	set -e; for py in $(PY) $(foreach v,$(STABLE_VERSIONS),.venv-stable-$(v)/bin/python); do \
		$$py tests/stable/check_stable.py $(STABLE_CASES); done

bench: $(STAMP)
	$(PY) bench/bench_convert.py

$(VENV)/.bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[bench]"
	touch $@

bench-serving: $(VENV)/.bench
	$(PY) bench/bench_serving.py
	$(PY) bench/bench_load.py

bench-sentence: $(STAMP)
	$(PY) bench/bench_sentence.py

clean:
	rm -rf $(VENV) .venv-stable-* build *.egg-info
