# One-word targets. Everything runs in a local virtual environment (.venv) that
# the targets create on first use, so a fresh clone needs only Python >= 3.10.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup setup-test run test lint bench loc clean

setup: $(VENV)/.fathom-installed

$(VENV)/.fathom-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# PyTorch is the test oracle (a CPU build); its tests skip only if it cannot be installed.
setup-test: setup
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0 || \
	  echo "warning: PyTorch could not be installed; PyTorch-parity tests will be skipped"

# The main job: until the training issue lands, the from-scratch MLP example.
run: setup
	$(BIN)/python examples/mlp_from_scratch.py

test: setup-test
	$(BIN)/python -m pytest tests

lint: setup
	@$(BIN)/python -m ruff --version >/dev/null 2>&1 || $(BIN)/pip install -q ruff
	$(BIN)/python -m ruff check src tests benchmarks examples tools

bench: setup-test
	$(BIN)/python benchmarks/ops.py

loc:
	$(PYTHON) tools/loc.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build src/*.egg-info
