# podinject — see README. `make test` is the one test command (CI runs it through .ci/run).
SWIFT_RELEASE := scripts/build
BIN := .build/release/podinject

PREFIX ?= /usr/local

.PHONY: setup build sample install test bench fuzz lint

setup:
	scripts/setup

build: setup
	$(SWIFT_RELEASE)

# Admit the shipped sample review with the shipped sample config: the raw answer, then the same
# admission explained rule by rule.
sample: build
	$(BIN) --config samples/config.yaml < samples/review-plain-pod.json
	@printf '\n# The same admission, rule by rule (podinject explain):\n'
	$(BIN) explain --config samples/config.yaml -f samples/review-plain-pod.json

# Copy the release binary to $(PREFIX)/bin (DESTDIR for staging).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/podinject

test:
	scripts/test

bench: build
	scripts/bench

# Every fuzz target for FUZZ_SECONDS (default 600) each; findings go to out/fuzz/<target>/ (README, "Fuzzing").
fuzz: setup
	scripts/fuzz run

lint:
	swift format lint --strict -r Sources Tests Fuzz/Sources
