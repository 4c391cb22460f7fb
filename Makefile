# confaudit — every target bootstraps .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    := out

.PHONY: demo test bench sysdeps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

demo: $(STAMP)
	@bash scripts/demo.sh

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider

# Bytecode is compiled first, as a wheel install does (this machine sets PYTHONDONTWRITEBYTECODE,
# which would otherwise make every measured run compile the package from source).
bench: $(STAMP) sysdeps
	@$(BIN)/python -m pip install -q -e '.[bench]'
	@$(BIN)/python -m compileall -q confaudit benchmarks
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(OUT) build dist *.egg-info
