# Targets behind the README's commands: `make` builds and renders the built-in scene
# (tools/setup.sh installs packages first), `make test` runs every test in a release and an ASan + UBSan build (no CUDA),
# then fuzzes every reader briefly (clang, libFuzzer; `tools/fuzz.sh` fuzzes longer).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: demo deps build test test-release test-sanitize test-fuzz clean

demo: build
	$(BUILD)/radiant render --demo --out out/demo

deps:
	tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

test: test-release test-sanitize test-fuzz

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# without CUDA: its kernels run only on a GPU, which the sanitizers cannot watch, and the
# release build has already compiled them (nvcc is most of a build's minutes); without the
# tests labelled long (training runs to a quality), which the release run takes
test-sanitize: deps
	cmake -S . -B $(BUILD)-sanitize -DCMAKE_BUILD_TYPE=Debug -DRADIANT_SANITIZE=ON -DRADIANT_CUDA=OFF
	cmake --build $(BUILD)-sanitize -j $(JOBS)
	cd $(BUILD)-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -LE long

# every harness replays its corpus and regressions, then fuzzes for FUZZ_SECONDS; a finding fails
FUZZ_SECONDS ?= 15
test-fuzz: deps
	tools/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize build-fuzz out fuzz-out .cache
