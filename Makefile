# rnn.c build. `make` builds librnn.a and the `rnn` command; `make test` builds
# and runs every test; `make test-san` runs them under AddressSanitizer+UBSan;
# `make run` trains the default model and samples from it.
#
# Optional GEMM backends are detected by trying to compile and link against
# them; override with BACKEND=auto|dnnl|openblas|builtin. SAN=1 builds with
# sanitizers into build-san/. NATIVE=0 drops -march=native.

CC      ?= cc
BACKEND ?= auto
NATIVE  ?= 1
SAN     ?= 0

BUILD   := build
# -fno-trapping-math: the cells' activations (src/activations.h) hold
# selects (clamps, tanh's small-x branch) that GCC if-converts into vector
# blends only when evaluating both sides may not raise FP exceptions; AVX-512
# masks them anyway, so without it only AVX2 machines ran the cells scalar
# (3x slower pointwise maths). Values are unchanged: no flags are read.
CFLAGS  := -std=c11 -O3 -fno-math-errno -fno-trapping-math -Wall -Wextra -D_POSIX_C_SOURCE=200809L -fopenmp -Iinclude -Isrc
LDLIBS  := -lcjson -lm -lpthread -fopenmp
ifeq ($(NATIVE),1)
  CFLAGS += -march=native
endif
ifeq ($(SAN),1)
  BUILD   := build-san
  CFLAGS  += -g -O1 -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow
  LDLIBS  += -fsanitize=address,undefined,float-cast-overflow
endif

# --- optional backend detection (a try-compile each; results printed) -------
try = $(shell $(CC) $(1) -o /dev/null $(2) >/dev/null 2>&1 && echo yes)
HAVE_DNNL     := $(call try,mk/probe_dnnl.c,-ldnnl)
HAVE_OPENBLAS := $(call try,-I/usr/include/x86_64-linux-gnu mk/probe_openblas.c,-lopenblas)

ifeq ($(BACKEND),auto)
  ifeq ($(HAVE_DNNL),yes)
    BACKEND := dnnl
  else ifeq ($(HAVE_OPENBLAS),yes)
    BACKEND := openblas
  else
    BACKEND := builtin
  endif
endif
ifeq ($(BACKEND),dnnl)
  CFLAGS += -DRNN_HAVE_DNNL
  LDLIBS += -ldnnl
endif
ifeq ($(BACKEND),openblas)
  CFLAGS += -DRNN_HAVE_OPENBLAS -I/usr/include/x86_64-linux-gnu
  LDLIBS += -lopenblas
endif
$(info rnn.c: GEMM backend = $(BACKEND) (oneDNN: $(or $(HAVE_DNNL),no), OpenBLAS: $(or $(HAVE_OPENBLAS),no)); override with BACKEND=)

SRCS      := $(wildcard src/*.c)
OBJS      := $(SRCS:src/%.c=$(BUILD)/src/%.o)
CLI_SRCS  := $(wildcard cli/*.c)
CLI_OBJS  := $(CLI_SRCS:cli/%.c=$(BUILD)/cli/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# librnn.a, what a program links (examples/, make install): rnn.h's functions
# are its only global symbols, so a host's own rnn_train or rnn_log_add does not
# clash with the library's internals. librnn-internal.a keeps every symbol,
# for the rnn command, the tests and bench/, which call the modules directly.
LIB       := $(BUILD)/librnn.a
INTLIB    := $(BUILD)/librnn-internal.a
# librnn.so, the same library for programs (and other languages' bindings)
# that load it at run time: the same rnn.h functions its only exports (a
# version script), its own position-independent objects (the rnn command and
# librnn.a keep the non-PIC ones the benchmarks measure). The soname carries
# the major version: 0 while the API may still change between minor versions.
VERSION   := $(shell sed -n 's/^\#define RNN_VERSION "\(.*\)"/\1/p' include/rnn.h)
SOMAJOR   := $(firstword $(subst ., ,$(VERSION)))
SO        := $(BUILD)/librnn.so
PIC_OBJS  := $(SRCS:src/%.c=$(BUILD)/pic/%.o)
BIN       := $(if $(filter 1,$(SAN)),$(BUILD)/rnn,rnn)

.PHONY: all test test-san run bench examples install uninstall clean
all: $(BIN) $(LIB) $(SO) $(BUILD)/ldlibs

# The link flags a program using librnn.a needs (examples/ reads them).
$(BUILD)/ldlibs: $(BUILD)/flags
	@echo '$(LDLIBS)' > $@

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c include/rnn.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Rebuild everything when the flags (backend, sanitizers) change.
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) $(LDLIBS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDLIBS)' > $@
FORCE:

$(BUILD)/src/%.o: src/%.c $(wildcard src/*.h) include/rnn.h $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
# -fno-semantic-interposition: the version script hides the internals, so GCC
# may inline and call them directly as in the non-PIC objects.
$(BUILD)/pic/%.o: src/%.c $(wildcard src/*.h) include/rnn.h $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fno-semantic-interposition -c $< -o $@
$(BUILD)/cli/%.o: cli/%.c $(wildcard src/*.h cli/*.h) include/rnn.h $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
# (ldlibs with the library: `make examples` after a backend appeared links as the README's cc line)
$(INTLIB): $(OBJS) | $(BUILD)/ldlibs
	rm -f $@ && ar rcs $@ $(OBJS)
# The public functions: each declaration in rnn.h that starts a line.
$(BUILD)/rnn.syms: include/rnn.h
	@mkdir -p $(BUILD)
	sed -n 's/^[a-z][^(]*[ *]\(rnn_[a-z0-9_]*\)(.*/\1/p' $< >$@
# All objects as one, its other symbols made local (objcopy: binutils, with cc).
$(LIB): $(OBJS) $(BUILD)/rnn.syms | $(BUILD)/ldlibs
	$(CC) -r -nostdlib -o $(BUILD)/librnn.o $(OBJS)
	objcopy --keep-global-symbols=$(BUILD)/rnn.syms $(BUILD)/librnn.o
	rm -f $@ && ar rcs $@ $(BUILD)/librnn.o
$(BUILD)/rnn.map: $(BUILD)/rnn.syms
	{ echo '{ global:'; sed 's/$$/;/' $<; echo 'local: *; };'; } >$@
# --no-undefined: every symbol the library uses is found in the libraries it names.
$(SO): $(PIC_OBJS) $(BUILD)/rnn.map
	$(CC) -shared -o $(SO).$(VERSION) -Wl,-soname,librnn.so.$(SOMAJOR) \
	  -Wl,--version-script=$(BUILD)/rnn.map -Wl,--no-undefined $(PIC_OBJS) $(LDLIBS)
	ln -sfn librnn.so.$(VERSION) $(SO).$(SOMAJOR)
	ln -sfn librnn.so.$(SOMAJOR) $@
$(BIN): $(CLI_OBJS) $(INTLIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: tests/%.c tests/harness.h tests/st_edit.h $(INTLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(INTLIB) $(LDLIBS)

# The whole suite: unit, gradient, PyTorch-fixture and end-to-end tests
# (test_cli.sh also checks `make install` into a scratch DESTDIR;
# test_torch_tool.sh checks tools/rnnc_torch.py against rnn.c).
test: $(TEST_BINS) $(BIN) $(EXAMPLES)
	RNN_BIN=$(abspath $(BIN)) RNN_EXAMPLES=$(abspath $(BUILD)/examples) \
	RNN_MAKE="$(MAKE) SAN=$(SAN) BACKEND=$(BACKEND) NATIVE=$(NATIVE)" \
	tests/run.sh $(TEST_BINS) tests/test_cli.sh tests/test_torch_tool.sh

test-san:
	$(MAKE) SAN=1 test

# The main job: train the default model on the built-in human-numbers corpus
# and sample from it.
run: $(BIN)
	./$(BIN) train --config examples/human-numbers.cfg --overwrite
	./$(BIN) sample runs/default/model.safetensors --prime "seven thousand three hundred" --length 120 --temperature 0.5

# rnn.c against PyTorch on every case of bench/cases.json (see bench/README.md).
bench: $(INTLIB)
	bench/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the rnn command, librnn.a,
# librnn.so (with its soname link), rnn.h and rnn.pc. `cc prog.c $(pkg-config
# --cflags --libs rnn)` links the shared library; `--static` adds the libraries
# this build links (Libs.private) for librnn.a. The library is built for this
# CPU (-march=native) unless NATIVE=0. Without DESTDIR, ldconfig updates the
# loader's cache (as root; a user's PREFIX needs LD_LIBRARY_PATH or an rpath).
PREFIX  ?= /usr/local
LIBDIR   = $(DESTDIR)$(PREFIX)/lib
install: $(BIN) $(LIB) $(SO)
	install -d "$(DESTDIR)$(PREFIX)/bin" "$(LIBDIR)/pkgconfig" "$(DESTDIR)$(PREFIX)/include"
	install -m 755 $(BIN) "$(DESTDIR)$(PREFIX)/bin/rnn"
	install -m 644 $(LIB) "$(LIBDIR)/librnn.a"
	install -m 755 $(SO).$(VERSION) "$(LIBDIR)/librnn.so.$(VERSION)"
	ln -sfn librnn.so.$(VERSION) "$(LIBDIR)/librnn.so.$(SOMAJOR)"
	ln -sfn librnn.so.$(SOMAJOR) "$(LIBDIR)/librnn.so"
	install -m 644 include/rnn.h "$(DESTDIR)$(PREFIX)/include/rnn.h"
	printf '%s\n' "prefix=$(PREFIX)" 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: rnn' 'Description: recurrent networks (RNN, LSTM, GRU) in C: train, sample, classify' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lrnn' \
	  'Libs.private: $(LDLIBS)' >"$(LIBDIR)/pkgconfig/rnn.pc"
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi
uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/rnn" "$(LIBDIR)/librnn.a" "$(LIBDIR)/librnn.so.$(VERSION)" \
	  "$(LIBDIR)/librnn.so.$(SOMAJOR)" "$(LIBDIR)/librnn.so" \
	  "$(DESTDIR)$(PREFIX)/include/rnn.h" "$(LIBDIR)/pkgconfig/rnn.pc"

clean:
	rm -rf build build-san rnn
