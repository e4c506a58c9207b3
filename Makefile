# Two commands a user needs: `make test` and `make demo`.  Both create .venv if missing and
# install requirements.txt into it (torch/torchvision are pinned to the wheels on this machine's disk).
PY      ?= python3
VENV    ?= .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup test demo clean-demo

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	touch $(STAMP)

test: $(STAMP)
	$(VPY) -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(VPY) demo.py

clean-demo:
	rm -rf work_dir/demo work_dir/demo_fast
