# signagent — build, test, run, bench. See README.md.
GO      ?= go
GOFLAGS ?=
export CGO_ENABLED := 0
export PATH := $(HOME)/go/bin:$(PATH)

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
SIM     := $(wildcard cmd/signstash-sim/main.go)

.PHONY: all build test run bench cross vet lint clean fuzz race test-windows dist dist-check package-test
all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/signagent ./cmd/signagent
ifneq ($(SIM),)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/signstash-sim ./cmd/signstash-sim
endif

# The whole suite: vet, cross-builds for the service platforms, every test.
test: vet lint cross
	$(GO) test -count=1 -timeout 20m ./...

# staticcheck, pinned; built from the module cache into bin/, not a
# dependency of the product. The Windows build is checked too: code used
# only by one platform shows up as unused in the other.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	GOBIN=$(CURDIR)/bin $(GO) install $(STATICCHECK)
	bin/staticcheck ./...
	GOOS=windows bin/staticcheck ./...

vet:
	$(GO) vet ./...

# Every product package must build for the service platforms (the bench
# programs under internal/bench are Linux tools).
PRODUCT = $(shell $(GO) list ./... | grep -v /internal/bench)
cross:
	@echo "cross-build: windows/amd64, darwin/arm64"
	@GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null $(PRODUCT)
	@GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null $(PRODUCT)

# The Windows build under Wine: unit tests of the packages with Windows
# code, the agent end to end on C:\ folders, the Windows service. Needs
# wine64 and gcc-mingw-w64-x86-64 (Debian 12); see README "Windows".
test-windows:
	./scripts/wine/test-windows.sh

# Runs the agent in the foreground on config.example.toml: local backend,
# development certificate, folders under ./var/. Drop a PDF in var/inbox.
run: build
	@mkdir -p var/inbox var/outbox var/error var/archive var/data
	./bin/signagent run --config config.example.toml

bench: build
	./scripts/bench.sh

# Every fuzz target, one after another, for FUZZTIME each
# (make fuzz FUZZTIME=5m). `make test` runs their seeds only. Minimizing
# each new input for the default minute stalls the targets that verify
# signatures; a few seconds keeps them exploring.
FUZZTIME ?= 60s
FUZZMINIMIZE ?= 5s
FUZZ = ./signer/pades:FuzzRead ./signer/pades:FuzzSign ./signer/cms:FuzzVerify \
	./signer/xades:FuzzC14N ./signstash/internal/wire:FuzzLexer ./config:FuzzLines \
	./signstash:FuzzStreamZip ./signstash:FuzzComparePaths
fuzz:
	@set -e; for t in $(FUZZ); do \
		echo "fuzz: $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $${t%%:*}; \
	done

# The packages that run goroutines, under the race detector. It needs cgo
# for the test binaries only: the product stays CGO_ENABLED=0.
RACE = ./agent ./watcher ./ledger ./monitor ./signstash ./signstash/sim ./signer ./cmd/signagent
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m $(RACE)

# Release artifacts of the last commit, reproducibly, into dist/: binaries,
# Debian packages, the MSI (with wixl and msitools), an SBOM for each,
# SHA256SUMS. See README "Install". dist-check builds twice and compares.
dist:
	./scripts/dist.sh $(VERSION)

dist-check:
	./scripts/dist-check.sh $(VERSION)

# The packages tested: reproducible, SBOMs, the MSI's tables and files; as
# root, the .deb installed, upgraded and purged on this machine (CI's is
# thrown away). Builds the last commit three times: a few minutes.
package-test:
	./scripts/package-test.sh

clean:
	rm -rf bin
