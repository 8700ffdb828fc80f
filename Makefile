# PCQ: per-cluster quantization tools. `make` builds bin/, `make test` tests.
#   CUDA=auto|0|1   compile cuda/ with nvcc and link cuBLAS (auto: when nvcc
#                   is found and a cuBLAS program compiles and links)
#   SAN=1           AddressSanitizer + UBSan build (CPU only), in build/san
#   V=1             print the full compiler command lines
# Targets: all, deps, test, test-unit, test-e2e, test-san, fixtures, bench, demo, clean, help.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:

CUDA ?= auto
SAN ?= 0
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
CC ?= cc
NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))

# Dependencies are installed and detected once, into build/config.mk
# (make re-reads the Makefile after creating it).
NO_CONFIG_GOALS := clean deps help
ifneq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
-include build/config.mk
endif
build/config.mk: scripts/deps.sh scripts/configure.sh
	@mkdir -p build
	sh scripts/deps.sh
	NVCC="$(NVCC)" CC="$(CC)" sh scripts/configure.sh > $@.tmp && mv $@.tmp $@

# CUDA is decided after build/config.mk: auto needs nvcc and a cuBLAS that
# links (scripts/configure.sh probes it).
ifeq ($(SAN),1)
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
ifeq ($(SAN),1)
  CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
endif

COMMON_SRC := $(wildcard common/*.c)
CUDA_SRC := $(if $(filter 1,$(USE_CUDA)),$(wildcard cuda/*.cu))
LIB_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o) $(CUDA_SRC:%.cu=$(BUILD)/%.o)
LIB := $(BUILD)/libpcq.a
TOOLS := train kmeans fuse quantize infer info
BINS := $(TOOLS:%=bin/pcq-%)

ifeq ($(USE_CUDA),1)
  CFLAGS += -DPCQ_CUDA
  NVCCFLAGS := -O2 -std=c++17 -Icommon -Xcompiler -Wall,-Wextra,-Werror $(CONFIG_CUDA_ARCH)
  LDLIBS += -L$(CONFIG_CUDA_LIBDIR) -Wl,-rpath,$(CONFIG_CUDA_LIBDIR) -lcublas -lcudart_static -ldl -lrt -lpthread -lstdc++
endif

ifdef CONFIG_BLAS
$(info pcq: $(VARIANT) build $(VERSION): BLAS $(CONFIG_BLAS), OpenMP yes, CPU $(or $(CPU_FLAGS),generic), \
	CUDA $(if $(filter 1,$(USE_CUDA)),yes ($(NVCC)$(if $(CONFIG_CUDA_ARCH), $(CONFIG_CUDA_ARCH), default arch + PTX)),no$(if $(and $(NVCC),$(filter auto,$(CUDA)),$(filter-out san,$(VARIANT))), (nvcc found but cuBLAS does not link))))
endif

all: $(BINS)

deps:
	sh scripts/deps.sh

# Objects wait for the dependencies and are rebuilt when the configuration changes.
$(BUILD)/%.o: %.c build/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu build/config.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -c $< -o $@

# The integer engine's element loops want GCC's full vectoriser (-O2 in
# GCC 12 only vectorises loops without an epilogue); integer code, so the
# results cannot change.
$(BUILD)/common/qengine.o $(BUILD)/common/qinfer.o: CFLAGS += -O3

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

test-unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

test-e2e: $(BINS)
	@sh tests/run-e2e.sh tests/e2e/test_*.sh

# The unit tests under AddressSanitizer and UBSan (a CPU build in build/san).
test-san:
	$(MAKE) SAN=1 test-unit

test: test-unit test-e2e

# Benchmarks against PyTorch (BENCHMARKS.md); they want a quiet machine.
$(BUILD)/bench/sgemm_ceiling: $(BUILD)/bench/sgemm_ceiling.o
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LDLIBS) -o $@

$(BUILD)/bench/igemm_bench: $(BUILD)/bench/igemm_bench.o $(LIB)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

bench: $(BINS) $(BUILD)/bench/sgemm_ceiling $(BUILD)/bench/igemm_bench
	$(BUILD)/bench/sgemm_ceiling
	$(BUILD)/bench/igemm_bench
	sh bench/train_throughput.sh resnet20 20
	sh bench/train_throughput.sh alexnet-small 8
	sh bench/kmeans_vs_sklearn.sh

# Reference tensors from PyTorch (Debian's python3-torch, /usr/bin/python3).
PYTHON_TORCH ?= /usr/bin/python3
fixtures:
	@$(PYTHON_TORCH) -c 'import torch, msgpack, numpy' 2>/dev/null || { echo \
		"fixtures: $(PYTHON_TORCH) needs torch, msgpack and numpy: apt-get install python3-torch python3-msgpack python3-numpy" >&2; exit 1; }
	for g in tests/fixtures/gen_*.py; do $(PYTHON_TORCH) $$g || exit 1; done

# The README's first command: until the quantization pipeline lands,
# summarise the default data set, pre-train ResNet20 on part of it and
# evaluate the model (about a minute on 2 cores).
DEMO_DATA ?= fashion-mnist:/usr/share/datasets/fashion-mnist
DEMO_DIR ?= results/demo
demo: $(BINS)
	@mkdir -p $(DEMO_DIR)
	bin/pcq-info --data $(DEMO_DATA) --split test
	bin/pcq-train --arch resnet20 --data $(DEMO_DATA) --limit 10000 --epochs 3 \
		--lr 0.05 --lr-step 2 --log $(DEMO_DIR)/train.jsonl -o $(DEMO_DIR)/resnet20.msgpack
	bin/pcq-infer $(DEMO_DIR)/resnet20.best.msgpack --data $(DEMO_DATA)

clean:
	rm -rf build bin

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

FORCE:
.PHONY: all bench deps fixtures test test-unit test-e2e test-san demo clean help FORCE
.PRECIOUS: $(BUILD)/%.o $(BUILD)/tests/%.o

-include $(LIB_OBJ:.o=.d) $(BINS:bin/pcq-%=$(BUILD)/src/%.d) $(UNIT_BINS:=.d)
