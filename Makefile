# One-command set-up, run and test. Every target installs what it needs, idempotently.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8

# Debian packages: the engine needs PortAudio; the tests also drive real OSC receivers (liblo's oscdump,
# Pure Data), a PulseAudio virtual sound card, FluidSynth with a General MIDI soundfont, and a headless
# browser (Chromium) that loads the live monitor.
DEB_RUN := libportaudio2
DEB_TEST := $(DEB_RUN) liblo-tools pulseaudio pulseaudio-utils libasound2-plugins puredata-core \
            fluidsynth timgm6mb-soundfont chromium

# The shipped default model (damer_core/models/default.safetensors): fetch and render its data, train it.
DEB_TRAIN := fluidsynth timgm6mb-soundfont fluid-soundfont-gm
SOUNDFONTS := /usr/share/sounds/sf2/TimGM6mb.sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2
# Two of the 16 ensembles (choir, mallets) are left out of training for the instrument split of the test corpus.
TRAIN_ENSEMBLES := ambient brass clavinet_funk electric_piano harp horns nylon_guitar oboe_strings organ piano \
                   rock strings synth woodwinds

.PHONY: run test setup setup-dev deb-run deb-test deb-train default-model clean

run: setup
	$(BIN)/damer stream --monitor

test: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

setup: deb-run $(VENV)/.installed-run
	@echo "damer is installed in $(VENV): 'source $(VENV)/bin/activate' puts damer on the PATH (or run $(BIN)/damer)"
setup-dev: deb-test $(VENV)/.installed-dev

deb-run:
	@bash .ci/apt-install.sh $(DEB_RUN)

deb-test:
	@bash .ci/apt-install.sh $(DEB_TEST)

deb-train:
	@bash .ci/apt-install.sh $(DEB_TRAIN)

default-model: setup-dev deb-train
	$(BIN)/python -m train.fetch_music --out data/music
	test -f data/synth/labels.csv || $(BIN)/damer synth --out data/synth --n 1200 --seed 1 --soundfont $(SOUNDFONTS) \
	    --ensembles $(TRAIN_ENSEMBLES)
	test -f data/synth_test_seed/labels.csv || $(BIN)/damer synth --out data/synth_test_seed --n 120 --seed 2 \
	    --soundfont $(SOUNDFONTS) --ensembles $(TRAIN_ENSEMBLES)
	test -f data/synth_test_instruments/labels.csv || $(BIN)/damer synth --out data/synth_test_instruments --n 60 \
	    --seed 3 --soundfont $(SOUNDFONTS) --ensembles choir mallets
	$(BIN)/damer train configs/train/default.yaml --out runs/default
	cp runs/default/model.safetensors damer_core/models/default.safetensors

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV)
