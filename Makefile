# unlearn-study: `make study` runs the whole study, `make test` runs every test.
# Both create .venv (system python3) and install into it; torch is pinned to its CPU build.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= default
TORCH  := torch==2.13.0

.PHONY: install study smoke test explore browser-test lint clean-results clean-cache

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (unlearn-study)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

## The whole study on the embedded default data (profile: PROFILE=default|smoke|paper).
study: install
	$(BIN)/python -m unlearn_lib.batch --profile $(PROFILE) --out results --readme README.md --docs docs

## Every test: unit tests, then every notebook under nbval at its small built-in size.
test: install
	UNLEARN_PROGRESS=0 MPLBACKEND=Agg $(BIN)/python -m pytest -q tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

## The explorer (notebooks/00_explore.ipynb) as a dashboard without code, served by Voila on PORT.
PORT ?= 8866
explore: install
	$(BIN)/voila notebooks/00_explore.ipynb --no-browser --port=$(PORT) --Voila.ip=127.0.0.1

## The explorer in a real browser (headless system Chromium + Playwright) in JupyterLab and Voila;
## screenshots in figures/explore/. Installs chromium with apt-get when /usr/bin/chromium is missing.
browser-test: install
	UNLEARN_PROGRESS=0 MPLBACKEND=Agg $(BIN)/python tests/browser/browser_check.py

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
