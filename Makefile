# gazekit tasks. Everything installs into .venv (created on first use) with the CPU build of torch first,
# so a plain `torch` requirement never pulls the multi-GB CUDA build on machines without a GPU.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
OUT    ?= demo_out

.PHONY: install install-dev install-browser demo test test-all test-browser lint format app clean

$(VENV)/.core: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[app]"
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q -e ".[dev,app,hub,kernels]"
	touch $@

install: $(VENV)/.core
install-dev: $(VENV)/.dev

install-browser: $(VENV)/.dev
	$(PIP) install -q -e ".[browser]"
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

## The main job on the embedded default: synthetic world -> models -> scores -> report in $(OUT)/
demo: install
	$(VENV)/bin/gazekit demo --out $(OUT)

## The default test run (excludes slow / gpu / browser / hub tests).
test: install-dev
	$(PY) -m pytest -q

test-browser: install-browser
	$(PY) -m pytest -q -m browser

test-all: install-browser
	$(PY) -m pytest -q -m "not gpu and not hub"

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

app: install
	$(VENV)/bin/gazekit app

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache lightning_logs
