# wsplug: make test (what CI runs), make demo, make lint, make fuzz, make bench.

GO       ?= go
FUZZTIME ?= 10s

.PHONY: all build test lint fuzz bench demo

all: build

# build installs the command into $(go env GOPATH)/bin.
build:
	$(GO) install ./cmd/wsplug

# test: the whole suite under the race detector, after the linters.
test: lint
	$(GO) test -race -count=1 ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

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

# demo: today, what the config layer does with a ComfyUI client. The full
# demo (an embedded server, a prompt run to completion) comes with the
# connection manager.
demo:
	$(GO) run ./cmd/wsplug validate examples/comfyui/wsplug.yaml
	$(GO) run ./cmd/wsplug resolve examples/comfyui/wsplug.yaml
