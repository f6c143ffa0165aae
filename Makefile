# The README's two commands: `make serve` and `make test`. Everything else builds on them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
TORCH  ?= torch==2.13.0

# Debian packages the corpus (tests, training) renders with, the deployment tests' nginx and docker-compose,
# and the browser the page test drives (Playwright with Debian's chromium: no browser download).
SYSTEM_PACKAGES := espeak-ng festival festvox-us-slt-hts festvox-kallpc16k flite sox fluidsynth \
    fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont \
    sound-theme-freedesktop asterisk-core-sounds-en-wav nginx docker-compose chromium
REPLICAS ?= 3

.PHONY: install dev system-deps corpus-packages serve cluster test train quality bench bench-gpu soak clean

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"    # first: a plain `torch` requirement would pull CUDA wheels
	$(BIN)/pip install -q -e .
	touch $@

dev: $(VENV)/.dev
$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

serve: install
	HF_HUB_OFFLINE=1 PORT=$(PORT) $(BIN)/python -m service serve

# REPLICAS replicas behind nginx (docker/nginx.conf) on 127.0.0.1:$(PORT), no Docker; Ctrl-C drains and stops them.
cluster: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python docker/cluster.py --replicas $(REPLICAS) --port $(PORT)

test: dev system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# The Debian packages the real-recordings corpus is read from (training/corpus/packages.py): apt-get download
# + dpkg-deb -x into .cache/debs, nothing installed system-wide; skips what is already unpacked. Training
# only: the test suite never needs them. The reserved evaluation packages are refused.
corpus-packages: dev
	$(BIN)/python -m training.corpus fetch

# The bundled model on the real-recordings corpus (plus the synthetic sources), resumable: run it again to
# continue from runs/bundled-real/last.pt. Exports the best-validated weights into model/weights/.
train: dev system-deps corpus-packages
	$(BIN)/python -m training.corpus build-real --root .cache/corpus-real --split train --clips-per-class 80 --speech-clips 320
	$(BIN)/python -m training.corpus build-real --root .cache/corpus-real --split valid --clips-per-class 12 --speech-clips 60
	HF_HUB_OFFLINE=1 $(BIN)/python -m training.train --corpus .cache/corpus-real --run runs/bundled-real \
		--steps 20000 --lr 1e-3 --warmup 100 --valid-mixtures 213

# Every speed benchmark side by side in one run (about 20 minutes on 2 cores) -> BENCHMARKS.md + plots.
bench: dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench

# The GPU measurements in one call (bench/gpu.py; under 8 minutes on one GPU) -> bench/results/gpu.md.
# On a machine without CUDA it refuses; `$(BIN)/python -m bench --gpu --dry-run` checks it on a CPU (the tests do).
bench-gpu: dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench --gpu

# Half an hour of mixed traffic against one server: errors, RSS, threads and open files (RELIABILITY.md).
soak: dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.soak --minutes 30

quality: dev system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m training.quality

clean:
	rm -rf $(VENV) .pytest_cache
