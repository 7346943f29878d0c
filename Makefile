# builder — build, test and demo targets. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

GO      ?= go
BIN     := bin/builder

.PHONY: all build test test-go fuzz deps lint fmt-check vet demo bench clean image

all: build

build:
	$(GO) build -o $(BIN) ./cmd/builder

# builder's own image (image/Dockerfile), built by builder: FROM scratch, the
# static binary, CA certificates, a non-root user 1000, /workspace and the
# store dir. Writes bin/builder-image.tar (OCI) and tags builder:latest in
# builder's store (push it with `bin/builder push builder:latest REF`).
image: build
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/builder-static ./cmd/builder
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-0} image/build.sh $(BIN) bin/builder-static bin/builder-image.tar

deps:
	scripts/install-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path './.cache/*' -not -path './bin/*' -print0 | xargs -0 gofmt -l); if [[ -n $$out ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: vet fmt-check

# Tests start and stop their own registries and containers. They run with a
# private TMPDIR so that anything left behind (mounts, processes) is found
# afterwards; the dir is removed only when nothing was left.
test: deps lint test-go fuzz

# Each fuzzer runs for FUZZTIME on top of its seed corpus (and the
# regression cases in its package's testdata/fuzz/FuzzX/); scripts/fuzz.sh
# says what a crasher is and what is Go's own deadline race.
FUZZTIME ?= 20s
FUZZERS := ./parser:FuzzParse ./parser/shell:FuzzProcessWord ./snapshot:FuzzApply ./snapshot:FuzzIndex \
	./internal/filecopy:FuzzSelect ./internal/filecopy:FuzzDockerignore ./check:FuzzRun \
	./registry:FuzzErrorResponse ./internal/attest:FuzzRPMHeader ./internal/attest:FuzzBerkeleyDB

fuzz:
	@scripts/fuzz.sh $(GO) $(FUZZTIME) $(FUZZERS)

test-go:
	@tmp=$$(mktemp -d /tmp/builder-test.XXXXXX); rc=0; \
	TMPDIR=$$tmp $(GO) test ./... -count=1 -timeout 60m || rc=$$?; \
	if scripts/check-leaks.sh "$$tmp"; then rm -rf "$$tmp"; else rc=1; echo "left $$tmp for inspection"; fi; \
	exit $$rc

demo: deps build
	scripts/demo.sh

# builder against BuildKit and Buildah on fixed workloads (docs/bench.md); BuildKit
# comes from $BUILDKIT_BIN, PATH, or is built from its Go module into .cache/bench
# (first run only). About 15 minutes.
bench: deps build
	$(GO) test -run XXX -bench . -timeout 30m ./bench/...

clean:
	rm -rf bin
