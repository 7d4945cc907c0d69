# The README's test command is `make test`; CI (.ci/run) calls exactly that.
GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 60s

.PHONY: test test-e2e test-helm reference test-short lint bench fuzz build image

## test: every test, with the race detector; starts a loopback redis-server for the tests that need one
test:
	GO="$(GO)" PKGS="$(PKGS)" bash scripts/test.sh

## test-e2e: only the suites against the real OP Stack clients (module e2e/, built against op-geth)
test-e2e:
	cd e2e && GONOSUMDB=github.com/ethereum-optimism $(GO) test -tags opgeth -count=1 -v ./...

## reference: only the differential suite against op-interop-filter (built from the pinned module;
## INTEROPGATE_REFERENCE_BIN=path uses a binary you have; INTEROPGATE_AGREEMENT_TABLE=file writes the table)
reference:
	cd e2e && GONOSUMDB=github.com/ethereum-optimism $(GO) test -tags opgeth -count=1 -v -run 'TestReference' ./...

## test-helm: only the Helm chart's tests (module helm/, Helm SDK)
test-helm:
	cd helm && $(GO) test -count=1 -v ./...

## test-short: the fast tests only, no race detector (for the edit-compile loop)
test-short:
	$(GO) test -short $(PKGS)

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: gofmt, go vet and staticcheck (fetched from the Go module proxy at a pinned version)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	cd e2e && GONOSUMDB=github.com/ethereum-optimism $(GO) vet -tags opgeth ./...
	cd helm && $(GO) vet ./...

## bench: every benchmark, 5 runs each (compare medians, or feed the output to benchstat)
bench:
	$(GO) test -run '^$$' -bench . -count 5 $(PKGS)

## fuzz: each fuzz target for FUZZTIME
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseMessages$$' -fuzztime $(FUZZTIME) ./accesslist
	$(GO) test -run '^$$' -fuzz '^FuzzScanRaw$$' -fuzztime $(FUZZTIME) ./accesslist
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/jsonrpc
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCheckParams$$' -fuzztime $(FUZZTIME) ./filterapi
	$(GO) test -run '^$$' -fuzz '^FuzzRawTxs$$' -fuzztime $(FUZZTIME) ./ingress
	$(GO) test -run '^$$' -fuzz '^FuzzPrepare$$' -fuzztime $(FUZZTIME) ./ingress

## build: the binary, in ./bin
build:
	$(GO) build -o bin/interopgate ./cmd/interopgate

IMAGE   ?= interopgate:dev
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)

## image: the container image (needs Docker); see Dockerfile
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .
