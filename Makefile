# patchlab: the two commands of the README, over CMake.
#
#   make demo       install what is missing, build, run a power-cut suite on
#                   the virtual rack, print the verdicts and the report path
#   make test       install, build, run every test (ctest)
#   make test-asan  the same under AddressSanitizer + UBSan (CI runs both)
#   make bench      the benchmarks of tests/bench/ (figures in runs/bench/)
#   make fuzz-smoke each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS
#                   (30), as many at once as there are cores, with clang
#                   in build-fuzz (CI runs it)
#   make fuzz       the same for longer (FUZZ_SECONDS, default 600 each)

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# tests at once: most wait on a virtual board's clock, not the CPU (the
# QEMU ones take two slots each, one at a time: tests/CMakeLists.txt)
TEST_JOBS  ?= $(shell echo $$(( $(JOBS) * 2 )))
CTEST_ARGS ?=

.PHONY: all deps configure build test test-asan demo bench fuzz-smoke fuzz clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(TEST_JOBS) $(CTEST_ARGS)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(TEST_JOBS) -LE no-asan $(CTEST_ARGS)

# The demo needs only the patchlab program, not the tests.
demo: configure
	@cmake --build $(BUILD) -j$(JOBS) --target patchlab
	@scripts/demo $(BUILD)

bench: build
	@scripts/bench $(BUILD)

fuzz-smoke: deps
	@JOBS=$(JOBS) scripts/fuzz smoke

fuzz: deps
	@JOBS=$(JOBS) scripts/fuzz long

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
