# Kiln. `make demo` and `make test` work on a fresh Debian 12 machine as root.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test fuzz up down status demo clean package bench

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j2

# libFuzzer targets (fuzz/), built with clang under ASan + UBSan in $(BUILD)/fuzz, each run
# for FUZZ_SECONDS (default 60).
fuzz: deps
	FUZZ_BUILD=$(CURDIR)/$(BUILD)/fuzz fuzz/run.sh

up: build
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

demo: build
	@scripts/stack.sh demo

# Every benchmark in turn (bench/*.sh, bench/dispatch.py; docs/performance.md), each on its
# own throwaway cluster or stack.
bench: build
	KILN_BUILD_DIR=$(abspath $(BUILD)) bench/queue.sh
	KILN_BUILD_DIR=$(abspath $(BUILD)) bench/claim_latency.sh
	KILN_BUILD_DIR=$(abspath $(BUILD)) bench/api.sh
	KILN_BUILD_DIR=$(abspath $(BUILD)) bench/dispatch.py
	KILN_BUILD_DIR=$(abspath $(BUILD)) bench/fairness.sh
	KILN_BUILD_DIR=$(abspath $(BUILD)) bench/usage_report.sh

# Debian packages in $(BUILD)-package/ (docs/install.md): a build whose binaries look for
# their data in /usr/share/kiln, then CPack.
package: deps
	@cmake -S . -B $(BUILD)-package -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_DATA_DIR=/usr/share/kiln \
	  -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(BUILD)-package -j$(JOBS)
	@cd $(BUILD)-package && cpack -G DEB
	@ls $(BUILD)-package/*.deb

clean:
	rm -rf $(BUILD)
