# Two commands on a fresh machine: `make demo` (install + run the main job), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.clipcut-installed

.PHONY: demo test install bench-speed clean

# Reinstalls only when pyproject.toml changes (or the venv is missing).
$(STAMP): pyproject.toml scripts/install.sh
	VENV=$(VENV) bash scripts/install.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP)
	bash scripts/install_chromium.sh
	$(PY) -m pytest -q

bench-speed: $(STAMP)
	$(PY) scripts/bench_speed.py

clean:
	rm -rf demo .pytest_cache
