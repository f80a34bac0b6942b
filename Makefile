# Roster — `make run` starts everything locally (roster dev); `make test` runs every test
# against a real kube-apiserver + etcd (built from Go modules by hack/control-plane.sh) and a
# real PostgreSQL.

SHELL := /usr/bin/env bash -o pipefail
export GOTOOLCHAIN := local
export GOWORK := off

BIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
PROMTOOL := $(BIN)/promtool
ROSTER := $(BIN)/roster
GO_TEST_FLAGS ?=
RUN_ARGS ?=

# What `roster version` prints and the image's labels carry, from git. The date is the commit's
# (not the clock's), so two builds of one commit are byte-identical. Override on the command
# line when building outside a git checkout, e.g. make image VERSION=v0.1.0 COMMIT=… BUILD_DATE=….
# SOURCE_DATE_EPOCH (reproducible-builds.org), when set, wins over the commit date.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
ifdef SOURCE_DATE_EPOCH
BUILD_DATE ?= $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
else
BUILD_DATE ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD 2>/dev/null || echo 1970-01-01T00:00:00Z)
endif
VERSION_PKG := github.com/rosterhq/roster/internal/version
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(BUILD_DATE)
# Static and path-free: the same binary runs on the host (make run) and in the image.
GO_BUILD := CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)'

# The image: where `make image` writes it, for which platform (the build machine's unless
# set, e.g. IMAGE_PLATFORM=linux/arm64), and its name in the tarball. `make render` and
# `make deploy` want IMG set to the image you pushed.
IMAGE_DIR := $(BIN)/image
IMAGE_PLATFORM ?= linux/$(shell go env GOARCH)
IMG ?= ghcr.io/rosterhq/roster:$(VERSION)

.PHONY: all
all: build

##@ Development

.PHONY: run
run: control-plane build ## Run Roster locally: control plane, SCIM server, controllers (roster dev).
	$(ROSTER) dev $(RUN_ARGS)

.PHONY: test
test: control-plane manifests generate promtool ## Run every test against real components.
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)" go test $(GO_TEST_FLAGS) -timeout 40m ./...

BENCH_ARGS ?=

.PHONY: bench
bench: control-plane ## Measure SCIM against the local control plane and print a table (docs/benchmarks.md).
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)" go run ./hack/bench $(BENCH_ARGS)

.PHONY: bench-go
bench-go: control-plane ## Run the Go benchmarks (go test -bench).
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)" go test -run '^$$' -bench . -benchmem ./...

.PHONY: control-plane
control-plane: ## Build kube-apiserver, etcd and kubectl into bin/ (once; ~6 min cold).
	@hack/control-plane.sh >/dev/null

.PHONY: build
build: ## Build bin/roster (static; `roster version` says what it was built from).
	$(GO_BUILD) -o $(ROSTER) .

##@ Image and deployment

.PHONY: image
image: ## Build the OCI image and its SBOM into bin/image/ (no Docker engine needed).
	GOOS=$(word 1,$(subst /, ,$(IMAGE_PLATFORM))) GOARCH=$(word 2,$(subst /, ,$(IMAGE_PLATFORM))) \
		$(GO_BUILD) -o $(IMAGE_DIR)/roster-$(subst /,-,$(IMAGE_PLATFORM)) .
	go run ./hack/image --binary $(IMAGE_DIR)/roster-$(subst /,-,$(IMAGE_PLATFORM)) \
		--version '$(VERSION)' --commit '$(COMMIT)' --date '$(BUILD_DATE)' --out $(IMAGE_DIR) --tag '$(IMG)'

KUBECTL ?= $(shell [ -x $(BIN)/k8s/v1.37.2/kubectl ] && echo $(BIN)/k8s/v1.37.2/kubectl || echo kubectl)

# render and deploy want the image you pushed, named on the command line: the default IMG
# names an image nobody has pushed.
.PHONY: render
render: require-img ## Print config/default with the image set to IMG=registry/roster:tag (applies nothing).
	@hack/render.sh "$(KUBECTL)" "$(IMG)"

.PHONY: deploy
deploy: require-img ## Install config/default with the image IMG=registry/roster:tag into kubectl's current cluster.
	@mkdir -p $(BIN)
	hack/render.sh "$(KUBECTL)" "$(IMG)" >$(BIN)/roster-install.yaml
	$(KUBECTL) apply --server-side --field-manager=roster-install -f $(BIN)/roster-install.yaml

.PHONY: require-img
require-img:
	@if [ "$(origin IMG)" = file ]; then echo "Set IMG to the image you pushed, e.g. make $(MAKECMDGOALS) IMG=registry.example.com/roster:$(VERSION)" >&2; exit 2; fi

# PLUGIN_DIR is where install-plugin puts kubectl-roster: $GOBIN when set, else ~/.local/bin.
# kubectl finds plugins on PATH (kubectl plugin list).
PLUGIN_DIR ?= $(or $(shell go env GOBIN),$(HOME)/.local/bin)

.PHONY: install-plugin
install-plugin: ## Build bin/kubectl-roster and install it into $(PLUGIN_DIR) (kubectl roster).
	$(GO_BUILD) -o $(BIN)/kubectl-roster .
	install -d $(PLUGIN_DIR)
	install -m 0755 $(BIN)/kubectl-roster $(PLUGIN_DIR)/kubectl-roster
	@case ":$$PATH:" in *":$(PLUGIN_DIR):"*) ;; *) echo "note: $(PLUGIN_DIR) is not on PATH: add it so kubectl finds kubectl-roster";; esac

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from kubebuilder markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths=./controllers/... paths=./webhook/... paths=./internal/... output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: fmt vet
fmt:
	gofmt -w $$(git ls-files '*.go')
vet:
	go vet ./...

$(CONTROLLER_GEN):
	GOBIN=$(BIN)/.tmp go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/.tmp/controller-gen $(CONTROLLER_GEN)

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool into bin/ (once; a few minutes cold), for the alert and dashboard tests.

# From its own module (hack/tools), so the main go.mod stays free of Prometheus's dependency
# tree; rebuilt when that module's versions change.
$(PROMTOOL): hack/tools/go.mod hack/tools/go.sum
	cd hack/tools && CGO_ENABLED=0 go build -trimpath -o $(PROMTOOL) \
	  -ldflags "-s -w -X github.com/prometheus/common/version.Version=$$(go list -m -f {{.Version}} github.com/prometheus/prometheus)" \
	  github.com/prometheus/prometheus/cmd/promtool

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-z-]+:.*##/ {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
