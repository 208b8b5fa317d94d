# The two set-up commands: `make book` and `make test`. Both create .venv/ first.
#   PROFILE=smoke|cpu|paper   which sizes the book runs at (default cpu; see baa/profiles.py)
#   DATA=DIR FORMAT=rsna|dha|csv [TEST_DATA=DIR]   the book on a labelled dataset (default: the phantom)
#   TORCH_SPEC=...            how torch is installed when none is found (default: the CPU wheel
#                             torch==2.13.0; on a CUDA machine use TORCH_SPEC=torch)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= cpu
FORMAT ?= rsna
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.baa-installed

.PHONY: env book test test-unit test-notebooks test-browser bench calibrate clean

env: $(STAMP)

# Reuse a torch the base interpreter already has (no download at all); otherwise install
# TORCH_SPEC before the package, so that `torch>=2.1` in pyproject.toml is already satisfied
# and pip never reaches for the several-GB CUDA build on a CPU machine.
$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  if $(PYTHON) -c "import torch" 2>/dev/null; then \
	    echo "reusing the torch of $(PYTHON)"; $(PYTHON) -m venv --system-site-packages $(VENV); \
	  else $(PYTHON) -m venv $(VENV); fi; fi
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[book,test]"
	@$(PY) -c "import torch; print('torch', torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')"
	@touch $(STAMP)

book: env
	$(PY) -m baa.book --profile $(PROFILE) $(if $(DATA),--data "$(DATA)" --format $(FORMAT)) $(if $(TEST_DATA),--test-data "$(TEST_DATA)")

# Browser tests come last: they reuse the smoke models the notebooks trained.
test: env test-unit test-notebooks test-browser

test-unit: env
	$(PY) -m pytest -q -m "not browser" tests

# nbval checks the cells tagged nbval-check-output (deterministic: shapes, parameter counts,
# metrics on fixed input); every other cell must run without error.
test-notebooks: env
	BAA_PROFILE=smoke $(PY) -m pytest -q --nbval-lax notebooks

test-browser: env
	$(PY) -m pytest -q -m browser tests

bench: env
	$(PY) -m baa bench --profile $(PROFILE) --out artifacts/$(PROFILE)/bench.json

# How hard the phantom is (chapter 1 shows the result): ~30 min on 2 CPU cores.
calibrate: env
	$(PY) -m baa.calibrate --out artifacts/calibration/128.json

clean:
	rm -rf _build book/_build artifacts/smoke
