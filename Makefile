# wsplug: make test (what CI runs), make demo, make plugins, make examples,
# make lint, make fuzz, make bench.

GO       ?= go
FUZZTIME ?= 10s
PLUGINS  := ids jwt json benchjson

.PHONY: all build test lint fuzz bench demo plugins examples wat

all: build plugins

# build installs the command into $(go env GOPATH)/bin.
build:
	$(GO) install ./cmd/wsplug

# test: the whole suite under the race detector, after the linters; then
# the 10,000-client test, which the race detector's goroutine limit stops.
test: lint
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run TestManyIdleClients ./host/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./abi/... ./plugins/...

# plugins: the first-party plugins, as plugins/NAME.wasm. Go's build cache
# decides what is up to date, so each is built every time; an unchanged
# one takes a moment.
plugins: $(PLUGINS:%=plugins/%.wasm)

plugins/%.wasm: FORCE
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -ldflags=-s -o $@ ./plugins/$*

# examples: the same transform in C and in WAT (Debian: clang lld wasi-libc
# libclang-rt-14-dev-wasm32; wabt).
examples: examples/plugins/c/upper.wasm examples/plugins/wat/upper.wasm

examples/plugins/c/upper.wasm: examples/plugins/c/upper.c
	sh examples/plugins/c/build.sh $@

examples/plugins/wat/upper.wasm: examples/plugins/wat/upper.wat
	wat2wasm $< -o $@

# wat: rebuild the WAT test modules kept in the repository.
wat:
	cd host/testdata/hostile && sh build.sh
	cd host/testdata/bench && wat2wasm pass.wat -o pass.wasm
	cd host/testdata/fuzz && wat2wasm hostcalls.wat -o hostcalls.wasm

# fuzz: every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# demo: the main job, on a ComfyUI-like server inside the process: the
# bundled plugins (built first), a client id, a JWT header, a transform,
# one prompt run to completion.
demo:
	$(MAKE) -j3 plugins/ids.wasm plugins/jwt.wasm plugins/json.wasm
	$(GO) run ./cmd/wsplug demo

FORCE:
