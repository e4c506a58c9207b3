# Two commands a user needs: `make test` and `make demo`.  Both create .venv if missing and
# install requirements.txt into it (torch/torchvision are pinned to the wheels on this machine's disk),
# then the repository itself in editable mode (pyproject.toml), so every module imports its siblings
# by package name from any folder.
PY      ?= python3
VENV    ?= .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup test demo clean-demo material

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	$(VPY) -m pip install -q --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(VPY) -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(VPY) demo.py

clean-demo:
	rm -rf work_dir/demo work_dir/demo_fast

# Real material for the generator (datatools/synth/material.py): free game music and art from Debian, the
# speech bank rendered with espeak-ng and flite, indexed into $(MATERIAL_DIR)/material.json.  About
# 1.9 GB of packages; needs root (or sudo) for apt-get.  Never add wesnoth-*, warzone2100-music,
# asc-music or colobot-*: they are reserved for an independent held-out judgement.
MATERIAL_DIR ?= work_dir/material
MATERIAL_PKGS := nexuiz-music ufoai-music singularity-music freedroidrpg-data flare-game megaglest-data \
	supertux-data openclipart-png naev-data hyperrogue-music hedgewars-data drascula-music
# Fonts the generator letters Japanese, Chinese and Latin text with, split by family between train /
# calib / test (datatools/synth/lettering.py)
FONT_PKGS := fonts-noto-cjk fonts-vlgothic fonts-wqy-zenhei fonts-ipafont-gothic fonts-ipafont-mincho \
	fonts-takao-gothic fonts-takao-mincho fonts-dejavu-core
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

material: $(STAMP)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(MATERIAL_PKGS) $(FONT_PKGS) espeak-ng flite
	$(VPY) -m datatools.synth.material debian --out $(MATERIAL_DIR) --packages $(MATERIAL_PKGS)
