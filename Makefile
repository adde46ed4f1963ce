# Two commands do all set-up on a fresh clone: `make generate` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.specformers-installed
export TF_CPP_MIN_LOG_LEVEL := 2
export KERAS_BACKEND := tensorflow

.PHONY: generate check test test-all bench venv clean

generate: $(STAMP)
	$(PY) -m generator

check: $(STAMP)
	$(PY) -m generator --check

test: $(STAMP)
	$(PY) -m generator --check
	$(PY) -m pytest -n 2 --dist loadgroup -q tests

# Everything `make test` runs, with the property tests at their full example counts (the composition test,
# tests/test_composition.py, and the hostile-spec tests, tests/test_hostile_specs.py) and every case of the behaviour
# tests whose TensorFlow and Flax cases `make test` samples (tests/harness.py: TEST_ALL).
test-all: $(STAMP)
	$(PY) -m generator --check
	SPECFORMERS_TEST_ALL=1 SPECFORMERS_COMPOSITION_EXAMPLES=200 $(PY) -m pytest -n 2 --dist loadgroup -q tests

# Upstream TF models need legacy Keras (tf-keras); the benchmark runs them in a child process only.
bench: $(STAMP)
	$(PY) -m benchmarks

venv: $(STAMP)

# torch==2.13.0 is installed first and on its own, so that nothing later can resolve a newer (CUDA) torch.
# tf-keras (legacy Keras, for upstream's TF classes in child processes: checkpoint fixtures, `make bench`) goes in
# without its dependencies: it needs TensorFlow, which tensorflow-cpu already is.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m pip install --quiet --no-deps "tf-keras==2.21.*"
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache bench-results.json
