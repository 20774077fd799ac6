# Onramp developer targets. Services (PostgreSQL, Redis, Chromium) come from
# scripts/services: whatever answers at DATABASE_URL / REDIS_URL, else private
# servers under .data/.

GO ?= go

# Packages that import the in-process Temporal server are very slow to build
# with -race (~7 min cold on 2 cores), so they are tested without it: e2e,
# temporaldev and cmd by name, and any other package depending on the server.
HEAVY := ^$(shell $(GO) list -m)/(e2e|temporaldev|cmd)(/|$$)| heavy$$
# Lists every package as "path" or "path heavy" (only packages that exist).
PKGS := $(GO) list -f '{{.ImportPath}}{{range .Deps}}{{if or (eq . "go.temporal.io/server/temporal") (eq . "go.temporal.io/server/temporaltest")}} heavy{{end}}{{end}}' ./...

# workflowcheck is the Temporal SDK's determinism checker, pinned.
WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0

.PHONY: dev test services vet workflowcheck bench fmt clean

## dev: start services, then Onramp with in-process Temporal on :8080
dev: services
	$(GO) run ./cmd/onramp dev

## test: services, vet, workflowcheck, race tests of the light packages, then the heavy ones
test: services
	scripts/services chromium
	$(GO) vet ./...
	$(GO) run $(WORKFLOWCHECK) ./workflows/...
	$(GO) test -race -count=1 $$($(PKGS) | grep -Ev '$(HEAVY)')
	heavy=$$($(PKGS) | grep -E '$(HEAVY)' | cut -d' ' -f1); \
	if [ -n "$$heavy" ]; then $(GO) test -count=1 -timeout 30m $$heavy; fi

## services: make sure PostgreSQL and Redis answer
services:
	scripts/services up

## vet: go vet every package
vet:
	$(GO) vet ./...

## workflowcheck: the SDK's determinism check of the workflow code
workflowcheck:
	$(GO) run $(WORKFLOWCHECK) ./workflows/...

## bench: run the benchmarks (no tests)
bench: services
	$(GO) test -run '^$$' -bench . ./...

## fmt: gofmt every package
fmt:
	$(GO) fmt ./...

## clean: stop the private services and remove .data/ (dev Temporal state too)
clean:
	scripts/services down
	rm -rf .data
