# One-command set-up, run and test. Every target installs what it needs, idempotently.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8

# Debian packages: the engine needs PortAudio; the tests also drive real OSC receivers (liblo's oscdump,
# Pure Data), a PulseAudio virtual sound card and FluidSynth with a General MIDI soundfont.
DEB_RUN := libportaudio2
DEB_TEST := $(DEB_RUN) liblo-tools pulseaudio pulseaudio-utils libasound2-plugins puredata-core \
            fluidsynth timgm6mb-soundfont

.PHONY: run test setup setup-dev deb-run deb-test clean

run: setup
	$(BIN)/damer stream

test: setup-dev
	$(BIN)/python -m pytest -n 2 -q

setup: deb-run $(VENV)/.installed-run
setup-dev: deb-test $(VENV)/.installed-dev

deb-run:
	@bash .ci/apt-install.sh $(DEB_RUN)

deb-test:
	@bash .ci/apt-install.sh $(DEB_TEST)

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
