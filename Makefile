# ReST^EM toolkit. `make` runs the main job; `make test` builds and runs the tests;
# `make bench` prints every benchmark beside its same-run reference.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

# System packages the build and tests need (Debian names).
APT_PACKAGES := libzstd-dev libarchive-dev libopenblas-dev libcurl4 pkg-config zstd jq
SWIFT_BUILD := swift build -c release
BIN := .build/release
DATA_DIR := ../shared/data
RUN ?= demo
OUT := runs/$(RUN)

.PHONY: all deps build test bench clean data

# Installs missing system packages: directly as root, otherwise prints the exact command.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages; run: sudo apt-get install -y $$missing" >&2; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT_BUILD)

test: deps
	swift build --build-tests
	swift test

bench: deps
	$(SWIFT_BUILD) --product bench
	$(BIN)/bench

# The pipeline so far: import the shipped datasets into problem shards, then score the human
# reference solutions with `verify` as if a model had written them (a checker self-test:
# every one should be correct).
all: data $(OUT)/gsm8k-test.reference-verdicts.jsonl.zst $(OUT)/math500.reference-verdicts.jsonl.zst \
     $(OUT)/humaneval.reference-verdicts.jsonl.zst

data: $(OUT)/gsm8k-train.jsonl.zst $(OUT)/gsm8k-test.jsonl.zst $(OUT)/math500.jsonl.zst $(OUT)/humaneval.jsonl.zst
	@for f in $^; do echo "== $$f"; $(BIN)/shards stats $$f; done

$(OUT)/%.reference-verdicts.jsonl.zst: $(OUT)/%.jsonl.zst | build
	@echo "== verify: reference solutions of $* as completions"
	$(BIN)/shards cat $< | jq -c '. + {completion: .solution, sample: 0}' | $(BIN)/verify - -o $@

$(BIN)/shards: build
	@true

$(OUT)/gsm8k-%.jsonl.zst: $(DATA_DIR)/gsm8k/%.jsonl | build
	@mkdir -p $(@D)
	$(BIN)/shards import gsm8k $< -o $@

$(OUT)/math500.jsonl.zst: $(DATA_DIR)/math500/test.jsonl | build
	@mkdir -p $(@D)
	$(BIN)/shards import math $< -o $@

$(OUT)/humaneval.jsonl.zst: $(DATA_DIR)/humaneval/HumanEval.jsonl.gz | build
	@mkdir -p $(@D)
	$(BIN)/shards import humaneval $< -o $@

clean:
	rm -rf .build runs
