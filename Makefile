# atrium — two commands: `make run` starts the microservices topology on
# :8080, `make test` sets up what a fresh machine lacks and runs every test.

GO        ?= go
BIN       := bin
ATRIUM    := $(BIN)/atrium
ADDR      ?= 127.0.0.1:8080
REPLICAS  ?=
STATICCHECK_VERSION := v0.8.2
DEADCODE_VERSION    := v0.52.0
export GOTOOLCHAIN := local

.PHONY: run monolith build test test-consul setup lint bench fuzz clean docs-assets compare cluster-bench

## run: build and start the gateway plus every service as its own process
run: build
	$(ATRIUM) up --addr $(ADDR) $(if $(REPLICAS),--replicas $(REPLICAS))

## monolith: the same API from one process
monolith: build
	$(ATRIUM) monolith --addr $(ADDR)

## build: bin/atrium (every server role) and bin/atrium-compare (the comparison, apart so that its load
## generator and charts are not linked into the server)
build:
	$(GO) build -o $(BIN)/ ./cmd/atrium ./cmd/atrium-compare

## test: unit, conformance, contract, fuzz-corpus, docs-page and end-to-end tests, with the race detector
test: setup
	ATRIUM_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 9m ./...

# Debian packages the tests use, as command:package: gcc for the race
# detector, Chromium for the docs page check, curl for the walkthrough, nginx
# and redis-server for the proxy and session tests, nats-server for the
# broker's test against a server of its own, etcd for the registry's
# conformance on etcd, PostgreSQL for the stores' conformance on it (the
# tests initdb clusters of their own; pg_ctlcluster is on the PATH, the
# server programs are not) — installed without starting their services.
TEST_PACKAGES := gcc:gcc chromium:chromium curl:curl nginx:nginx-light redis-server:redis-server nats-server:nats-server etcd:etcd-server \
	pg_ctlcluster:postgresql

## setup: everything a fresh machine needs for the tests (Debian packages need root)
setup:
	$(GO) mod download
	@missing=""; for p in $(TEST_PACKAGES); do c=$${p%%:*}; command -v $$c >/dev/null || [ -x /usr/sbin/$$c ] || missing="$$missing $${p##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		norc=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; norc=1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; status=$$?; \
		[ -z "$$norc" ] || rm -f /usr/sbin/policy-rc.d; exit $$status; \
	fi
	@# Redocly, Prism and a client generated with openapi-typescript, pinned in openapi/package-lock.json,
	@# check the served document and real answers from outside.
	@missing=""; for b in prism redocly openapi-typescript tsc; do [ -x openapi/node_modules/.bin/$$b ] || missing=1; done; \
	if [ -n "$$missing" ] || [ openapi/package-lock.json -nt openapi/node_modules/.package-lock.json ]; then \
		echo "installing the npm packages of openapi/package-lock.json"; \
		cd openapi && npm ci --no-audit --no-fund --loglevel=error; \
	fi

## docs-assets: copy the docs page's assets from the pinned swagger-ui-dist package
docs-assets:
	cd openapi && npm ci --no-audit --no-fund
	cp openapi/node_modules/swagger-ui-dist/swagger-ui-bundle.js openapi/node_modules/swagger-ui-dist/swagger-ui.css \
		openapi/node_modules/swagger-ui-dist/favicon-32x32.png openapi/docs/
	cp openapi/node_modules/swagger-ui-dist/LICENSE openapi/docs/swagger-ui-license.txt

## test-consul: the registry's conformance suite, and two gateways sharing it, on a real Consul agent, which
## Consul's module source builds into bin/consul (no Debian package; a download is not possible here). It
## fails, never skips, without it.
test-consul: setup $(BIN)/consul
	PATH="$(abspath $(BIN)):$$PATH" ATRIUM_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -tags consul ./registry/consul/
	PATH="$(abspath $(BIN)):$$PATH" ATRIUM_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -tags consul -run 'TestTwoGatewaysShareOne' ./cmd/atrium/

$(BIN)/consul: registry/consul/agent/go.mod
	cd registry/consul/agent && $(GO) build -o $(abspath $(BIN))/consul github.com/hashicorp/consul

## lint: gofmt, go vet, staticcheck, the build on macOS and Windows, a tidy go.mod and no dead code, as CI runs them
lint: $(BIN)/staticcheck $(BIN)/deadcode
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) vet ./...
	$(GO) mod tidy -diff
	@dead=$$($(BIN)/deadcode -test ./...); test -z "$$dead" || (echo "unreachable code:"; echo "$$dead"; exit 1)

$(BIN)/staticcheck:
	GOBIN=$(abspath $(BIN)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BIN)/deadcode:
	GOBIN=$(abspath $(BIN)) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)

## bench: the benchmarks, with allocations, then the hot path under load: product pages over random ids at
## capacity in both modes (CPU per page and per downstream call) and the API proxy beside nginx (not part of make test)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(BIN)/atrium-compare --scenarios saturation,proxy --duration 8s --workers 64 --out $(BIN)/bench/hot-path.md
	@sed -n '/^## 6/,/^Reproduce/p' $(BIN)/bench/hot-path.md

## compare: run both architectures under the same load and write docs/comparison.md (about 4 minutes)
COMPARE_FLAGS ?=
compare: build
	$(BIN)/atrium-compare --atrium $(ATRIUM) --out docs/comparison.md $(COMPARE_FLAGS)

## cluster-bench: kill a cluster worker every second for 20 s under load, and measure what a second worker buys
cluster-bench:
	ATRIUM_CLUSTER_SECONDS=20 ATRIUM_CLUSTER_BENCH=1 $(GO) test -count=1 -v -run 'TestCluster|TestBalancerRetries' ./cmd/atrium

## fuzz: fuzz the gateway's request handling, the id validators, the partition schemes and search queries for a while (FUZZTIME, default 60s each)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzGatewayNever5xx -fuzztime $(FUZZTIME) ./gateway
	$(GO) test -run '^$$' -fuzz FuzzValidatorsMatchTheirPatterns -fuzztime $(FUZZTIME) ./internal/domain
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./partition
	$(GO) test -run '^$$' -fuzz FuzzQuery -fuzztime $(FUZZTIME) ./services/search/searchhttp

clean:
	rm -rf $(BIN) data
