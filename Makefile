# PCQ: per-cluster quantization tools. `make` builds bin/, `make test` tests.
#   CUDA=auto|0|1   compile cuda/ with nvcc and link cuBLAS (auto: when nvcc
#                   is found and a cuBLAS program compiles and links)
#   CUDA=emu        cuda/ compiled by the C++ compiler against tests/cuda_emu,
#                   a CPU stand-in for the CUDA runtime and cuBLAS, so cuda/'s
#                   code runs in tests without a GPU (build/emu)
#   SAN=1           AddressSanitizer + UBSan build (CPU only, or with CUDA=emu),
#                   in build/san (build/emu-san)
#   FUZZ=1          clang with libFuzzer, ASan and UBSan, for `make fuzz`
#                   (build/fuzz)
#   V=1             print the full compiler command lines
# Targets: all, deps, test, test-unit, test-e2e, test-san, test-emu, fuzz, fixtures, bench, demo, table,
# pcq, qat, fp32, chains (pipelines/pcq.mk), install, uninstall (PREFIX, DESTDIR), clean, help.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:

CUDA ?= auto
SAN ?= 0
FUZZ ?= 0
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
# demo and the test targets build in parallel (JOBS jobs, default: the
# cores) unless make was given -j itself; tests run TEST_JOBS at a time
# (default: JOBS; tests/run.sh).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
PAR = $(if $(findstring -j,$(MAKEFLAGS)),,-j$(JOBS))
TEST_JOBS ?= $(JOBS)
CC ?= cc
NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))

# Dependencies are installed and detected once, into build/config.mk
# (make re-reads the Makefile after creating it).
NO_CONFIG_GOALS := clean deps help uninstall
ifneq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
-include build/config.mk
endif
build/config.mk: scripts/deps.sh scripts/configure.sh
	@mkdir -p build
	sh scripts/deps.sh
	NVCC="$(NVCC)" CC="$(CC)" sh scripts/configure.sh > $@.tmp && mv $@.tmp $@

# CUDA is decided after build/config.mk: auto needs nvcc and a cuBLAS that
# links (scripts/configure.sh probes it).
ifeq ($(FUZZ),1)
  USE_CUDA := 0
  VARIANT := fuzz
  CC := clang
else ifeq ($(CUDA),emu)
  USE_CUDA := emu
  VARIANT := emu$(if $(filter 1,$(SAN)),-san)
else ifeq ($(SAN),1)
  USE_CUDA := 0
  VARIANT := san
else ifeq ($(CUDA),auto)
  USE_CUDA := $(if $(and $(NVCC),$(CONFIG_CUDA_LIBDIR)),1,0)
else
  USE_CUDA := $(CUDA)
endif
ifeq ($(USE_CUDA),1)
  ifeq ($(NVCC),)
    $(error CUDA=1 but nvcc was not found (set NVCC=/path/to/nvcc))
  endif
  ifeq ($(CONFIG_CUDA_LIBDIR),)
    ifdef CONFIG_BLAS
      $(error CUDA=1 but cuBLAS does not link with $(NVCC): see the configure message (rm build/config.mk to probe again))
    endif
  endif
endif
VARIANT ?= $(if $(filter 1,$(USE_CUDA)),cuda,cpu)
BUILD := build/$(VARIANT)

VERSION := $(shell cat VERSION)

CPU_FLAGS ?= $(CONFIG_CPU_FLAGS)
CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -fopenmp -Wall -Wextra -Werror \
	-MMD -MP -Icommon -DPCQ_VERSION='"$(VERSION)"' $(CPU_FLAGS) $(CONFIG_CFLAGS)
LDLIBS := $(CONFIG_LIBS) -lm
SAN_FLAGS := -O1 -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all
ifneq ($(filter 1,$(SAN) $(FUZZ)),)
  CFLAGS += $(SAN_FLAGS)
  LDFLAGS += -fsanitize=address,undefined
endif
# clang cannot vectorise the `omp simd` loops under the sanitizers and
# says so (-Wpass-failed); that is expected here.
ifeq ($(FUZZ),1)
  CFLAGS += -fsanitize=fuzzer-no-link -Wno-pass-failed
endif

COMMON_SRC := $(wildcard common/*.c)
CUDA_SRC := $(if $(filter 1 emu,$(USE_CUDA)),$(wildcard cuda/*.cu))
LIB_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o) $(CUDA_SRC:%.cu=$(BUILD)/%.o) \
	$(if $(filter emu,$(USE_CUDA)),$(patsubst %.cc,$(BUILD)/%.o,$(wildcard tests/cuda_emu/*.cc)))
LIB := $(BUILD)/libpcq.a
TOOLS := train kmeans fuse quantize infer info
BINS := $(TOOLS:%=bin/pcq-%)

ifeq ($(USE_CUDA),1)
  CFLAGS += -DPCQ_CUDA
  NVCCFLAGS := -O2 -std=c++17 -fmad=false -MMD -MP -Icommon -Xcompiler -Wall,-Wextra,-Werror $(CONFIG_CUDA_ARCH)
  LDLIBS += -L$(CONFIG_CUDA_LIBDIR) -Wl,-rpath,$(CONFIG_CUDA_LIBDIR) -lcublas -lcudart_static -ldl -lrt -lpthread -lstdc++
endif
ifeq ($(USE_CUDA),emu)
  CFLAGS += -DPCQ_CUDA
  EMUFLAGS := -std=c++17 -O2 -g -Wall -Wextra -Werror -MMD -MP -ffp-contract=off \
	-Icommon -Icuda -Itests/cuda_emu $(CPU_FLAGS) $(CONFIG_CFLAGS) \
	$(if $(filter 1,$(SAN)),$(SAN_FLAGS))
  LDLIBS += -lstdc++
endif

ifdef CONFIG_BLAS
$(info pcq: $(VARIANT) build $(VERSION): BLAS $(CONFIG_BLAS), OpenMP yes, CPU $(or $(CPU_FLAGS),generic), \
	CUDA $(if $(filter emu,$(USE_CUDA)),emulated on the CPU (tests/cuda_emu),$(if $(filter 1,$(USE_CUDA)),yes ($(NVCC)$(if $(CONFIG_CUDA_ARCH), $(CONFIG_CUDA_ARCH), default arch + PTX)),no$(if $(and $(NVCC),$(filter auto,$(CUDA)),$(filter-out san fuzz,$(VARIANT))), (nvcc found but cuBLAS does not link)))))
endif

all: $(BINS)

deps:
	sh scripts/deps.sh

# Objects wait for the dependencies and are rebuilt when the configuration changes.
$(BUILD)/%.o: %.c build/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

ifeq ($(USE_CUDA),1)
$(BUILD)/%.o: %.cu build/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -c $< -o $@
endif

# The emulator build: each launch k<<<grid, block>>>(args) becomes
# emu_launch(k, grid, block, args) (tests/cuda_emu/cuda_runtime.h).
ifeq ($(USE_CUDA),emu)
$(BUILD)/%.o: %.cu build/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  EMU     $<")
	$(Q){ echo '#line 1 "$<"'; sed -E 's/([A-Za-z_][A-Za-z0-9_]*)<<<(.*)>>>\(/emu_launch(\1, \2, /' $<; } > $(@:.o=.emu.cc)
	$(Q)$(CXX) $(EMUFLAGS) -c $(@:.o=.emu.cc) -o $@

$(BUILD)/tests/cuda_emu/%.o: tests/cuda_emu/%.cc build/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(EMUFLAGS) -c $< -o $@
endif

# The quantization loops want GCC's full vectoriser (-O2 in GCC 12 only
# vectorises loops without an epilogue): integer code, and element-wise
# float code without reductions or contractions, so results cannot change.
$(BUILD)/common/qengine.o $(BUILD)/common/qinfer.o $(BUILD)/common/fakequant.o $(BUILD)/common/iconv.o: CFLAGS += -O3

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

# bin/ holds one variant at a time; relink when the variant changes.
build/variant: FORCE
	@mkdir -p build
	@[ "$$(cat $@ 2>/dev/null)" = "$(VARIANT)" ] || echo $(VARIANT) > $@

bin/pcq-%: $(BUILD)/src/%.o $(LIB) build/variant
	@mkdir -p bin
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# Tests: one cmocka binary per tests/unit/test_*.c; e2e shell scripts.
UNIT_SRC := $(wildcard tests/unit/test_*.c) $(wildcard tests/cuda/test_*.c)
UNIT_BINS := $(UNIT_SRC:%.c=$(BUILD)/%)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

# Each fuzz target's corpus replayed in every build (tests/fuzz/). The
# harness's object is named here so that make takes the rules below for
# the targets and tests (its pattern rules pass over a prerequisite that
# no rule names and that does not exist yet).
FUZZ_HARNESS := $(BUILD)/tests/fuzz/harness.o
$(FUZZ_HARNESS): tests/fuzz/harness.c
$(BUILD)/tests/unit/test_fuzz_%: $(BUILD)/tests/unit/test_fuzz_%.o \
		$(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_HARNESS) $(LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.o,$^) $(LIB) $(LDLIBS) -lcmocka -o $@

# The tests that take longest on 2 cores, started first so that TEST_JOBS
# at a time end together.
SLOW_TESTS := test_pipeline test_integer test_finetune test_device test_train \
	test_device_cuda test_model_device test_fuzz_pcqfile test_device_traffic test_qengine \
	test_layers test_fuzz_dataset test_model test_datasets
slow_patterns = $(foreach t,$(SLOW_TESTS),%/$(t) %/$(t).sh)
longest_first = $(foreach p,$(slow_patterns),$(filter $(p),$1)) $(filter-out $(slow_patterns),$1)
run_tests = sh tests/run.sh -j$(TEST_JOBS) $(call longest_first,$1)

test-unit: $(UNIT_BINS)
	@$(call run_tests,$(UNIT_BINS))

test-e2e: $(BINS)
	@$(call run_tests,$(wildcard tests/e2e/test_*.sh))

# The unit tests under AddressSanitizer and UBSan (a CPU build in build/san).
test-san:
	$(MAKE) $(PAR) SAN=1 test-unit

# The GPU tests on the CUDA emulator (tests/cuda_emu, docs/TESTING.md):
# cuda/'s kernels and the device runners run without a GPU, the kernel
# tests also under AddressSanitizer and UBSan (not test_model_device there:
# its fibers' switches make it minutes long under ASan, nor the fuzz
# corpus: test-san runs its sweep under ASan, and its GPU part compares
# integers, which ASan adds little to); and the
# tools' --device cuda end to end, with the emulator's tools in
# build/emu/bin, and what those tools move between host and device (the
# emulator counts it).
EMU_TESTS := $(wildcard tests/cuda/test_*.c) tests/unit/test_qengine.c \
	$(if $(filter 1,$(SAN)),,tests/unit/test_model_device.c tests/unit/test_fuzz_pcqfile.c)
test-emu:
	$(MAKE) $(PAR) CUDA=emu test-emu-unit
	$(MAKE) $(PAR) CUDA=emu test-emu-e2e
	$(MAKE) $(PAR) CUDA=emu SAN=1 test-emu-unit

$(BUILD)/bin/pcq-%: $(BUILD)/src/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

test-emu-e2e: $(TOOLS:%=$(BUILD)/bin/pcq-%)
	@E2E_BIN=$(abspath $(BUILD)/bin) $(call run_tests,tests/e2e/test_device_cuda.sh \
		tests/e2e/test_device_traffic.sh tests/e2e/test_ranks_cuda.sh)

test-emu-unit: $(EMU_TESTS:%.c=$(BUILD)/%)
	@$(call run_tests,$^)

# Fuzzing (tests/fuzz/): each target FUZZ_SECONDS long from its corpus in
# tests/fuzz/corpus/TARGET, new inputs kept in build/fuzz/corpus/TARGET and
# crashes written to build/fuzz/; clang's libFuzzer (FUZZ=1 build).
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_HARNESS) $(LIB)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer $(filter %.o,$^) $(LIB) $(LDLIBS) -o $@

fuzz:
	@command -v clang >/dev/null || { echo "make fuzz: needs clang (apt-get install clang)" >&2; exit 2; }
	$(MAKE) $(PAR) FUZZ=1 $(FUZZ_TARGETS:%=build/fuzz/tests/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$t && \
		build/fuzz/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/ build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
			2>build/fuzz/$$t.log || { tail -40 build/fuzz/$$t.log; exit 1; }; \
		grep -E "^stat::(number_of_executed_units|new_units_added)|cov:" build/fuzz/$$t.log | tail -3; \
	done

# One part after another, each building in parallel first.
test:
	$(MAKE) $(PAR) test-unit
	$(MAKE) $(PAR) test-e2e
	$(MAKE) test-emu

# Benchmarks against PyTorch (BENCHMARKS.md); they want a quiet machine.
$(BUILD)/bench/sgemm_ceiling: $(BUILD)/bench/sgemm_ceiling.o $(LIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/fma_peak: $(BUILD)/bench/fma_peak.o
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS) -o $@

$(BUILD)/bench/igemm_bench: $(BUILD)/bench/igemm_bench.o $(LIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/iconv_bench: $(BUILD)/bench/iconv_bench.o $(LIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/qengine_bench: $(BUILD)/bench/qengine_bench.o $(LIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/dist_sum_bench: $(BUILD)/bench/dist_sum_bench.o $(LIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/dnnl_conv_impls: $(BUILD)/bench/dnnl_conv_impls.o
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS) -o $@

$(BUILD)/bench/dnnl_gemm_offsets: $(BUILD)/bench/dnnl_gemm_offsets.o
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS) -o $@

bench: $(BINS) $(BUILD)/bench/sgemm_ceiling $(BUILD)/bench/igemm_bench $(BUILD)/bench/iconv_bench
	$(BUILD)/bench/sgemm_ceiling
	$(BUILD)/bench/igemm_bench
	$(BUILD)/bench/iconv_bench
	sh bench/train_throughput.sh resnet20 20
	sh bench/train_throughput.sh alexnet-small 8
	sh bench/kmeans_vs_sklearn.sh

# Reference tensors from PyTorch (Debian's python3-torch, /usr/bin/python3).
PYTHON_TORCH ?= /usr/bin/python3
fixtures: $(BINS)
	@$(PYTHON_TORCH) -c 'import torch, msgpack, numpy' 2>/dev/null || { echo \
		"fixtures: $(PYTHON_TORCH) needs torch, msgpack and numpy: apt-get install python3-torch python3-msgpack python3-numpy" >&2; exit 1; }
	for g in tests/fixtures/gen_*.py; do $(PYTHON_TORCH) $$g || exit 1; done
	PYTHON_TORCH=$(PYTHON_TORCH) sh tests/fixtures/gen_integer.sh

# The pipelines (pipelines/pcq.mk): make pcq, qat, fp32, chains; see there.
include pipelines/pcq.mk

# The README's first command: the whole PCQ and QAT pipelines on
# Fashion-MNIST (the Debian package) with a small schedule: ResNet20
# pre-trained 3 epochs on 10,000 images, k-means with 10 clusters, QAT and
# PCQ at 4 bits fine-tuned one epoch, simulated and integer accuracy on the
# 10,000 test images. A few minutes on 2 cores; results in results/.
DEMO_DATA ?= fashion-mnist:/usr/share/datasets/fashion-mnist
demo:
	@$(MAKE) --no-print-directory $(PAR) all
	@$(MAKE) --no-print-directory chains-table DATA=$(DEMO_DATA) ARCH=resnet20 LIMIT=10000 \
		PRE_EPOCHS=3 PRE_LR=0.05 PRE_STEP=2 BIT=4 K=10 CHAINS="4:1 4:10"

# The result tables on CIFAR-10 (CIFAR10=DIR: the binary release or the JPEG
# folders): ResNet20 and AlexNetSmall, FP32, QAT 8 and 4 bits, PCQ 4 bits with
# K = 2, 4, 8, 10 and PCQ 8 bits with K = 10, into results/<data>/table.md and
# table.png. FAST=1: 5,000 images per split, 3 pre-training epochs.
CIFAR10 ?=
TABLE_ARCHS ?= resnet20 alexnet-small
TABLE_CHAINS ?= 8:1 4:1 4:2 4:4 4:8 4:10 8:10
table_data = $(if $(wildcard $(CIFAR10)/data_batch_1.bin),cifar10,folder):$(CIFAR10)
table_vars = DATA=$(table_data) CHAINS="$(TABLE_CHAINS)" \
	$(if $(filter 1,$(FAST)),LIMIT=5000 PRE_EPOCHS=3 PRE_LR=0.05 PRE_STEP=2)
table_name = $(if $(wildcard $(CIFAR10)/data_batch_1.bin),cifar10,$(notdir $(patsubst %/,%,$(CIFAR10))))
table_runs = $(foreach a,$(TABLE_ARCHS),$(RESULTS)/$(table_name)/$(a)-s$(SEED)$(if $(filter 1,$(FAST)),-n5000))
table: $(BINS)
	@[ -n "$(CIFAR10)" ] || { echo "make table: give CIFAR10=DIR (the CIFAR-10 binary release or the JPEG copy)" >&2; exit 2; }
	@command -v gnuplot >/dev/null || sh scripts/deps.sh gnuplot-nox
	@for a in $(TABLE_ARCHS); do $(MAKE) --no-print-directory chains ARCH=$$a $(table_vars) || exit 1; done
	python3 pipelines/table.py --title "PCQ and QAT on $(table_name)" \
		--schedule "Pre-training $(if $(filter 1,$(FAST)),3 epochs on 5,000 images (FAST=1),$(PRE_EPOCHS) epochs); fine-tuning $(FT_EPOCHS) epoch(s) at lr $(FT_LR); seed $(SEED)." \
		--out $(RESULTS)/$(table_name)/table.md $(table_runs)

# make install: the tools into $(DESTDIR)$(PREFIX)/bin, and their bash
# completion (completions/pcq.bash) where bash-completion finds it.
PREFIX ?= /usr/local
completion_dir = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(completion_dir)
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	for t in $(TOOLS); do install -m 644 completions/pcq.bash $(completion_dir)/pcq-$$t || exit 1; done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(PREFIX)/bin/pcq-%) $(TOOLS:%=$(completion_dir)/pcq-%)

clean:
	rm -rf build bin

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

FORCE:
.PHONY: all bench deps fixtures fuzz install uninstall test test-unit test-e2e test-san test-emu test-emu-unit test-emu-e2e demo table clean help FORCE
.PRECIOUS: $(BUILD)/%.o $(BUILD)/tests/%.o

-include $(LIB_OBJ:.o=.d) $(BINS:bin/pcq-%=$(BUILD)/src/%.d) $(UNIT_BINS:=.d) $(wildcard $(BUILD)/bench/*.d $(BUILD)/tests/cuda/*.d $(BUILD)/tests/fuzz/*.d)
