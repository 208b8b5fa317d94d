# The two set-up commands: `make book` and `make test`. Both create .venv/ first.
#   PROFILE=smoke|cpu|paper|paper-dry   which sizes the book runs at (default cpu; see baa/profiles.py)
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

.PHONY: env book test test-unit test-notebooks notebook-outputs test-browser bench calibrate clean transfer-results weights measure-weights

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

# Browser tests come last: they reuse the smoke models the notebooks trained and the chapters nbval
# executed (conftest.py writes them to book/chapters/; `python -m baa.book --reuse` keeps them).
test: env test-unit test-notebooks test-browser

# One worker per core (pytest-xdist), each test file on one worker so that its fixtures are built once;
# conftest.py gives each worker one thread. On 2 cores: 2 min 11 s from a fresh clone (5 min 5 s on one).
test-unit: env
	$(PY) -m pytest -q -n auto --dist loadfile -m "not browser" tests

# Every notebook at the smoke profile (conftest.py sets BAA_PROFILE=smoke unless it is set): nbval
# compares the cells tagged nbval-check-output (Table 1, the U-Net's layers, degradation statistics at
# fixed seeds, the paper's numbers...) with their stored outputs; every other cell, tagged
# nbval-ignore-output, must run without error. `make notebook-outputs` refreshes the stored outputs.
test-notebooks: env
	$(PY) -m pytest -q --nbval notebooks

notebook-outputs: env
	$(PY) -m baa.book.outputs

test-browser: env
	$(PY) -m pytest -q -m browser tests

bench: env
	$(PY) -m baa bench --profile $(PROFILE) --out artifacts/$(PROFILE)/bench.json

# How hard the phantom is (chapter 1 shows the result): ~30 min on 2 CPU cores.
calibrate: env
	$(PY) -m baa calibrate --out artifacts/calibration/128.json

clean:
	rm -rf _build book/_build artifacts/smoke

# Chapter 11's heavy results (issue 18; ../shared needed): the image recipe's variants and learning curve over 9
# seeds (12 min), and which recipe closes the gap: 24 variants (anatomy, training, input size, feature alignment
# and its held-out reading, bone detail, bone maps, the segmenter's training, map jitter, the bones without the
# wrist) x 3 seeds, the real labels inside the training (6 settings, two on the shipped recipe's maps, x 3 seeds x
# 4 folds; joint_x32, maps_joint_x32 and maps_finetune_x32 x 9 seeds), the image recipe and eight bone-maps recipes, bone_maps_jitter
# (the shipped recipe) among them, x 9 seeds (~11 h on 2 cores, measured in parts; about 1 min a seed for the image
# recipe, 3-4 for a bone-maps variant, ~8 for a joint training on maps). A results file of another preparation is
# moved aside, not mixed in.
transfer-results: env
	$(PY) -m baa.experiments.transfer run --seeds 9
	$(PY) -m baa.experiments.transfer_recipes
	$(PY) -m baa.experiments.transfer_recipes --variants images,bone_maps_all_dice,bone_maps_no_carpals,bone_maps_bones_dice,bone_maps_jitter_light,bone_maps_jitter,bone_maps_jitter_wide,bone_maps_jitter_tubular --joint '' --seeds 9
	$(PY) -m baa.experiments.transfer_recipes --variants '' --joint joint_x32 --seeds 9
	$(PY) -m baa.experiments.transfer_recipes --variants '' --joint maps_joint_x32,maps_finetune_x32 --seeds 9

# The model shipped in baa/weights (issue 18): a bone segmenter and BoNet+ reading its maps, trained on
# phantoms, its head on the 28 films of ../shared/rsna-dev (~5 min, then ~2 min measuring it into
# artifacts/transfer/shipped.json); deterministic for the same machine (its CPU's kernels) and thread count (2):
# another CPU trains another draw of the recipe, and `make measure-weights` (~2 min) measures the committed
# file as it is instead. The card line rewrites MODEL_CARD.md's hashes and figures (and the spread over seeds
# from `make transfer-results`).
# The film-scale ResUNet `baa restore` runs (issue 17): phantom films only, measured on rsna-dev (~12 min);
# its low-resolution expert (`--kind lowres`, ~6 min).
# The hand check's classifier (issue 21): phantoms, the 38 real films, synthetic non-hands (~10 min).
weights: env
	$(PY) -m baa.experiments.shipped
	$(PY) -m baa.experiments.film_restore run
	$(PY) -m baa.experiments.film_restore lowres
	$(PY) -m baa.assess.handnet build
	$(PY) -m baa.experiments.transfer_card

measure-weights: env
	$(PY) -m baa.experiments.shipped --measure
