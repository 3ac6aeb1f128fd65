# Two commands: `make demo` and `make test`. Each builds what it needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: $(BIN)/python setup.cfg setup.py
	$(BIN)/pip install -q -e .
	touch $@

# The Kubeflow Metadata SDK 0.3.1 pins ml-metadata 0.21: install it beside
# ml-metadata 1.17 without its dependencies, for the compatibility tests.
$(VENV)/.test: $(VENV)/.core setup.cfg
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps kubeflow-metadata==0.3.1
	touch $@

demo: $(VENV)/.core
	$(BIN)/python examples/quickstart.py

test: $(VENV)/.test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark runs in a venv of its own: MLflow (the `bench` extra) brings
# many dependencies that must not reach the venv `make test` uses.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.bench: setup.cfg setup.py
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -e '.[test,bench]'
	$(BENCH_VENV)/bin/pip install -q --no-deps kubeflow-metadata==0.3.1
	touch $@

bench: $(BENCH_VENV)/.bench
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info
