# A thin layer over CMake. Build trees live under build/.
#   make run     install what is missing, build (Release), run the demo
#   make test    install, build (RelWithDebInfo, -Werror), run every test
#   make check   the test suite under ASan+UBSan, then under TSan
#   make bench   build (Release) and run the benchmarks
#   make fuzz    build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make crashtest  the crash harness, every mode, for CRASHTEST_DURATION (docs/reliability.md)
#   make format  clang-format in place;  make tidy  clang-tidy over the sources
#   make install  build (Release) and install into PREFIX (default /usr/local)
JOBS ?= 2
PREFIX ?= /usr/local
CMAKE ?= cmake
CTEST_ARGS ?=
FUZZ_SECONDS ?= 60
CRASHTEST_DURATION ?= 1h
CRASHTEST_ARGS ?=
SOURCES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

.PHONY: all bootstrap run test check check-asan check-tsan bench fuzz crashtest format tidy install clean

all: bootstrap
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build build/release -j$(JOBS)

bootstrap:
	@scripts/bootstrap.sh

run: all
	build/release/tools/fsdb demo

test: bootstrap
	$(CMAKE) -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSDB_WERROR=ON
	$(CMAKE) --build build/test -j$(JOBS)
	cd build/test && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

check: check-asan check-tsan

check-asan: bootstrap
	$(CMAKE) -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DFSDB_SANITIZE=address -DFSDB_WERROR=ON \
	  -DFSDB_BUILD_BENCH=OFF
	$(CMAKE) --build build/asan -j$(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE slow $(CTEST_ARGS)

check-tsan: bootstrap
	$(CMAKE) -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSDB_SANITIZE=thread \
	  -DFSDB_WERROR=ON -DFSDB_BUILD_BENCH=OFF
	$(CMAKE) --build build/tsan -j$(JOBS)
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j$(JOBS) -LE slow $(CTEST_ARGS)

bench: all
	@for b in build/release/bench/*_bench; do [ -x "$$b" ] && { echo "== $$b"; "$$b"; }; done

fuzz: bootstrap
	$(CMAKE) -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DFSDB_BUILD_FUZZERS=ON -DFSDB_BUILD_TESTS=OFF -DFSDB_BUILD_BENCH=OFF -DFSDB_BUILD_TOOLS=OFF
	$(CMAKE) --build build/fuzz -j$(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run_fuzzers.sh build/fuzz/fuzz

crashtest: bootstrap
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build build/release --target fsdb_crashtest -j$(JOBS)
	build/release/tools/crashtest/fsdb_crashtest --mode=all --duration=$(CRASHTEST_DURATION) \
	  $(CRASHTEST_ARGS)

format:
	clang-format -i $(SOURCES)

tidy: bootstrap
	$(CMAKE) -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSDB_WERROR=ON
	@# GCC-only warning flags in the compile commands are not clang-tidy's concern.
	echo $(filter %.cc,$(SOURCES)) | xargs -n 8 -P $(JOBS) clang-tidy -p build/test --quiet \
	  --warnings-as-errors='*' --extra-arg=-Wno-unknown-warning-option

install: all
	$(CMAKE) --install build/release --prefix $(PREFIX)

clean:
	rm -rf build

# make compare: fsdb against RocksDB and LevelDB (fsdb_bench, interleaved, medians,
# charts into docs/img/). COMPARE_ARGS passes e.g. --num=100000 --rounds=3.
COMPARE_ARGS ?= --num=1000000 --rounds=3
.PHONY: compare
compare:
	@scripts/bootstrap.sh --peers
	$(CMAKE) -S . -B build/release-peers -DCMAKE_BUILD_TYPE=Release -DFSDB_BENCH_PEERS=ON
	$(CMAKE) --build build/release-peers --target fsdb_bench -j$(JOBS)
	bench/compare.sh --bin=build/release-peers/bench/fsdb_bench $(COMPARE_ARGS)
