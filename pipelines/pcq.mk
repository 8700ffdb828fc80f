# The PCQ and QAT workflows as file targets (SPEC §2), included by the top
# Makefile. Every stage is a file; its folder encodes the parameters that
# made it, so `make` reruns only what a changed parameter or a newer input
# invalidates, and any stage can be replaced by a file of your own:
#   make pcq PRE=my-model.msgpack          your pre-trained model
#   make pcq KMEANS_FILE=my-kmeans.msgpack your k-means model
# (a file given this way also names the output folder, so results made
# from it never mix with others).
#
#   make pcq  [ARCH=resnet20] [DATA=KIND:PATH] [BIT=4] [K=10] ...  one PCQ chain
#   make qat  [BIT=4] ...                                           K = 1, no k-means
#   make fp32                                                       the pre-trained model's accuracy
# Variables (defaults in brackets):
#   ARCH [resnet20]  DATA [fashion-mnist:/usr/share/datasets/fashion-mnist]
#   BIT [4]  K [10]  SEED [1]  LIMIT [] (use N evenly spaced images per split)
#   FIRST_LAST_BIT [] mixed precision: the first and last layers at this many
#                 bits (pcq-fuse --first-last-bit); in CHAINS written BITfF, e.g. 4f8
#   RESIDUAL_BIT [] 16-bit residual adds: what only residual adds read at this
#                 many bits (pcq-fuse --residual-bit); in CHAINS rR after
#                 any fF, e.g. 4r16 or 4f8r16pc
#   PER_CHANNEL [] 1: weights quantized per output channel (pcq-fuse
#                 --per-channel); in CHAINS a pc suffix, e.g. 4pc or 4f8pc
#   SYMMETRIC [] 1: weights on the symmetric grid (pcq-fuse --symmetric); in
#                 CHAINS an s suffix after any pc, e.g. 8s or 8pcs
#   PRE_EPOCHS [100]  PRE_LR [0.01]  PRE_BATCH [128]  PRE_STEP [30]  (SPEC §5)
#   FT_EPOCHS [1]  FT_LR [1e-4]  FT_BATCH [32, 8 for QAT]  (the reference README)
#   PARTITIONS [4]  RESULTS [results]
#   DEVICE [cpu]  where pcq-train and pcq-infer run: cpu, cuda or auto (a GPU
#                 when one is usable); results do not name it
#   RANKS []      N > 1: pcq-train runs as N data-parallel ranks (mpirun -np N
#                 $(MPIRUN_FLAGS) ...; one per GPU with DEVICE=cuda): one
#                 process's model within rounding, so results do not name it
# Outputs: $(RESULTS)/<data>/<arch>-s<seed>[-n<limit>]/...: pre-e<E>-lr<LR>.msgpack,
# fp32.json, kmeans-k<K>-p<P>.msgpack, and per chain a folder
# {pcq-b<BITS>-k<K>|qat-b<BITS>}-ft<E>-lr<LR>-bs<B>/ (BITS: BIT[f<F>][r<R>][pc][s]) with fused.msgpack,
# ft.msgpack (fine-tuned), int.msgpack (integer), sim.json, int.json.

ARCH ?= resnet20
DATA ?= fashion-mnist:/usr/share/datasets/fashion-mnist
BIT ?= 4
FIRST_LAST_BIT ?=
RESIDUAL_BIT ?=
PER_CHANNEL ?=
SYMMETRIC ?=
K ?= 10
SEED ?= 1
LIMIT ?=
PRE_EPOCHS ?= 100
PRE_LR ?= 0.01
PRE_BATCH ?= 128
PRE_STEP ?= 30
FT_EPOCHS ?= 1
FT_LR ?= 1e-4
FT_BATCH ?=
PARTITIONS ?= 4
RESULTS ?= results
INFER_BATCH ?= 128
DEVICE ?= cpu
RANKS ?=
MPIRUN_FLAGS ?=
train_cmd = $(if $(filter-out 0 1,$(RANKS)),mpirun -np $(RANKS) $(MPIRUN_FLAGS) )bin/pcq-train

# The data set's name: its kind, or the last part of a folder's path.
data_kind = $(firstword $(subst :, ,$(DATA)))
data_name = $(if $(filter folder dataset,$(data_kind)),$(notdir $(patsubst %/,%,$(lastword $(subst :, ,$(DATA))))),$(data_kind))
limit_arg = $(if $(LIMIT),--limit $(LIMIT))
user_tag = $(if $(filter command line environment,$(origin PRE)),-pre-$(basename $(notdir $(PRE))))$(if $(KMEANS_FILE),-km-$(basename $(notdir $(KMEANS_FILE))))
RUN := $(RESULTS)/$(data_name)/$(ARCH)-s$(SEED)$(if $(LIMIT),-n$(LIMIT))$(user_tag)

PRE ?= $(RUN)/pre-e$(PRE_EPOCHS)-lr$(PRE_LR)-bs$(PRE_BATCH).msgpack
kmeans_of = $(or $(KMEANS_FILE),$(RUN)/kmeans-k$(1)-p$(PARTITIONS).msgpack)
ft_batch = $(or $(FT_BATCH),$(if $(filter 1,$(1)),8,32))
chain_dir = $(RUN)/$(if $(filter 1,$(2)),qat-b$(1),pcq-b$(1)-k$(2))-ft$(FT_EPOCHS)-lr$(FT_LR)-bs$(call ft_batch,$(2))

# Writes a tool's JSON output atomically.
json_out = > $@.tmp && mv $@.tmp $@

$(RESULTS)/%/pre-e$(PRE_EPOCHS)-lr$(PRE_LR)-bs$(PRE_BATCH).msgpack: | $(BINS)
	@mkdir -p $(@D)
	$(train_cmd) --arch $(ARCH) --data $(DATA) $(limit_arg) --epochs $(PRE_EPOCHS) \
		--lr $(PRE_LR) --batch $(PRE_BATCH) --lr-step $(PRE_STEP) --seed $(SEED) \
		--device $(DEVICE) --log $(@:.msgpack=.jsonl) -o $@

$(RUN)/fp32.json: $(PRE) | $(BINS)
	@mkdir -p $(@D)
	bin/pcq-infer $< --data $(DATA) $(limit_arg) --batch $(INFER_BATCH) --device $(DEVICE) \
		--json $(json_out)

# k-means sees the images normalised as the pre-trained model sees them.
define kmeans_rule
$(call kmeans_of,$(1)): $$(PRE) | $$(BINS)
	@mkdir -p $$(@D)
	bin/pcq-kmeans fit --data $$(DATA) $$(limit_arg) --clusters $(1) --norm $$(PRE) \
		--partitions $$(PARTITIONS) --seed $$(SEED) -o $$@
endef

# A chain's bits: B, BfF (B bits inside, F at the first and last layers),
# then rR (R-bit residual branches), a pc suffix (weights per channel),
# then an s suffix (the symmetric weight grid).
bit_tag = $(BIT)$(if $(FIRST_LAST_BIT),f$(FIRST_LAST_BIT))$(if $(RESIDUAL_BIT),r$(RESIDUAL_BIT))$(if $(filter 1,$(PER_CHANNEL)),pc)$(if $(filter 1,$(SYMMETRIC)),s)
bit_core = $(subst r, ,$(subst s,,$(subst pc,,$(1))))
bit_parts = $(subst f, ,$(word 1,$(call bit_core,$(1))))
residual_part = $(if $(findstring r,$(1)),$(word 2,$(call bit_core,$(1))))
fuse_bits = --bit $(word 1,$(call bit_parts,$(1)))$(if $(word 2,$(call bit_parts,$(1))), --first-last-bit $(word 2,$(call bit_parts,$(1))))$(if $(call residual_part,$(1)), --residual-bit $(call residual_part,$(1)))$(if $(findstring pc,$(1)), --per-channel)$(if $(findstring s,$(1)), --symmetric)

# One fine-tuning chain: $(1) bits (B[fF][pc][s]), $(2) clusters. A PCQ chain starts from
# its k-means model too (the fused model is made for its K), so a new
# k-means model remakes the whole chain and nothing else.
define chain
$(call chain_dir,$(1),$(2))/fused.msgpack: $$(PRE) $(if $(filter-out 1,$(2)),$(call kmeans_of,$(2))) | $$(BINS)
	@mkdir -p $$(@D)
	bin/pcq-fuse $$< $(call fuse_bits,$(1)) --clusters $(2) -o $$@
$(call chain_dir,$(1),$(2))/ft.msgpack: $(call chain_dir,$(1),$(2))/fused.msgpack $(if $(filter-out 1,$(2)),$(call kmeans_of,$(2))) | $$(BINS)
	$$(train_cmd) $$< --data $$(DATA) $$(limit_arg) $(if $(filter-out 1,$(2)),--kmeans $(call kmeans_of,$(2))) \
		--epochs $$(FT_EPOCHS) --lr $$(FT_LR) --batch $(call ft_batch,$(2)) --seed $$(SEED) \
		--device $$(DEVICE) --log $$(@D)/ft.jsonl -o $$@
$(call chain_dir,$(1),$(2))/int.msgpack: $(call chain_dir,$(1),$(2))/ft.msgpack | $$(BINS)
	bin/pcq-quantize $$< -o $$@
$(call chain_dir,$(1),$(2))/sim.json: $(call chain_dir,$(1),$(2))/ft.msgpack | $$(BINS)
	bin/pcq-infer $$< --data $$(DATA) $$(limit_arg) --batch $$(INFER_BATCH) --device $$(DEVICE) $(if $(filter-out 1,$(2)),--kmeans $(call kmeans_of,$(2))) --json $$(json_out)
$(call chain_dir,$(1),$(2))/int.json: $(call chain_dir,$(1),$(2))/int.msgpack | $$(BINS)
	bin/pcq-infer $$< --data $$(DATA) $$(limit_arg) --batch $$(INFER_BATCH) --device $$(DEVICE) $(if $(filter-out 1,$(2)),--kmeans $(call kmeans_of,$(2))) --json $$(json_out)
endef

# The chains a run asks for: CHAINS is a list of BITS:K (default: this BIT and K).
CHAINS ?= $(bit_tag):$(K)
chain_bits = $(word 1,$(subst :, ,$(1)))
chain_k = $(word 2,$(subst :, ,$(1)))
$(foreach c,$(sort $(CHAINS) $(bit_tag):1 $(bit_tag):$(K)),$(eval $(call chain,$(call chain_bits,$(c)),$(call chain_k,$(c)))))
$(if $(KMEANS_FILE),,$(foreach k,$(sort $(K) $(foreach c,$(CHAINS),$(call chain_k,$(c)))),$(if $(filter-out 1,$(k)),$(eval $(call kmeans_rule,$(k))))))
chain_results = $(foreach c,$(CHAINS),$(call chain_dir,$(call chain_bits,$(c)),$(call chain_k,$(c)))/sim.json $(call chain_dir,$(call chain_bits,$(c)),$(call chain_k,$(c)))/int.json)

fp32: $(RUN)/fp32.json
	@cat $<; echo
pcq: $(call chain_dir,$(bit_tag),$(K))/sim.json $(call chain_dir,$(bit_tag),$(K))/int.json
	@python3 pipelines/table.py --run $(RUN) $^
qat: $(call chain_dir,$(bit_tag),1)/sim.json $(call chain_dir,$(bit_tag),1)/int.json
	@python3 pipelines/table.py --run $(RUN) $^
chains: $(RUN)/fp32.json $(chain_results)
chains-table: chains
	@echo; echo "$(RUN): $(ARCH) on $(DATA)$(if $(LIMIT), ($(LIMIT) images per split))"
	@python3 pipelines/table.py --run $(RUN)

.PHONY: fp32 pcq qat chains chains-table
