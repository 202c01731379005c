# podinject — see README. `make test` is the one test command (CI runs it through .ci/run).
SWIFT_RELEASE := scripts/build
BIN := .build/release/podinject

.PHONY: setup build sample test bench fuzz lint

setup:
	scripts/setup

build: setup
	$(SWIFT_RELEASE)

# Admit the shipped sample review with the shipped sample config.
sample: build
	$(BIN) --config samples/config.yaml < samples/review-plain-pod.json

test:
	scripts/test

bench: build
	scripts/bench

# Every fuzz target for FUZZ_SECONDS (default 600) each; findings go to out/fuzz/<target>/ (README, "Fuzzing").
fuzz: setup
	scripts/fuzz run

lint:
	swift format lint --strict -r Sources Tests Fuzz/Sources
