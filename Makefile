# atrium — two commands: `make run` starts the microservices topology on
# :8080, `make test` sets up what a fresh machine lacks and runs every test.

GO        ?= go
BIN       := bin
ATRIUM    := $(BIN)/atrium
ADDR      ?= 127.0.0.1:8080
REPLICAS  ?=
STATICCHECK_VERSION := v0.8.2
export GOTOOLCHAIN := local

.PHONY: run monolith build test setup lint bench fuzz clean

## run: build and start the gateway plus every service as its own process
run: build
	$(ATRIUM) up --addr $(ADDR) $(if $(REPLICAS),--replicas $(REPLICAS))

## monolith: the same API from one process
monolith: build
	$(ATRIUM) monolith --addr $(ADDR)

build:
	$(GO) build -o $(ATRIUM) ./cmd/atrium

## test: unit, conformance, fuzz-corpus and end-to-end tests, with the race detector
test: setup
	$(GO) test -race -count=1 -timeout 9m ./...

## setup: everything a fresh machine needs for the tests
setup:
	$(GO) mod download
	@command -v gcc >/dev/null || (apt-get update && apt-get install -y gcc) # the race detector needs cgo

## lint: gofmt, go vet and staticcheck, as CI runs them
lint: $(BIN)/staticcheck
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

$(BIN)/staticcheck:
	GOBIN=$(abspath $(BIN)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: the benchmarks, with allocations (not part of make test)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: fuzz the gateway's request handling for a while (FUZZTIME, default 60s)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzGatewayNever5xx -fuzztime $(FUZZTIME) ./gateway

clean:
	rm -rf $(BIN) data
