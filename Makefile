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

bench: $(VENV)/.test
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
