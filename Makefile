# qmesh: two commands do everything.
#   make bench   set up, build (release preset), run the default suites, write results/ JSON + a report
#   make test    set up, build dev/asan/tsan, run every test, smoke-run qmesh and plot it
# Both install missing Debian packages first (as root), and are fast the second time.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
JOBS ?= $(shell nproc)
PYTHON := /usr/bin/python3

# Everything the build and the scripts need, by Debian package name.
PACKAGES := cmake ninja-build g++ git pkg-config \
	libbenchmark-dev libgtest-dev libgmock-dev librapidcheck-dev \
	libhwloc-dev libnuma-dev nlohmann-json3-dev \
	libboost-dev libreaderwriterqueue-dev libconcurrentqueue-dev libtbb-dev \
	python3 python3-matplotlib

BENCH_SUITES ?= floor,pingpong,submit,stream,load,mesh,kv,pollscale
BENCH_ARGS ?=

# (build-NAME and test-NAME are pattern rules: make skips implicit rules for .PHONY targets)
.PHONY: all deps bench test mutants report device-bundle clean

all: test

# Installs what is missing, or says exactly what to run.
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make: installing missing Debian packages: $$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "make: missing Debian packages; run:" >&2; \
	    echo "  sudo apt-get install -y $$missing" >&2; \
	    exit 2; \
	  fi; \
	fi

# Precious: make would otherwise delete it as an intermediate file.
.PRECIOUS: build/%/build.ninja
build/%/build.ninja: CMakePresets.json | deps
	cmake --preset $* > /dev/null

build-%: deps build/%/build.ninja
	cmake --build --preset $* -j $(JOBS)

test-%: build-%
	ctest --preset $* -j $(JOBS)

test: deps
	$(MAKE) --no-print-directory test-dev
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory mutants

# results/mutants.json (and its table in proptests/README.md) from the
# kill-matrix parts the three test runs wrote (ctest's qmesh.mutants in each
# preset); fails if a mutant survived or a clean original was flagged.
mutants:
	$(PYTHON) proptests/merge_mutants.py --readme proptests/README.md results/mutants.json \
	  build/dev/mutants-part.json build/asan/mutants-part.json build/tsan/mutants-part.json

bench: build-release
	@out=$$(./build/release/bench/qmesh run --suite $(BENCH_SUITES) $(BENCH_ARGS)); \
	echo "result: $$out"; \
	$(PYTHON) plots/report.py "$$out" -o "$${out%.json}.report" \
	  $$( [ -f results/mutants.json ] && echo --mutants results/mutants.json )

# A self-contained copy of the release qmesh for a lent many-core machine
# (ignored .device/: the binaries, every shared library ldd lists, and
# bench/device_run.sh). Carry .device and run `bash .device/device_run.sh`;
# see bench/README.md.
DEVICE_PROGRAMS := qmesh qmesh_micro qmesh_parallel_work
device-bundle: build-release
	rm -rf .device && mkdir -p .device/lib
	cp $(addprefix build/release/bench/,$(DEVICE_PROGRAMS)) bench/device_run.sh .device/
	strip --strip-debug $(addprefix .device/,$(DEVICE_PROGRAMS))  # the carry limit is 64 MiB, the debug info most of a binary
	ldd $(addprefix build/release/bench/,$(DEVICE_PROGRAMS)) \
	  | awk '$$2 == "=>" && $$3 ~ /^\// {print $$3} $$1 ~ /^\/.*ld-linux/ {print $$1}' | sort -u \
	  | xargs -r cp -L -t .device/lib
	@echo "device-bundle: $$(du -sh .device | cut -f1) in .device/ ($$(ls .device/lib | wc -l) libraries)"

# Rebuilds the report of the newest result.
report: deps
	@newest=$$(ls -t results/*.json 2>/dev/null | grep -v -e schema -e mutants | head -n 1); \
	if [ -z "$$newest" ]; then echo "make: no result in results/ (run make bench)" >&2; exit 2; fi; \
	$(PYTHON) plots/report.py "$$newest" -o "$${newest%.json}.report" \
	  $$( [ -f results/mutants.json ] && echo --mutants results/mutants.json )

clean:
	rm -rf build
