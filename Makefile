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

# The shipped bundles (damer_core/models/): the musicnn student, then the default model (musicnn view) and the
# "light" bundle on the student, each trained on all of 4Q after its artist-grouped cross-validation (card figures).
# The 4Q dataset must be in data/4q first (see README: "Training").
CV := --folds 5 --source 4q

.PHONY: run test setup setup-dev deb-run deb-test default-model clean

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

default-model: setup-dev
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev,peers]'  # librosa: the hand-crafted baseline of cv
	$(BIN)/python -m train.fetch_music --out data/music
	$(BIN)/python -m train.fetch_music --out data/music_wide --set wide
	$(BIN)/damer student configs/train/student.yaml --out runs/student
	cp runs/student/student.safetensors damer_core/models/musicnn_student.safetensors
	$(BIN)/damer cv configs/train/default.yaml $(CV) --out runs/cv/default
	$(BIN)/damer train configs/train/default.yaml --out runs/default --cv-report runs/cv/default/cv.json
	cp runs/default/model.safetensors damer_core/models/default.safetensors
	$(BIN)/damer cv configs/train/light.yaml $(CV) --out runs/cv/light
	$(BIN)/damer train configs/train/light.yaml --out runs/light --cv-report runs/cv/light/cv.json
	cp runs/light/model.safetensors damer_core/models/light.safetensors

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
