# Build and test entry points. The README names `make install` and `make test`.
GO      ?= go
BIN     ?= $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/stix-run/stix/internal/stixcmd.Version=$(VERSION) -X github.com/stix-run/stix/internal/agent.Version=$(VERSION)

.PHONY: build install test bench fmt vet

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

install: build
	install -d $(HOME)/.local/bin
	install -m 0755 $(BIN)/stix $(BIN)/stix-agent $(HOME)/.local/bin/

# scripts/test-deps.sh installs what the tests need (as root, with apt-get) and names what it cannot. Files a
# failing test keeps (the dashboard's browser screenshots: t.ArtifactDir) land under test-artifacts/_artifacts.
test: build
	scripts/test-deps.sh
	$(GO) vet ./...
	mkdir -p $(CURDIR)/test-artifacts
	$(GO) test -count=1 -timeout 25m -artifacts -outputdir $(CURDIR)/test-artifacts ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
