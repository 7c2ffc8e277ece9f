# The two commands a newcomer needs: `make run` and `make test`.
# Everything else is here to support them. See README.md.

BUILD      ?= build
SAN_BUILD  ?= build-san
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
DATA       ?= ./phivault-data
LISTEN     ?= 127.0.0.1:8443

# Debian 12 packages the build, the tests and `make run` need.
DEB_PACKAGES = build-essential cmake pkg-config clang \
	libssl-dev libmicrohttpd-dev libgnutls28-dev libsodium-dev libjansson-dev \
	libsqlite3-dev libpq-dev libcurl4-openssl-dev libinih-dev libcmocka-dev \
	libcrack2-dev cracklib-runtime wamerican-large libseccomp-dev \
	oathtool gnutls-bin openssl sqlite3 curl tmux \
	openapi-specification python3-jsonschema python3-yaml libqrencode-dev zbar-tools \
	llvm rsyslog rsyslog-gnutls tzdata libp11-kit-dev softhsm2 opensc \
	libcbor-dev chromium chromium-driver python3-selenium \
	postgresql nodejs

.PHONY: all deps build run test test-san fuzz fuzz-coverage bench clean

all: build

deps:
	@scripts/deps.sh $(DEB_PACKAGES)
	@scripts/npm-deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/phivault dev --data $(DATA) --listen $(LISTEN)

ifeq ($(SANITIZE),1)
test: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)
else
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
endif

test-san:
	$(MAKE) test SANITIZE=1

# `make fuzz FUZZ_SECONDS=N [FUZZ_HARNESS="fuzz_x fuzz_y"] [FUZZ_JOBS=2]`: every
# harness (clang, libFuzzer, ASan + UBSan) for N seconds, corpora grown and
# minimized into tests/fuzz/corpus/, a results table (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 30
FUZZ_JOBS    ?= 1
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFUZZ=ON -DSANITIZE=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	PV_FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_HARNESS)

# `make fuzz-coverage`: harnesses built with clang source-based coverage, the
# committed corpora replayed, line and branch coverage per parser file
# (llvm-cov; tests/fuzz/coverage.sh). HTML report in $(COV_BUILD)/coverage/.
COV_BUILD ?= build-cov
fuzz-coverage: deps
	CC=clang cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFUZZ_COVERAGE=ON
	cmake --build $(COV_BUILD) -j $(JOBS) --target fuzzers
	tests/fuzz/coverage.sh $(COV_BUILD)

bench: build
	$(BUILD)/bench_authz_decide
	bench/run.sh $(if $(QUICK),--quick)
	bench/postgres.sh $(if $(QUICK),--quick)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) $(COV_BUILD)
