# Two commands on a fresh machine:
#   make reproduce   set up, build the offline zoo, run every chapter at the tiny preset, build the book
#   make test        set up, run the unit tests and nbval on every notebook (smoke scale)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch (on this machine's disk). On a GPU machine: make TORCH_SPEC='torch' ...
TORCH_SPEC ?= torch==2.13.0
PRESET ?= tiny
export W2S_HOME ?= $(CURDIR)/.cache/w2s
export TOKENIZERS_PARALLELISM ?= false
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1

.PHONY: setup zoo reproduce book test test-unit test-notebooks bench clean

STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -c constraints.txt -e ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (w2s-book)" >/dev/null
	rm -f $(VENV)/.installed-*; touch $@

zoo: setup
	$(VENV)/bin/w2s zoo build
	$(VENV)/bin/w2s zoo build --chess

reproduce: setup
	$(VENV)/bin/w2s reproduce --preset $(PRESET)

book: setup
	$(VENV)/bin/w2s book

test: setup test-unit test-notebooks

test-unit: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests

# nbval executes every notebook in place; W2S_SMOKE=1 makes `preset="tiny"` run at smoke scale.
test-notebooks: setup
	HF_HUB_OFFLINE=1 W2S_SMOKE=1 W2S_HOME=$(CURDIR)/.cache/w2s-smoke $(PY) -m pytest -q -p no:cacheprovider --nbval-lax notebooks

bench: setup
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f; done

clean:
	rm -rf book/_build book/chapters/*.ipynb book/chapters/*.done.json book/chapters/reproduce.json book/chapters/zoo outputs .cache/w2s-smoke
