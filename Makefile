# One-word targets. Everything runs in a local virtual environment (.venv) that
# the targets create on first use, so a fresh clone needs only Python >= 3.10.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup setup-test data run test lint bench loc clean

setup: $(VENV)/.fathom-installed data

$(VENV)/.fathom-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train]'
	touch $@

# Fashion-MNIST from Debian's package where apt exists (fathom finds it through dpkg);
# elsewhere `fathom train` says how to download it (--download, checksummed).
data:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 && { \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null 2>&1 && \
	      $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }; } || \
	  echo "note: Debian's dataset-fashion-mnist is not installed; use --download"; }

# The test tools, PyTorch as the test oracle (a CPU build), and the bench peers JAX and
# TensorFlow (their twins are tested); the tests of each skip only if it cannot be installed.
setup-test: setup $(VENV)/.fathom-test-installed
$(VENV)/.fathom-test-installed: pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0 || \
	  echo "warning: PyTorch could not be installed; PyTorch-parity tests will be skipped"
	@$(BIN)/pip install -q -e '.[bench]' || \
	  echo "warning: JAX/TensorFlow could not be installed; their bench-twin tests will be skipped"
	touch $@

# The main job: train the default CNN on Fashion-MNIST, then report test metrics.
run: setup
	$(BIN)/fathom train --model cnn --dataset fashion-mnist --epochs 10

test: setup-test
	$(BIN)/python -m pytest tests

lint: setup
	@$(BIN)/python -m ruff --version >/dev/null 2>&1 || $(BIN)/pip install -q ruff
	$(BIN)/python -m ruff check src tests benchmarks examples tools

# Fathom against PyTorch, JAX and TensorFlow (the bench extra, installed by setup-test).
bench: setup-test
	$(BIN)/fathom bench --against torch,jax,tf

loc:
	$(PYTHON) tools/loc.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build src/*.egg-info
