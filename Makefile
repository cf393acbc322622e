# terrapack — see README.md. `make demo` and `make test` are the two entry points.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
STUB_LDFLAGS := -s -w -buildid= -X main.version=$(VERSION)
STUB_SRC  := $(shell find stub payload relocate -path relocate/planner -prune -o -name '*.go' -not -name '*_test.go' -print 2>/dev/null) go.mod go.sum
ARCHES    ?= amd64 arm64

.PHONY: build stubs demo test cover test-slow test-chroot test-goinstall test-pyenv test-debsrc bench testvm clean

# bash with pipefail, so that filtering test output keeps go test's status.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# Verbose test output shows every skip with its reason; the RUN lines are noise.
QUIET_RUNS := grep --line-buffered -vE '^=== (RUN|PAUSE|CONT|NAME)'

build: stubs
	$(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o bin/terrapack ./cmd/terrapack

stubs: $(foreach a,$(ARCHES),builder/stubs/linux-$(a))

# Static, reproducible installer stubs, embedded by the builder.
builder/stubs/linux-%: $(STUB_SRC)
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(STUB_LDFLAGS)' -o $@ ./stub

demo: build
	./scripts/demo.sh

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m -v ./... | $(QUIET_RUNS)
	# The builder's pure-Go zstd fallback, used when built without cgo.
	CGO_ENABLED=0 $(GO) test -count=1 -run TestZstd ./payload/

# Statement coverage per package: the untagged tests, counting the code the
# CLI tests run inside the builder and installer processes (cmd/terrapack's
# TestMain builds them with -cover under go test -cover, and they write
# their counters into the same GOCOVERDIR). go test's own "coverage:" figure
# is dropped: each binary sees whatever the shared folder holds when it ends.
COVERDIR := $(CURDIR)/bin/cover
cover: build
	rm -rf $(COVERDIR) && mkdir -p $(COVERDIR)
	$(GO) test -count=1 -timeout 30m -cover ./... -args -test.gocoverdir=$(COVERDIR) | sed -E 's/\tcoverage: .*//'
	$(GO) tool covdata percent -i=$(COVERDIR) | sed 's/^\s*github.com\/terrapack\/terrapack\///'
	$(GO) tool covdata textfmt -i=$(COVERDIR) -o $(COVERDIR).out
	$(GO) tool cover -func=$(COVERDIR).out | tail -1

test-slow: build
	$(GO) test -count=1 -tags slow -timeout 60m -v ./... | $(QUIET_RUNS)

# Terrariums run inside a busybox-only and a Debian 11 chroot (root only;
# debootstraps Debian 11 once into /var/cache/terrapack-test).
test-chroot: build
	$(GO) test -count=1 -tags chroot -timeout 30m -v -run Chroot ./bundle/ | $(QUIET_RUNS)

# `go install .../cmd/terrapack@VERSION` from a file:// module proxy that
# serves this work tree, into an empty module cache; the installed builder
# then builds its stub and an installer (compiles everything once: minutes).
test-goinstall: build
	$(GO) test -count=1 -tags goinstall -timeout 30m -v -run TestGoInstallFromProxy ./cmd/terrapack/ | $(QUIET_RUNS)

# Every pyenv CPython on the machine (make test installs 2.7.18 and 3.13.0),
# at its printed limit, 3 bytes under it and at a 10-byte path.
test-pyenv: build
	$(GO) test -count=1 -tags pyenv -timeout 120m -v -run TestPyenvEveryLength ./cmd/terrapack/ | $(QUIET_RUNS)

# nginx (with its own pcre2 and zlib) and lua built from Debian sources with
# --prefix, installed and run at every length up to the limit (not in CI).
test-debsrc: build
	./scripts/reloc-debsrc.sh

bench: build
	./scripts/bench.sh

testvm: build
	$(GO) test -count=1 -tags testvm -timeout 80m -v -run "TestVM" ./testvm/ ./cmd/terrapack/ | $(QUIET_RUNS)

clean:
	rm -rf bin builder/stubs/linux-*
