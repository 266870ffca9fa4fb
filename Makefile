# ReST^EM toolkit. `make` runs the main job (the ReST^EM loop on the embedded demo task and
# report); `make test` builds and runs the tests; `make bench` prints every benchmark beside
# its same-run reference; `make base` rebuilds the shipped demo base model.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
# Files made by chains of pattern rules are results, not temporaries: never delete them.
.SECONDARY:
.DEFAULT_GOAL := all

# System packages the build and tests need (Debian names).
APT_PACKAGES := libzstd-dev libarchive-dev libopenblas-dev libcurl4 pkg-config zstd jq
SWIFT_BUILD := swift build -c release
BIN := .build/release
DATA_DIR ?= ../shared/data#  the full GSM8K, MATH500 and HumanEval files (DATA=gsm8k, `make datasets`)
RUNS ?= runs#            where runs live: runs/NAME/{data,base,sft,clean,iter1,...,report.md}

# ---- The ReST^EM loop: the paper's settings scaled to a 2-core machine ----------------------
# (paper: 3 iterations, K = 32 or 64 samples, temperature 0.7, top-k 40, at most 10 per problem)
DATA ?= demo#            demo (generated), gsm8k (../shared/data), or a folder with
#                        train/validation/test.jsonl.zst
SEED ?= 0#               seed of the demo data, the base model (SEED != 0), sampling, data order
# Each dataset's own defaults come first; the general ones below fill in the rest.
ifeq ($(DATA),demo)
  RUN ?= $(if $(filter 0,$(SEED)),demo,demo-seed$(SEED))
  DATA_OUT = $(RUNS)/$(RUN)/data
  TEMPLATE ?= $(DATA_OUT)/prompt.txt
  # The shipped base was pretrained on the seed-0 corpus; other seeds pretrain their own.
  BASE ?= $(if $(filter 0,$(SEED)),demo/base,$(RUNS)/$(RUN)/pretrained)
  CONTROL := clean
  BY ?= difficulty
else ifeq ($(DATA),code-demo)
  # The code demo (`shards code-demo`): small Python list functions checked in the sandbox.
  # Defaults sized for a 2-core machine, where every sample is a sandboxed Python run and a
  # training sequence is 2-3 times a math one (3 min 49 s on a fresh clone of the 2-core machine;
  # see the README). Its base reaches only 17% on validation by step 350 of pretraining.
  RUN ?= $(if $(filter 0,$(SEED)),code-demo,code-demo-seed$(SEED))
  DATA_OUT = $(RUNS)/$(RUN)/data
  TEMPLATE ?= $(DATA_OUT)/prompt.txt
  BASE ?= $(if $(filter 0,$(SEED)),code-demo/base,$(RUNS)/$(RUN)/pretrained)
  CONTROL := clean
  BY ?= difficulty
  ITERS ?= 2
  SAMPLES ?= 8
  STEPS ?= 200
  BATCH ?= 32
  MAX_TOKENS ?= 128
  SEQ_TOKENS ?= 160
  # No greedy train scores and no test pass@k: each would cost as many sandbox runs as an E-step.
  EVAL_SPLITS ?= validation test
  TEST_SAMPLES ?= 0
  PRETRAIN_STEPS ?= 1000
  PRETRAIN_EVERY ?= 50
  BASE_TARGET ?= 17
else ifeq ($(DATA),gsm8k)
  # For a pretrained model of about 0.5B parameters: give BASE=/path/to/hf-model.
  RUN ?= gsm8k
  DATA_OUT = $(RUNS)/$(RUN)/data
  TEMPLATE ?= templates/gsm8k.txt
  SAMPLES ?= 8
  TEMP ?= 0.7
  STEPS ?= 600
  SNAPSHOT_EVERY ?= 200
  LR ?= 1e-5
  BATCH ?= 8
  MAX_TOKENS ?= 320
  SEQ_TOKENS ?= 512
  GENERATE_FLAGS ?= --stop '\n\n'
else ifeq ($(DATA),mbpp)
  # MBPP=path/to/mbpp.jsonl (the 974-problem file) and BASE=/path/to/hf-model (about 0.5B).
  # templates/mbpp.txt ends inside a ```python fence; the model's closing fence stops a sample.
  RUN ?= mbpp
  DATA_OUT = $(RUNS)/$(RUN)/data
  TEMPLATE ?= templates/mbpp.txt
  SAMPLES ?= 8
  TEMP ?= 0.7
  STEPS ?= 300
  SNAPSHOT_EVERY ?= 100
  LR ?= 1e-5
  BATCH ?= 8
  MAX_TOKENS ?= 384
  SEQ_TOKENS ?= 768
  GENERATE_FLAGS ?= --stop '```'
else ifeq ($(DATA),apps)
  # APPS=folder with train.jsonl and test.jsonl (the codeparrot/apps layout); BASE as above.
  RUN ?= apps
  DATA_OUT = $(RUNS)/$(RUN)/data
  TEMPLATE ?= templates/apps.txt
  SAMPLES ?= 8
  TEMP ?= 0.7
  STEPS ?= 600
  SNAPSHOT_EVERY ?= 200
  LR ?= 1e-5
  BATCH ?= 8
  MAX_TOKENS ?= 512
  SEQ_TOKENS ?= 1536
  GENERATE_FLAGS ?= --stop '```'
  BY ?= difficulty
  APPS_VALIDATION ?= 0/20#  validation: this stable part of the train split (by id); train: the rest
  APPS_TEST_PART ?=#        i/n: test on this stable part of the 5,000 test problems (empty: all)
else
  RUN ?= $(notdir $(abspath $(DATA)))
  DATA_OUT = $(DATA)
  TEMPLATE ?= templates/problem.txt
endif
ITERS ?= 3#              EM iterations
SAMPLES ?= 16#           K: samples per train problem in each E-step
TEMP ?= 0.5#             sampling temperature of the E-step
TOP_K ?= 40#             top-k of the E-step
CAP ?= 4#                at most this many correct samples kept per problem (all: no limit)
STEPS ?= 300#            fine-tuning steps of every M-step, SFT baseline and control
SNAPSHOT_EVERY ?= 100#   snapshots every N steps; the best on validation is the model
LR ?= 1e-3#              peak learning rate (cosine schedule)
WARMUP ?= 20
BATCH ?= 64#             sequences per fine-tuning step
MAX_TOKENS ?= 48#        new tokens per sample
SEQ_TOKENS ?= 64#        tokens per training sequence
EVAL_SPLITS ?= validation test train# the splits every model is scored on greedily for the report
BY ?= none#              record field for the per-group tables of the report (none: no tables)
ROUNDS ?= 1#             adaptive E-step: the K samples in R rounds; a problem with CAP correct ones stops
FROM ?= base#            each M-step fine-tunes the base (ReST^EM) or, with FROM=previous, the previous model (ReST)
SAMPLER ?=#              a model directory that draws every E-step's samples instead (distillation)
TRAIN_PART ?=#           i/n: the E-steps use only this stable part of the train problems (0/2: half)
TEST_SAMPLES ?= $(SAMPLES)# K samples per test problem from base, SFT and final for pass@k/maj@k (0: none)
GENERATE_FLAGS ?=#       e.g. --endpoint http://127.0.0.1:8000/v1 --concurrency 16
FINETUNE_FLAGS ?=
DEMO_FLAGS ?=#           extra `shards demo` flags, e.g. --splits 200,40,40 for a quick look
# Scaling out (README, "Scaling out"):
SHARDS ?= 1#             every sampling stage (E-steps, greedy and pass@k evaluations) as N shard jobs
LAUNCH ?=#               prefix of every shard job, e.g. srun --ntasks=1 --gres=gpu:1 (empty: run here)
SERVE ?=#                sample through a server started per shard job: vllm, transformers, or a command
#                        template with {model}, {name} and {port}
SERVE_TIMEOUT ?= 600#    seconds to wait for the server's GET /v1/models
TRAINER ?= builtin#      every fine-tune (M-steps, SFT, control) on the built-in CPU trainer, or trl (TRL's SFTTrainer)
TRL_LAUNCH ?= accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no
TRAIN_LAUNCH ?=#         prefix of every fine-tune, e.g. srun --ntasks=1 --gres=gpu:8 (empty: run here)
PRETRAIN_STEPS ?= 600#   most pretraining steps of a demo base (SEED != 0 and `make base`)
PRETRAIN_EVERY ?= 25#    a pretraining snapshot every N steps
BASE_TARGET ?= 30#       the demo base: the first snapshot with validation pass@1 >= this (%)
OUT := $(RUNS)/$(RUN)
SNAPSHOT_STEPS := $(shell s=$(SNAPSHOT_EVERY); while [ $$s -lt $(STEPS) ]; do echo $$s; s=$$((s + $(SNAPSHOT_EVERY))); done) $(STEPS)
ITERATION_NUMBERS := $(shell seq 1 $(ITERS))

.PHONY: all deps build test test-integration bench bench-peers compare-math-verify clean base code-demo-base \
        datasets ablations

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

# Every rule that runs a tool lists `build` as an order-only prerequisite: one (no-op when
# up to date) swift build per make run, and never a rebuild of data because of it.

test: deps
	swift build --build-tests
	swift test

# Scaling out against real engines on this CPU (README, "Scaling out"): shard jobs killed and
# rerun, SERVE=transformers (`transformers serve`), TRAINER=trl (TRL through accelerate). The
# Python environment lives in .build/integration-venv; pip takes torch's CPU build from the
# find-links folder in PIP_FIND_LINKS when there is one (PyPI's default build pulls CUDA).
INTEGRATION_VENV := .build/integration-venv
INTEGRATION_PACKAGES := torch==2.13.0 'transformers[serving]==5.25.0' trl==1.16.0 accelerate==1.16.0
$(INTEGRATION_VENV)/installed:
	python3 -m venv $(INTEGRATION_VENV)
	$(INTEGRATION_VENV)/bin/pip install --quiet --disable-pip-version-check $(INTEGRATION_PACKAGES)
	touch $@
test-integration: deps $(INTEGRATION_VENV)/installed
	swift build --build-tests
	RESTEM_INTEGRATION_BIN=$(abspath $(INTEGRATION_VENV)/bin) swift test --skip-build --filter IntegrationTests

# `make bench SECTIONS="math code"` runs only those sections (engine, shards, math, code, tokenizer; and,
# only when named, training and products: the training step and its matrix products alone).
bench: deps
	$(SWIFT_BUILD) --product bench
	$(BIN)/bench $(SECTIONS)

# Our training step and sampling beside PyTorch (CPU build, AdamW) and transformers' `generate`,
# same configurations and threads, same run; both installed in .build/peers-venv on first use.
bench-peers: deps
	scripts/bench-peers.sh

# Second opinion on the labelled fixtures: every pair where math-verify (PyPI) disagrees with its label.
BENCH_PYTHON := .build/bench-python
compare-math-verify:
	@if [ ! -d $(BENCH_PYTHON)/math_verify ]; then \
	  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target $(BENCH_PYTHON) math-verify; \
	fi
	PYTHONPATH=$(BENCH_PYTHON) python3 scripts/compare-math-verify.py

# ---- Data -------------------------------------------------------------------------------
DEMO_FILES := $(addprefix $(RUNS)/%/data/,train.jsonl.zst validation.jsonl.zst test.jsonl.zst pretrain.jsonl.zst \
                                        tokenizer.json config.json prompt.txt)
ifeq ($(DATA),demo)
# One run of `shards demo` writes all of these (a pattern rule with several targets).
$(DEMO_FILES): | build
	$(BIN)/shards demo --seed $(SEED) $(DEMO_FLAGS) -o $(RUNS)/$*/data

else ifeq ($(DATA),code-demo)
$(DEMO_FILES): | build
	$(BIN)/shards code-demo --seed $(SEED) $(DEMO_FLAGS) -o $(RUNS)/$*/data

else ifeq ($(DATA),gsm8k)
# GSM8K: validation is a stable 1/20 of the train split (by id), test is the test split.
$(RUNS)/%/data/gsm8k-train-all.jsonl.zst: $(DATA_DIR)/gsm8k/train.jsonl | build
	@mkdir -p $(@D)
	$(BIN)/shards import gsm8k $< -o $@
$(RUNS)/%/data/validation.jsonl.zst: $(RUNS)/%/data/gsm8k-train-all.jsonl.zst | build
	$(BIN)/shards cat --shard 0/20 $< -o $@
$(RUNS)/%/data/train.jsonl.zst: $(RUNS)/%/data/gsm8k-train-all.jsonl.zst | build
	@mkdir -p $(@D)/parts
	$(BIN)/shards split --shards 20 $< -o $(@D)/parts/train.jsonl.zst
	$(BIN)/shards cat $$(ls $(@D)/parts/train-*-of-00020.jsonl.zst | sort | tail -n +2) -o $@
$(RUNS)/%/data/test.jsonl.zst: $(DATA_DIR)/gsm8k/test.jsonl | build
	@mkdir -p $(@D)
	$(BIN)/shards import gsm8k $< -o $@

else ifeq ($(DATA),mbpp)
# MBPP's standard split by task_id: test 11-510, validation 511-600, train 601-974 (1-10 are
# the paper's few-shot examples and stay out). One recipe writes all three.
$(addprefix $(RUNS)/%/data/,train.jsonl.zst validation.jsonl.zst test.jsonl.zst): $(MBPP) | build
	@test -f "$(MBPP)" || { echo "DATA=mbpp needs MBPP=path/to/mbpp.jsonl (MBPP's full file); got '$(MBPP)'" >&2; exit 2; }
	@mkdir -p $(RUNS)/$*/data
	$(BIN)/shards import mbpp $(MBPP) --task-ids 601-974 -o $(RUNS)/$*/data/train.jsonl.zst
	$(BIN)/shards import mbpp $(MBPP) --task-ids 511-600 -o $(RUNS)/$*/data/validation.jsonl.zst
	$(BIN)/shards import mbpp $(MBPP) --task-ids 11-510 -o $(RUNS)/$*/data/test.jsonl.zst

else ifeq ($(DATA),apps)
# APPS: test is the test split; validation the stable part APPS_VALIDATION (i/n) of the train
# split, by id; train the other n-1 parts.
APPS_PART := $(word 1,$(subst /, ,$(APPS_VALIDATION)))
APPS_PARTS := $(word 2,$(subst /, ,$(APPS_VALIDATION)))
apps_file = $(if $(APPS),$(APPS)/$(1).jsonl,$(error DATA=apps needs APPS=folder with train.jsonl and test.jsonl))
$(RUNS)/%/data/apps-train-all.jsonl.zst: $(call apps_file,train) | build
	@mkdir -p $(@D)
	$(BIN)/shards import apps $< --split train -o $@
$(RUNS)/%/data/validation.jsonl.zst: $(RUNS)/%/data/apps-train-all.jsonl.zst | build
	$(BIN)/shards cat --shard $(APPS_VALIDATION) $< -o $@
$(RUNS)/%/data/train.jsonl.zst: $(RUNS)/%/data/apps-train-all.jsonl.zst | build
	@rm -rf $(@D)/parts && mkdir -p $(@D)/parts
	$(BIN)/shards split --shards $(APPS_PARTS) $< -o $(@D)/parts/train.jsonl.zst
	$(BIN)/shards cat $$(ls $(@D)/parts/train-*-of-*.jsonl.zst | sort | grep -v -- "-$$(printf %05d $(APPS_PART))-of-") -o $@
$(RUNS)/%/data/apps-test-all.jsonl.zst: $(call apps_file,test) | build
	@mkdir -p $(@D)
	$(BIN)/shards import apps $< --split test -o $@
$(RUNS)/%/data/test.jsonl.zst: $(RUNS)/%/data/apps-test-all.jsonl.zst | build
	$(BIN)/shards cat $(if $(APPS_TEST_PART),--shard $(APPS_TEST_PART)) $< -o $@
endif

# ---- HumanEval: a test-only evaluation of any model ----------------------------------------
# `make eval-humaneval MODEL=dir`: one greedy sample per HumanEval problem (the prompt is the
# signature and docstring; the completion continues it, stopped at the Codex paper's stop
# sequences), verified, and pass@1 printed. Files in runs/eval-humaneval/NAME/.
HUMANEVAL ?= $(DATA_DIR)/humaneval/HumanEval.jsonl.gz
HUMANEVAL_TOKENS ?= 512#   new tokens per completion
HUMANEVAL_FLAGS ?=#        extra generate flags, e.g. --endpoint http://127.0.0.1:8000/v1
HUMANEVAL_STOP := --stop '\nclass' --stop '\ndef' --stop '\n\#' --stop '\nif' --stop '\nprint'
EVAL_NAME ?= $(notdir $(abspath $(MODEL)))
EVAL_OUT := $(RUNS)/eval-humaneval/$(EVAL_NAME)
.PHONY: eval-humaneval
eval-humaneval: $(EVAL_OUT)/verdicts.jsonl.zst | build
	$(BIN)/score $<
$(EVAL_OUT)/problems.jsonl.zst: $(HUMANEVAL) | build
	@mkdir -p $(@D)
	$(BIN)/shards import humaneval $< -o $@
$(EVAL_OUT)/verdicts.jsonl.zst: $(EVAL_OUT)/problems.jsonl.zst $(wildcard $(MODEL)/*.safetensors) | build
	@test -f "$(MODEL)/config.json" || { echo "eval-humaneval needs MODEL=/path/to/model-dir; got '$(MODEL)'" >&2; exit 2; }
	$(BIN)/generate --model $(MODEL) $< --temperature 0 --max-tokens $(HUMANEVAL_TOKENS) $(HUMANEVAL_STOP) \
	  $(HUMANEVAL_FLAGS) -o $(@D)/samples.jsonl.zst
	$(BIN)/verify $(@D)/samples.jsonl.zst -o $@

# ---- The base model --------------------------------------------------------------------
# Pretraining: random init, arithmetic facts and step-by-step solutions of other problems,
# with a snapshot every PRETRAIN_EVERY steps. The base is the first snapshot that solves at
# least BASE_TARGET% of validation greedily: a model that solves some but not most problems.
# (Accuracy rises steeply with pretraining and the step where it does varies with the seed, so
# a fixed step count gives bases from 14% to 40%; a target gives every seed a comparable base.)
PRETRAIN = --steps $(PRETRAIN_STEPS) --batch-size 64 --lr 3e-3 --warmup 20 --max-tokens $(SEQ_TOKENS) --seed $(SEED)
PRETRAIN_SNAPSHOTS = $(shell seq $(PRETRAIN_EVERY) $(PRETRAIN_EVERY) $(PRETRAIN_STEPS))
$(RUNS)/%/pretrained/model.safetensors: $(RUNS)/%/data/pretrain.jsonl.zst $(RUNS)/%/data/config.json $(RUNS)/%/data/tokenizer.json | build
	@mkdir -p $(RUNS)/$*/pretraining
	@$(call drop_stale,$(RUNS)/$*/pretraining,$^)
	[ -f $(RUNS)/$*/pretraining/$(PRETRAIN_STEPS)/model.safetensors ] || $(BIN)/finetune --init random \
	  --config $(RUNS)/$*/data/config.json --tokenizer $(RUNS)/$*/data/tokenizer.json --data $< \
	  --out $(RUNS)/$*/pretraining/$(PRETRAIN_STEPS) --snapshots $(RUNS)/$*/pretraining --snapshot-every $(PRETRAIN_EVERY) \
	  --resume $(PRETRAIN) --log $(RUNS)/$*/pretraining/log.jsonl
	@chosen=$(PRETRAIN_STEPS); for s in $(PRETRAIN_SNAPSHOTS); do \
	  v=$(RUNS)/$*/pretraining/$$s.validation.jsonl.zst; \
	  $(MAKE) --no-print-directory SWIFT_BUILD=true $$v; \
	  pass=$$($(BIN)/score $$v --json $$v.score.json >/dev/null && jq -r '.[]["pass@1"]' $$v.score.json); \
	  echo "pretraining step $$s: validation pass@1 $$pass"; \
	  if awk -v p="$$pass" -v t="$(BASE_TARGET)" 'BEGIN { exit !(p * 100 >= t) }'; then chosen=$$s; break; fi; \
	done; \
	echo "base: pretraining step $$chosen (target $(BASE_TARGET)% on validation)"; \
	rm -rf $(@D).tmp && cp -r $(RUNS)/$*/pretraining/$$chosen $(@D).tmp && rm -rf $(@D) && mv $(@D).tmp $(@D)

# `make base` rebuilds the shipped demo/base from the seed-0 corpus (same bytes on this machine).
base:
	rm -rf $(RUNS)/base-build
	$(MAKE) SEED=0 RUN=base-build BASE=unused $(RUNS)/base-build/pretrained/model.safetensors
	rm -rf demo/base && mkdir -p demo && cp -r $(RUNS)/base-build/pretrained demo/base
	@echo "demo/base rebuilt; git diff --stat demo/base shows whether the bytes changed"

# `make code-demo-base` rebuilds the shipped code-demo/base the same way, from the code demo's corpus.
code-demo-base:
	rm -rf $(RUNS)/code-demo-base-build
	$(MAKE) DATA=code-demo SEED=0 RUN=code-demo-base-build BASE=unused $(RUNS)/code-demo-base-build/pretrained/model.safetensors
	rm -rf code-demo/base && mkdir -p code-demo && cp -r $(RUNS)/code-demo-base-build/pretrained code-demo/base
	@echo "code-demo/base rebuilt; git diff --stat code-demo/base shows whether the bytes changed"

# $(call drop_stale,FOLDER,FILES): removes what FOLDER holds (snapshots, checkpoints, their
# scores) that is not newer than every one of FILES, so a rerun with new data or a new base
# retrains instead of reusing old steps, while a rerun after an interruption keeps them.
drop_stale = for ref in $(2); do find $(1) -mindepth 1 -maxdepth 1 ! -newer $$ref -exec rm -rf {} +; done

# ---- Sampling stages as shard jobs --------------------------------------------------------
# Every stage that samples is SHARDS shard jobs (`--shard i/SHARDS`), each its own target
# (STAGE.shards/i-of-N.jsonl.zst: generate, then verify), so `make -j` runs them side by side,
# LAUNCH sends each to a scheduler and a killed one reruns alone. `shards merge` puts the parts
# back in the problems' order; it writes every stage's output, also for SHARDS=1, so a run's
# artifacts are the same bytes for every SHARDS (samples do not depend on --shard).
SHARD_IDS := $(shell seq 0 $$(( $(SHARDS) - 1 )))
ifeq ($(SHARD_IDS),)
  $(error SHARDS=$(SHARDS) must be 1 or more)
endif
ifneq ($(SHARDS),1)
  ifneq ($(ROUNDS),1)
    $(error ROUNDS=$(ROUNDS) runs its rounds in one job: use it with SHARDS=1)
  endif
endif
# $(call parts,STAGE): the shard parts of STAGE (runs/x/sft/validation.jsonl.zst ->
# runs/x/sft/validation.shards/0-of-2.jsonl.zst ...).
parts = $(foreach i,$(SHARD_IDS),$(patsubst %.jsonl.zst,%.shards,$(1))/$(i)-of-$(SHARDS).jsonl.zst)
# The shard index of a part, from its name.
part_index = $(firstword $(subst -of-, ,$(notdir $(1))))
SERVE_PRESET_vllm := vllm serve {model} --served-model-name {name} --port {port} --seed 0
# `transformers serve MODEL` pins the model and answers only requests that name it by its path.
SERVE_PRESET_transformers := transformers serve --host 127.0.0.1 --port {port} {model}
SERVE_NAME_transformers := {model}
SERVE_FLAGS_transformers := --server-kind transformers
SERVE_COMMAND = $(or $(SERVE_PRESET_$(SERVE)),$(SERVE))
# $(call generate,MODEL,PART): `generate` on MODEL in one shard job: the built-in engine, or with
# SERVE a server started for MODEL by scripts/with-server (and stopped afterwards, whatever happens).
generate = $(LAUNCH) $(if $(SERVE),scripts/with-server --serve '$(subst ','"'"',$(SERVE_COMMAND))' --model $(1) \
             --name '$(or $(SERVE_NAME_$(SERVE)),$(1))' --timeout $(SERVE_TIMEOUT) --log $(2).server.log -- \
             $(BIN)/generate --endpoint {endpoint} --model {name} $(SERVE_FLAGS_$(SERVE)),$(BIN)/generate --model $(1))

# $(call greedy_part,MODEL,SPLIT,PART): shard PART of MODEL's greedy samples on SPLIT, verified.
greedy_part = $(call generate,$(1),$(3)) $(DATA_OUT)/$(2).jsonl.zst --template $(TEMPLATE) --temperature 0 \
                --max-tokens $(MAX_TOKENS) $(GENERATE_FLAGS) --shard $(call part_index,$(3))/$(SHARDS) \
                -o $(3).gen.jsonl.zst && \
              $(LAUNCH) $(BIN)/verify $(3).gen.jsonl.zst -o $(3) && rm -rf $(3).gen.jsonl.zst $(3).gen.jsonl.zst.parts
# $(call merge,PROBLEMS): the recipe line that merges a stage's parts in the order of PROBLEMS.
merge = $(BIN)/shards merge --order $(1) $(filter %.jsonl.zst,$(filter-out $(1),$^)) -o $@

# Greedy pass@1 of a stage's model (runs/x/NAME/model) on each split, and of a snapshot
# (runs/x/NAME/steps/100) on validation.
define greedy_split
$$(OUT)/%/$(1).jsonl.zst: $$(call parts,$$(OUT)/%/$(1).jsonl.zst) $$(DATA_OUT)/$(1).jsonl.zst | build
	$$(call merge,$$(DATA_OUT)/$(1).jsonl.zst)
endef
define greedy_split_part
$$(OUT)/%/$(1).shards/$(2)-of-$$(SHARDS).jsonl.zst: $$(OUT)/%/model $$(DATA_OUT)/$(1).jsonl.zst | build
	@mkdir -p $$(@D)
	@echo "== $$*: greedy pass@1 on $(1)$$(if $$(filter-out 1,$$(SHARDS)), (shard $(2)/$$(SHARDS)))"
	$$(call greedy_part,$$(OUT)/$$*/model,$(1),$$@)
endef
$(foreach split,validation test train,$(eval $(call greedy_split,$(split))))
$(foreach split,validation test train,$(foreach i,$(SHARD_IDS),$(eval $(call greedy_split_part,$(split),$(i)))))

%.validation.jsonl.zst: $(call parts,%.validation.jsonl.zst) $(DATA_OUT)/validation.jsonl.zst | build
	$(call merge,$(DATA_OUT)/validation.jsonl.zst)
define greedy_snapshot_part
%.validation.shards/$(1)-of-$$(SHARDS).jsonl.zst: %/model.safetensors $$(DATA_OUT)/validation.jsonl.zst | build
	@mkdir -p $$(@D)
	$$(call greedy_part,$$*,validation,$$@)
endef
$(foreach i,$(SHARD_IDS),$(eval $(call greedy_snapshot_part,$(i))))

$(OUT)/base/model: $(if $(filter $(RUNS)/%,$(BASE)),$(BASE)/model.safetensors)
	@mkdir -p $(@D)
	@test -f "$(BASE)/config.json" || { echo "BASE='$(BASE)' is not a model directory: give BASE=/path/to/hf-model" >&2; exit 1; }
	ln -sfn $(abspath $(BASE)) $@

# ---- Fine-tuning with the step chosen on validation --------------------------------------
# $(call finetune_and_choose,FOLDER,DATA,FLAGS[,INIT]): fine-tune INIT (default: the base) on DATA
# for STEPS steps (resuming after an interruption), snapshot every SNAPSHOT_EVERY steps, score
# every snapshot greedily on validation and link FOLDER/model to the best one. The same recipe
# and the same choice on validation for the SFT baseline, the control and every iteration.
ifeq ($(TRAINER),builtin)
  FINETUNE_TOOL = $(BIN)/finetune
else ifeq ($(TRAINER),trl)
  FINETUNE_TOOL = $(TRL_LAUNCH) scripts/trl-finetune.py
else
  $(error TRAINER=$(TRAINER): give builtin or trl)
endif
define finetune_and_choose
	@echo "== $(notdir $(1)): fine-tune $(or $(4),$(OUT)/base/model), $(STEPS) steps, a snapshot every $(SNAPSHOT_EVERY) chosen on validation"
	@mkdir -p $(1)/steps
	@$(call drop_stale,$(1)/steps,$(2) $(or $(4),$(OUT)/base/model)/model.safetensors)
	[ -f $(1)/steps/$(STEPS)/model.safetensors ] || $(TRAIN_LAUNCH) $(FINETUNE_TOOL) --base $(or $(4),$(OUT)/base/model) --data $(2) $(3) \
	  --template $(TEMPLATE) --out $(1)/steps/$(STEPS) --snapshots $(1)/steps --snapshot-every $(SNAPSHOT_EVERY) \
	  --steps $(STEPS) --batch-size $(BATCH) --lr $(LR) --warmup $(WARMUP) --max-tokens $(SEQ_TOKENS) --seed $(SEED) \
	  --log $(1)/train-log.jsonl --resume $(FINETUNE_FLAGS)
	@for s in $(SNAPSHOT_STEPS); do \
	  [ -f $(1)/steps/$$s.validation.jsonl.zst ] || echo "$(1): step $$s on validation"; \
	  $(MAKE) --no-print-directory SWIFT_BUILD=true $(1)/steps/$$s.validation.jsonl.zst; \
	done
	@best=$$($(BIN)/score --best $(foreach s,$(SNAPSHOT_STEPS),$(s)=$(1)/steps/$(s).validation.jsonl.zst)); \
	  echo "$(1): step $$best is the best on validation"; \
	  ln -sfn steps/$$best $(1)/model.tmp && mv -T $(1)/model.tmp $(1)/model
endef

$(OUT)/sft/model: $(DATA_OUT)/train.jsonl.zst $(OUT)/base/model | build
	$(call finetune_and_choose,$(@D),$<,--target solution)

$(OUT)/clean/model: $(DATA_OUT)/train.jsonl.zst $(OUT)/base/model | build
	$(call finetune_and_choose,$(@D),$<,--target clean_solution)

# ---- ReST^EM iterations --------------------------------------------------------------------
# E-step: K samples per train problem from the previous model (or SAMPLER); verify keeps the
# correct ones (at most CAP per problem) and writes every verdict beside them. With ROUNDS=R the
# K samples come in R rounds of K/R (`generate --first-sample`, so they are the same samples as
# one run would draw) and a problem that has CAP correct samples is not sampled again.
# M-step: fine-tune the BASE model (FROM=previous: the previous model) on the kept samples.
comma := ,
CAP_FLAG := $(if $(filter all,$(CAP)),,--cap $(CAP))
E_TRAIN := $(if $(TRAIN_PART),$(OUT)/train-part.jsonl.zst,$(DATA_OUT)/train.jsonl.zst)
PER_ROUND := $(shell echo $$(( $(SAMPLES) / $(ROUNDS) )))
ifneq ($(shell echo $$(( $(PER_ROUND) * $(ROUNDS) ))),$(SAMPLES))
  $(error ROUNDS=$(ROUNDS) must divide SAMPLES=$(SAMPLES))
endif
$(OUT)/train-part.jsonl.zst: $(DATA_OUT)/train.jsonl.zst | build
	$(BIN)/shards cat --shard $(TRAIN_PART) $< -o $@

# $(call sample,MODEL,PROBLEMS,K,FIRST,SEED,OUT,SHARD): the E-step's sampling settings.
sample = $(call generate,$(1),$(6)) $(2) --template $(TEMPLATE) --samples $(3) --first-sample $(4) \
           --temperature $(TEMP) --top-k $(TOP_K) --max-tokens $(MAX_TOKENS) --seed $(5) $(GENERATE_FLAGS) \
           --shard $(7) -o $(6)
E_BANNER = $(SAMPLES) samples per train problem from $(or $(SAMPLER),$(1)) (temperature $(TEMP), top-k $(TOP_K)$(if \
             $(filter-out 1,$(ROUNDS)),$(comma) $(ROUNDS) rounds))

# Shard job I of iteration N's E-step (SHARDS jobs, merged below): its samples, then verify
# keeps the correct ones of its problems (the cap is per problem, so a part's choice is the
# whole run's). $(call estep_part,N,PREVIOUS,I)
define estep_part
$(OUT)/iter$(1)/samples.shards/$(3)-of-$(SHARDS).jsonl.zst: $(if $(SAMPLER),$(SAMPLER)/model.safetensors,$(OUT)/$(2)/model) $(E_TRAIN) | build
	@mkdir -p $$(@D)
	@echo "== iter$(1): E-step, $(call E_BANNER,$(2))$(if $(filter-out 1,$(SHARDS)), (shard $(3)/$(SHARDS)))"
	$(call sample,$(or $(SAMPLER),$(OUT)/$(2)/model),$(E_TRAIN),$(SAMPLES),0,$$$$(( $(SEED) * 1000 + $(1) )),$$@,$(3)/$(SHARDS))
$(OUT)/iter$(1)/kept.shards/$(3)-of-$(SHARDS).jsonl.zst $(OUT)/iter$(1)/verdicts.shards/$(3)-of-$(SHARDS).jsonl.zst &: \
    $(OUT)/iter$(1)/samples.shards/$(3)-of-$(SHARDS).jsonl.zst | build
	@mkdir -p $(OUT)/iter$(1)/kept.shards $(OUT)/iter$(1)/verdicts.shards
	@echo "== iter$(1): E-step, verify and keep the correct samples (at most $(CAP) per problem)$(if \
	  $(filter-out 1,$(SHARDS)), (shard $(3)/$(SHARDS)))"
	$(LAUNCH) $(BIN)/verify $$< --keep correct $(CAP_FLAG) --seed $(SEED) \
	  --verdicts $(OUT)/iter$(1)/verdicts.shards/$(3)-of-$(SHARDS).jsonl.zst -o $(OUT)/iter$(1)/kept.shards/$(3)-of-$(SHARDS).jsonl.zst
endef

define iteration
ifeq ($(ROUNDS),1)
$(OUT)/iter$(1)/samples.jsonl.zst: $(call parts,$(OUT)/iter$(1)/samples.jsonl.zst) $(E_TRAIN) | build
	$$(call merge,$(E_TRAIN))
$(OUT)/iter$(1)/kept.jsonl.zst $(OUT)/iter$(1)/verdicts.jsonl.zst &: $(OUT)/iter$(1)/samples.jsonl.zst \
    $(call parts,$(OUT)/iter$(1)/kept.jsonl.zst) $(call parts,$(OUT)/iter$(1)/verdicts.jsonl.zst) | build
	$(BIN)/shards merge --order $(E_TRAIN) $(call parts,$(OUT)/iter$(1)/verdicts.jsonl.zst) -o $(OUT)/iter$(1)/verdicts.jsonl.zst
	$(BIN)/shards merge --order $(E_TRAIN) $(call parts,$(OUT)/iter$(1)/kept.jsonl.zst) -o $(OUT)/iter$(1)/kept.jsonl.zst
else
$(OUT)/iter$(1)/samples.jsonl.zst: $(if $(SAMPLER),$(SAMPLER)/model.safetensors,$(OUT)/$(2)/model) $(E_TRAIN) | build
	@mkdir -p $$(@D)/rounds
	@echo "== iter$(1): E-step, $(call E_BANNER,$(2))"
	@$$(call drop_stale,$$(@D)/rounds,$$<)
	@for r in $$$$(seq 0 $$$$(( $(ROUNDS) - 1 ))); do \
	  [ -f $$(@D)/rounds/$$$$r.verdicts.jsonl.zst ] && continue; \
	  $(BIN)/shards pending $(E_TRAIN) --cap $(if $(filter all,$(CAP)),$(SAMPLES),$(CAP)) $$$$(for q in $$$$(seq 0 $$$$(( r - 1 ))); do \
	    echo --verdicts $$(@D)/rounds/$$$$q.verdicts.jsonl.zst; done) -o $$(@D)/rounds/$$$$r.problems.jsonl.zst; \
	  $(call sample,$(or $(SAMPLER),$(OUT)/$(2)/model),$$(@D)/rounds/$$$$r.problems.jsonl.zst,$(PER_ROUND),$$$$(( r * $(PER_ROUND) )),$$$$(( $(SEED) * 1000 + $(1) )),$$(@D)/rounds/$$$$r.samples.jsonl.zst,0/1); \
	  $(BIN)/verify $$(@D)/rounds/$$$$r.samples.jsonl.zst -o $$(@D)/rounds/$$$$r.verdicts.jsonl.zst; \
	done
	$(BIN)/shards cat $$(foreach r,$$(shell seq 0 $$$$(( $(ROUNDS) - 1 ))),$$(@D)/rounds/$$(r).samples.jsonl.zst) -o $$@

$(OUT)/iter$(1)/kept.jsonl.zst $(OUT)/iter$(1)/verdicts.jsonl.zst &: $(OUT)/iter$(1)/samples.jsonl.zst | build
	@echo "== iter$(1): E-step, verify and keep the correct samples (at most $(CAP) per problem)"
	$(BIN)/verify $$< --keep correct $(CAP_FLAG) --seed $(SEED) --verdicts $(OUT)/iter$(1)/verdicts.jsonl.zst \
	  -o $(OUT)/iter$(1)/kept.jsonl.zst
endif

$(OUT)/iter$(1)/model: $(OUT)/iter$(1)/kept.jsonl.zst $(OUT)/$(if $(filter previous,$(FROM)),$(2),base)/model | build
	$$(call finetune_and_choose,$$(@D),$$<,,$(if $(filter previous,$(FROM)),$(OUT)/$(2)/model))
endef
previous = $(if $(filter 1,$(1)),base,iter$(shell echo $$(($(1) - 1))))
$(foreach i,$(ITERATION_NUMBERS),$(eval $(call iteration,$(i),$(call previous,$(i)))))
$(foreach i,$(ITERATION_NUMBERS),$(foreach j,$(SHARD_IDS),$(eval $(call estep_part,$(i),$(call previous,$(i)),$(j)))))

# ---- Test pass@k and maj@k ---------------------------------------------------------------
# TEST_SAMPLES samples per test problem (the E-step's temperature and top-k) from the base, the
# SFT baseline and the final model (the iteration best on validation), scored for the report.
ifneq ($(TEST_SAMPLES),0)
PASSK_FILES := $(OUT)/passk/base.jsonl.zst $(OUT)/passk/sft.jsonl.zst $(OUT)/passk/final.jsonl.zst
endif
# $(call test_samples,MODEL,PART): shard PART of TEST_SAMPLES samples of MODEL per test problem, verified.
test_samples = $(call sample,$(1),$(DATA_OUT)/test.jsonl.zst,$(TEST_SAMPLES),0,$(SEED),$(2).gen.jsonl.zst,$(call \
                 part_index,$(2))/$(SHARDS)) && \
               $(LAUNCH) $(BIN)/verify $(2).gen.jsonl.zst -o $(2) && rm -rf $(2).gen.jsonl.zst $(2).gen.jsonl.zst.parts
$(OUT)/passk/%.jsonl.zst: $(call parts,$(OUT)/passk/%.jsonl.zst) $(DATA_OUT)/test.jsonl.zst | build
	$(call merge,$(DATA_OUT)/test.jsonl.zst)
define passk_part
$$(OUT)/passk/%.shards/$(1)-of-$$(SHARDS).jsonl.zst: $$(OUT)/%/model $$(DATA_OUT)/test.jsonl.zst | build
	@mkdir -p $$(@D)
	@echo "== $$*: $$(TEST_SAMPLES) samples per test problem for pass@k and maj@k$$(if $$(filter-out 1,$$(SHARDS)), (shard $(1)/$$(SHARDS)))"
	$$(call test_samples,$$<,$$@)
$$(OUT)/passk/final.shards/$(1)-of-$$(SHARDS).jsonl.zst: $$(foreach i,$$(ITERATION_NUMBERS),$$(OUT)/iter$$(i)/validation.jsonl.zst) \
    $$(DATA_OUT)/test.jsonl.zst | build
	@mkdir -p $$(@D)
	@best=$$$$($$(BIN)/score --best $$(foreach i,$$(ITERATION_NUMBERS),iter$$(i)=$$(OUT)/iter$$(i)/validation.jsonl.zst)); \
	  echo "== final ($$$$best): $$(TEST_SAMPLES) samples per test problem for pass@k and maj@k$$(if $$(filter-out 1,$$(SHARDS)), (shard $(1)/$$(SHARDS)))"; \
	  $$(call test_samples,$$(OUT)/$$$$best/model,$$@)
endef
$(foreach i,$(SHARD_IDS),$(eval $(call passk_part,$(i))))

# ---- The report ---------------------------------------------------------------------------
MODELS := base sft $(CONTROL) $(addprefix iter,$(ITERATION_NUMBERS))
EVALS := $(foreach m,$(MODELS),$(foreach s,$(EVAL_SPLITS),$(OUT)/$(m)/$(s).jsonl.zst))

# settings.txt: paths inside the run folder are written relative to it (TEMPLATE=data/prompt.txt),
# so the same run in another folder (RUNS=/elsewhere) gives the same report and scores.json.
REPORTED_SETTINGS := DATA BASE TEMPLATE SEED ITERS SAMPLES TEMP TOP_K CAP STEPS SNAPSHOT_EVERY LR WARMUP BATCH \
                     MAX_TOKENS SEQ_TOKENS ROUNDS FROM SAMPLER TRAIN_PART TEST_SAMPLES GENERATE_FLAGS FINETUNE_FLAGS DEMO_FLAGS
$(OUT)/report.md: $(EVALS) $(foreach i,$(ITERATION_NUMBERS),$(OUT)/iter$(i)/kept.jsonl.zst) $(PASSK_FILES) | build
	@echo "== report"
	@printf '%s\n' $(foreach v,$(REPORTED_SETTINGS),'$(v)=$(subst ','"'"',$(subst $(OUT)/,,$($(v))))') > $(OUT)/settings.txt
	$(BIN)/score --run $(OUT) $(if $(filter none,$(BY)),,--by $(BY))
	@best=$$(jq -r .best_iteration $(OUT)/scores.json); ln -sfn $$best/model $(OUT)/final.tmp && mv -T $(OUT)/final.tmp $(OUT)/final
	@echo "report: $(OUT)/report.md, $(OUT)/report.svg; final model: $(OUT)/final -> $$(readlink $(OUT)/final)"

# The wall time of the whole job, printed last (the Makefile is read once per make, so this is
# when `make` started).
MAKE_STARTED := $(shell date +%s)
all: build $(OUT)/report.md
	@echo "make: done in $$(( $$(date +%s) - $(MAKE_STARTED) )) s"

# ---- Ablations (`make ablations`, on the demo) ----------------------------------------------
# Each is the default run with one change, in its own run folder; the data, the base, SFT and
# the control (which no ablation changes) are links to the default run's. The table (score
# --runs) compares them with the default run: runs/ablations.md.
ifeq ($(RUN)-$(DATA)-$(SEED),demo-demo-0)
ABLATION_RUNS := cap1 capall previous half rounds4 distill
ABLATE_cap1 := CAP=1
ABLATE_capall := CAP=all
ABLATE_previous := FROM=previous
ABLATE_half := TRAIN_PART=0/2
ABLATE_rounds4 := ROUNDS=4
# Distillation: every E-step samples from a wider model pretrained on the same corpus, while
# the model being fine-tuned stays the small base; the sampler is fixed, so one iteration.
ABLATE_distill := SAMPLER=$(RUNS)/demo-wide/pretrained ITERS=1
WIDE_TARGET ?= 60#       the distillation sampler: the first wide snapshot with this validation pass@1 (%)
WIDE_STEPS ?= 1000

ablations: $(RUNS)/ablations.md
$(RUNS)/ablations.md: $(RUNS)/demo/report.md $(foreach a,$(ABLATION_RUNS),$(RUNS)/demo-$(a)/report.md) | build
	$(BIN)/score --runs $(RUNS)/demo $(foreach a,$(ABLATION_RUNS),$(RUNS)/demo-$(a)) > $@.tmp && mv $@.tmp $@
	@cat $@


$(RUNS)/demo-distill/report.md: $(RUNS)/demo-wide/pretrained/model.safetensors
$(foreach a,$(ABLATION_RUNS),$(RUNS)/demo-$(a)/report.md): $(RUNS)/demo-%/report.md: $(RUNS)/demo/report.md | build
	@mkdir -p $(RUNS)/demo-$*/passk
	@for d in data base sft clean; do [ -e $(RUNS)/demo-$*/$$d ] || ln -sfn ../demo/$$d $(RUNS)/demo-$*/$$d; done
	@for m in base sft; do [ -e $(RUNS)/demo-$*/passk/$$m.jsonl.zst ] || \
	  ln -sfn ../../demo/passk/$$m.jsonl.zst $(RUNS)/demo-$*/passk/$$m.jsonl.zst; done
	@echo "== ablation $*: $(ABLATE_$*)"
	$(MAKE) RUN=demo-$* SEED=0 DATA=demo $(ABLATE_$*) $@

$(RUNS)/demo-wide/pretrained/model.safetensors:
	$(MAKE) RUN=demo-wide SEED=0 DATA=demo $(RUNS)/demo-wide/data/config.json
	jq -c '.hidden_size = 192 | .intermediate_size = 512 | .head_dim = 48' $(RUNS)/demo-wide/data/config.json \
	  > $(RUNS)/demo-wide/data/config.json.tmp && mv $(RUNS)/demo-wide/data/config.json.tmp $(RUNS)/demo-wide/data/config.json
	$(MAKE) RUN=demo-wide SEED=0 DATA=demo BASE_TARGET=$(WIDE_TARGET) PRETRAIN_STEPS=$(WIDE_STEPS) $@
else
ablations:
	@echo "make ablations runs on the seed-0 demo (RUN=demo DATA=demo SEED=0)" >&2; exit 2
endif

# Checker self-test on the full datasets in DATA_DIR: the human reference solutions, scored by
# verify as if a model had written them, should all be correct. Then the tests that `make test`
# runs on committed slices, on the full files (the *FullData* suites run only when
# RESTEM_DATA_DIR names them): importer counts, MATH500 500/500 and its 124,750 cross pairs,
# GSM8K 1319/1319, HumanEval 164/164 canonical solutions correct and 0/164 bodies of `pass`.
datasets: $(RUNS)/datasets/gsm8k-test.reference-verdicts.jsonl.zst $(RUNS)/datasets/math500.reference-verdicts.jsonl.zst \
          $(RUNS)/datasets/humaneval.reference-verdicts.jsonl.zst
	@echo "== tests on the full datasets in $(DATA_DIR)"
	swift build --build-tests
	RESTEM_DATA_DIR=$(abspath $(DATA_DIR)) swift test --skip-build --filter FullData

$(RUNS)/datasets/%.reference-verdicts.jsonl.zst: $(RUNS)/datasets/%.jsonl.zst | build
	@echo "== verify: reference solutions of $* as completions"
	$(BIN)/shards cat $< | jq -c '. + {completion: .solution, sample: 0}' | $(BIN)/verify - -o $@

$(RUNS)/datasets/gsm8k-test.jsonl.zst: $(DATA_DIR)/gsm8k/test.jsonl | build
	@mkdir -p $(@D)
	$(BIN)/shards import gsm8k $< -o $@
$(RUNS)/datasets/math500.jsonl.zst: $(DATA_DIR)/math500/test.jsonl | build
	@mkdir -p $(@D)
	$(BIN)/shards import math $< -o $@
$(RUNS)/datasets/humaneval.jsonl.zst: $(DATA_DIR)/humaneval/HumanEval.jsonl.gz | build
	@mkdir -p $(@D)
	$(BIN)/shards import humaneval $< -o $@

clean:
	rm -rf .build $(RUNS)
