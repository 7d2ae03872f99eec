# unlearn-study: `make study` runs the whole study, `make test` runs every test.
# Both create .venv (system python3) and install into it; torch is pinned to its CPU build.
# The install runs uv when it can be had (the same versions, bytecode compiled as pip does; 29 s against
# pip's 90 s on 2 cores). uv reads no pip config, so torch is held at the pin, and where pip's config
# points at a local wheel directory (find-links) holding the pinned torch for this Python, uv installs that
# file; otherwise pip installs torch first. If uv cannot be installed or fails, pip does everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= default
TORCH_VERSION := 2.13.0
TORCH  := torch==$(TORCH_VERSION)
# Expanded only when the install runs, and then once (the recipe names it twice): the pinned torch's wheel
# in pip's find-links, or nothing.
PYTAG       = $(shell $(PYTHON) -c "import sys; print('cp%d%d' % sys.version_info[:2])")
TORCH_WHEEL = $(eval TORCH_WHEEL := $(firstword $(wildcard $(addsuffix /torch-$(TORCH_VERSION)*-$(PYTAG)-*.whl,$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)))))$(TORCH_WHEEL)

.PHONY: install study smoke test test-kernels test-gpu reproduce explore browser-test screenshots lint clean-results clean-cache

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv && \
	  $(if $(TORCH_WHEEL),,$(BIN)/python -m pip install --quiet $(TORCH) && )\
	  $(BIN)/python -m uv pip install --quiet --python $(BIN)/python --compile-bytecode $(or $(TORCH_WHEEL),'$(TORCH)') -e '.[dev]' ) || \
	( $(BIN)/python -m pip install --quiet $(TORCH) && $(BIN)/python -m pip install --quiet -e '.[dev]' )
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (unlearn-study)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

## The whole study on the embedded default data (profile: PROFILE=default|smoke|paper).
study: install
	$(BIN)/python -m unlearn_lib.batch --profile $(PROFILE) --out results --readme README.md --docs docs

## Every test: unit tests and every notebook under nbval at its small built-in size, one pytest-xdist
## worker per core (--dist loadfile keeps a notebook's cells, and a test module's fixtures, on one worker;
## --no-loadscope-reorder keeps tests/conftest.py's slowest-files-first order, so no long file starts last).
## --durations lists the 15 slowest, so where the test time goes shows in every run.
## One torch/OpenMP thread per test process (TEST_THREADS): the xdist workers already fill the cores, and two
## threads each on two cores oversubscribe them.
TEST_THREADS ?= 1
PYTEST := UNLEARN_PROGRESS=0 MPLBACKEND=Agg OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile --no-loadscope-reorder
test: install
	$(PYTEST) --durations=15 tests notebooks --nbval-lax --nbval-current-env

## The behavioural and strategy tests again under another CPU kernel selection, as on another x86 machine:
## ATen's generic (non-SIMD) kernels, oneDNN at most SSE4.1, MKL at most SSE4.2 (docs/reproducibility.md
## says which of these this torch build honours). Their margins must hold under both selections.
KERNEL_ENV   := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2
KERNEL_TESTS := tests/test_strategies_core.py tests/test_strategies_baselines.py tests/test_gan_cascade.py \
                tests/test_segmentation_unlearning.py tests/test_loop_equivalence.py tests/test_verdict.py \
                tests/test_gan_canary_memorisation.py tests/test_graded_forget_sets.py tests/test_signal_tuning.py \
                tests/test_medical_study.py
test-kernels: install
	$(KERNEL_ENV) $(PYTEST) $(KERNEL_TESTS)

## The device-aware behaviour tests again on a GPU (UNLEARN_TEST_DEVICE=cuda, deterministic CUDA kernels), with
## the same margins; needs a CUDA build of torch in .venv. On a bare GPU machine without network,
## tools/gpu_check.sh runs them and the smoke study (docs/reproducibility.md).
GPU_TESTS := tests/test_strategies_core.py tests/test_gan_cascade.py tests/test_segmentation_unlearning.py
test-gpu: install
	UNLEARN_TEST_DEVICE=cuda $(PYTEST) $(GPU_TESTS)

## Do the committed numbers hold on this machine? Reruns the study (NB=<stem> for one notebook) from scratch,
## with an empty model cache, into .reproduce/<time>/ and writes report.md there (rows identical, within and
## beyond tolerance per study; tolerances from the committed seed spread).
reproduce: install
	UNLEARN_PROGRESS=0 $(BIN)/python -m unlearn_lib.batch.reproduce --profile $(PROFILE) $(if $(NB),--only $(NB))

## The explorer (notebooks/00_explore.ipynb) as a dashboard without code, served by Voila on PORT.
PORT ?= 8866
explore: install
	$(BIN)/voila notebooks/00_explore.ipynb --no-browser --port=$(PORT) --Voila.ip=127.0.0.1

## The explorer in a real browser (headless system Chromium + Playwright) in JupyterLab and Voila;
## screenshots in the git-ignored .browser-test/ (a browser's pixels differ from run to run, so a check leaves
## git status clean). `make screenshots` runs the same check and refreshes the README's, in figures/explore/.
## Installs chromium with apt-get when /usr/bin/chromium is missing.
BROWSER_SHOTS ?= .browser-test
browser-test: install
	BROWSER_SHOTS=$(BROWSER_SHOTS) UNLEARN_PROGRESS=0 MPLBACKEND=Agg $(BIN)/python tests/browser/browser_check.py

screenshots: install
	$(MAKE) browser-test BROWSER_SHOTS=figures/explore

## The whole study at the smallest sizes (minutes): every code path, numbers not meaningful.
smoke: install
	$(BIN)/python -m unlearn_lib.batch --profile smoke --out results/smoke --figures results/smoke/figures

## Delete every run under results/ that no latest.json lists (runs are otherwise kept side by side).
clean-results: install
	$(BIN)/python -m unlearn_lib.results --prune results

lint: install
	$(BIN)/ruff check unlearn_lib tests benchmarks notebooks
	$(BIN)/ruff format --check unlearn_lib tests benchmarks

## Remove the cache of trained models and simulated data: $UNLEARN_CACHE, else ~/.cache/unlearn-study.
clean-cache:
	@dir="$${UNLEARN_CACHE:-$$HOME/.cache/unlearn-study}"; \
	case "$$dir" in /|"$$HOME"|"$$HOME/") echo "clean-cache: refusing to remove $$dir" >&2; exit 1;; esac; \
	rm -rf -- "$$dir" && echo "removed $$dir"
