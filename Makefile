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
  # training sequence is 2-3 times a math one (45 min measured on a heavily shared machine;
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
PRETRAIN_STEPS ?= 600#   most pretraining steps of a demo base (SEED != 0 and `make base`)
PRETRAIN_EVERY ?= 25#    a pretraining snapshot every N steps
BASE_TARGET ?= 30#       the demo base: the first snapshot with validation pass@1 >= this (%)
OUT := $(RUNS)/$(RUN)
SNAPSHOT_STEPS := $(shell s=$(SNAPSHOT_EVERY); while [ $$s -lt $(STEPS) ]; do echo $$s; s=$$((s + $(SNAPSHOT_EVERY))); done) $(STEPS)
ITERATION_NUMBERS := $(shell seq 1 $(ITERS))

.PHONY: all deps build test bench compare-math-verify clean base code-demo-base datasets ablations

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

# `make bench SECTIONS="math code"` runs only those sections (engine, shards, math, code, tokenizer).
bench: deps
	$(SWIFT_BUILD) --product bench
	$(BIN)/bench $(SECTIONS)

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
endif

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
	  [ -f $$v ] || { $(call greedy,$(RUNS)/$*/pretraining/$$s,validation,$$v); }; \
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

# ---- Evaluation: greedy pass@1 -----------------------------------------------------------
# $(call greedy,MODEL,SPLIT,OUT): greedy samples of MODEL on SPLIT, verified into OUT.
greedy = $(BIN)/generate --model $(1) $(DATA_OUT)/$(2).jsonl.zst --template $(TEMPLATE) --temperature 0 \
           --max-tokens $(MAX_TOKENS) $(GENERATE_FLAGS) -o $(3).gen.jsonl.zst && \
         $(BIN)/verify $(3).gen.jsonl.zst -o $(3) && rm -rf $(3).gen.jsonl.zst $(3).gen.jsonl.zst.parts

$(OUT)/%/validation.jsonl.zst: $(OUT)/%/model $(DATA_OUT)/validation.jsonl.zst | build
	@echo "== $*: greedy pass@1 on validation"
	$(call greedy,$<,validation,$@)
$(OUT)/%/test.jsonl.zst: $(OUT)/%/model $(DATA_OUT)/test.jsonl.zst | build
	@echo "== $*: greedy pass@1 on test"
	$(call greedy,$<,test,$@)
$(OUT)/%/train.jsonl.zst: $(OUT)/%/model $(DATA_OUT)/train.jsonl.zst | build
	@echo "== $*: greedy pass@1 on train"
	$(call greedy,$<,train,$@)

$(OUT)/base/model: $(if $(filter $(RUNS)/%,$(BASE)),$(BASE)/model.safetensors)
	@mkdir -p $(@D)
	@test -f "$(BASE)/config.json" || { echo "BASE='$(BASE)' is not a model directory: give BASE=/path/to/hf-model" >&2; exit 1; }
	ln -sfn $(abspath $(BASE)) $@

# ---- Fine-tuning with the step chosen on validation --------------------------------------
# $(call finetune_and_choose,FOLDER,DATA,FLAGS[,INIT]): fine-tune INIT (default: the base) on DATA
# for STEPS steps (resuming after an interruption), snapshot every SNAPSHOT_EVERY steps, score
# every snapshot greedily on validation and link FOLDER/model to the best one. The same recipe
# and the same choice on validation for the SFT baseline, the control and every iteration.
define finetune_and_choose
	@echo "== $(notdir $(1)): fine-tune $(or $(4),$(OUT)/base/model), $(STEPS) steps, a snapshot every $(SNAPSHOT_EVERY) chosen on validation"
	@mkdir -p $(1)/steps
	@$(call drop_stale,$(1)/steps,$(2) $(or $(4),$(OUT)/base/model)/model.safetensors)
	[ -f $(1)/steps/$(STEPS)/model.safetensors ] || $(BIN)/finetune --base $(or $(4),$(OUT)/base/model) --data $(2) $(3) \
	  --template $(TEMPLATE) --out $(1)/steps/$(STEPS) --snapshots $(1)/steps --snapshot-every $(SNAPSHOT_EVERY) \
	  --steps $(STEPS) --batch-size $(BATCH) --lr $(LR) --warmup $(WARMUP) --max-tokens $(SEQ_TOKENS) --seed $(SEED) \
	  --log $(1)/train-log.jsonl --resume $(FINETUNE_FLAGS)
	@for s in $(SNAPSHOT_STEPS); do \
	  [ -f $(1)/steps/$$s.validation.jsonl.zst ] || { echo "$(1): step $$s on validation"; $(call greedy,$(1)/steps/$$s,validation,$(1)/steps/$$s.validation.jsonl.zst); }; \
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

# $(call sample,MODEL,PROBLEMS,K,FIRST,SEED,OUT): the E-step's sampling settings.
sample = $(BIN)/generate --model $(1) $(2) --template $(TEMPLATE) --samples $(3) --first-sample $(4) \
           --temperature $(TEMP) --top-k $(TOP_K) --max-tokens $(MAX_TOKENS) --seed $(5) $(GENERATE_FLAGS) -o $(6)

define iteration
$(OUT)/iter$(1)/samples.jsonl.zst: $(if $(SAMPLER),$(SAMPLER)/model.safetensors,$(OUT)/$(2)/model) $(E_TRAIN) | build
	@mkdir -p $$(@D)
	@echo "== iter$(1): E-step, $(SAMPLES) samples per train problem from $(or $(SAMPLER),$(2)) (temperature $(TEMP), top-k $(TOP_K)$(if $(filter-out 1,$(ROUNDS)),$(comma) $(ROUNDS) rounds))"
ifeq ($(ROUNDS),1)
	$(call sample,$(or $(SAMPLER),$(OUT)/$(2)/model),$(E_TRAIN),$(SAMPLES),0,$$$$(( $(SEED) * 1000 + $(1) )),$$@)
else
	@mkdir -p $$(@D)/rounds
	@$$(call drop_stale,$$(@D)/rounds,$$<)
	@for r in $$$$(seq 0 $$$$(( $(ROUNDS) - 1 ))); do \
	  [ -f $$(@D)/rounds/$$$$r.verdicts.jsonl.zst ] && continue; \
	  $(BIN)/shards pending $(E_TRAIN) --cap $(if $(filter all,$(CAP)),$(SAMPLES),$(CAP)) $$$$(for q in $$$$(seq 0 $$$$(( r - 1 ))); do \
	    echo --verdicts $$(@D)/rounds/$$$$q.verdicts.jsonl.zst; done) -o $$(@D)/rounds/$$$$r.problems.jsonl.zst; \
	  $(call sample,$(or $(SAMPLER),$(OUT)/$(2)/model),$$(@D)/rounds/$$$$r.problems.jsonl.zst,$(PER_ROUND),$$$$(( r * $(PER_ROUND) )),$$$$(( $(SEED) * 1000 + $(1) )),$$(@D)/rounds/$$$$r.samples.jsonl.zst); \
	  $(BIN)/verify $$(@D)/rounds/$$$$r.samples.jsonl.zst -o $$(@D)/rounds/$$$$r.verdicts.jsonl.zst; \
	done
	$(BIN)/shards cat $$(foreach r,$$(shell seq 0 $$$$(( $(ROUNDS) - 1 ))),$$(@D)/rounds/$$(r).samples.jsonl.zst) -o $$@
endif

$(OUT)/iter$(1)/kept.jsonl.zst $(OUT)/iter$(1)/verdicts.jsonl.zst &: $(OUT)/iter$(1)/samples.jsonl.zst | build
	@echo "== iter$(1): E-step, verify and keep the correct samples (at most $(CAP) per problem)"
	$(BIN)/verify $$< --keep correct $(CAP_FLAG) --seed $(SEED) --verdicts $(OUT)/iter$(1)/verdicts.jsonl.zst \
	  -o $(OUT)/iter$(1)/kept.jsonl.zst

$(OUT)/iter$(1)/model: $(OUT)/iter$(1)/kept.jsonl.zst $(OUT)/$(if $(filter previous,$(FROM)),$(2),base)/model | build
	$$(call finetune_and_choose,$$(@D),$$<,,$(if $(filter previous,$(FROM)),$(OUT)/$(2)/model))
endef
$(foreach i,$(ITERATION_NUMBERS),$(eval $(call iteration,$(i),$(if $(filter 1,$(i)),base,iter$(shell echo $$(($(i) - 1)))))))

# ---- Test pass@k and maj@k ---------------------------------------------------------------
# TEST_SAMPLES samples per test problem (the E-step's temperature and top-k) from the base, the
# SFT baseline and the final model (the iteration best on validation), scored for the report.
ifneq ($(TEST_SAMPLES),0)
PASSK_FILES := $(OUT)/passk/base.jsonl.zst $(OUT)/passk/sft.jsonl.zst $(OUT)/passk/final.jsonl.zst
endif
# $(call test_samples,MODEL,OUT): TEST_SAMPLES samples of MODEL per test problem, verified into OUT.
test_samples = $(call sample,$(1),$(DATA_OUT)/test.jsonl.zst,$(TEST_SAMPLES),0,$(SEED),$(2).gen.jsonl.zst) && \
               $(BIN)/verify $(2).gen.jsonl.zst -o $(2) && rm -rf $(2).gen.jsonl.zst $(2).gen.jsonl.zst.parts
$(OUT)/passk/%.jsonl.zst: $(OUT)/%/model $(DATA_OUT)/test.jsonl.zst | build
	@mkdir -p $(@D)
	@echo "== $*: $(TEST_SAMPLES) samples per test problem for pass@k and maj@k"
	$(call test_samples,$<,$@)
$(OUT)/passk/final.jsonl.zst: $(foreach i,$(ITERATION_NUMBERS),$(OUT)/iter$(i)/validation.jsonl.zst) $(DATA_OUT)/test.jsonl.zst | build
	@mkdir -p $(@D)
	@best=$$($(BIN)/score --best $(foreach i,$(ITERATION_NUMBERS),iter$(i)=$(OUT)/iter$(i)/validation.jsonl.zst)); \
	  echo "== final ($$best): $(TEST_SAMPLES) samples per test problem for pass@k and maj@k"; \
	  $(call test_samples,$(OUT)/$$best/model,$@)

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

all: build $(OUT)/report.md

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
