# Roster — `make run` starts everything locally (roster dev); `make test` runs every test
# against a real kube-apiserver + etcd (built from Go modules by hack/control-plane.sh) and a
# real PostgreSQL.

SHELL := /usr/bin/env bash -o pipefail
export GOTOOLCHAIN := local
export GOWORK := off

BIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
ROSTER := $(BIN)/roster
GO_TEST_FLAGS ?=
RUN_ARGS ?=

.PHONY: all
all: build

##@ Development

.PHONY: run
run: control-plane build ## Run Roster locally: control plane, SCIM server, controllers (roster dev).
	$(ROSTER) dev $(RUN_ARGS)

.PHONY: test
test: control-plane manifests generate ## Run every test against real components.
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
build: ## Build bin/roster.
	go build -o $(ROSTER) .

# PLUGIN_DIR is where install-plugin puts kubectl-roster: $GOBIN when set, else ~/.local/bin.
# kubectl finds plugins on PATH (kubectl plugin list).
PLUGIN_DIR ?= $(or $(shell go env GOBIN),$(HOME)/.local/bin)

.PHONY: install-plugin
install-plugin: ## Build bin/kubectl-roster and install it into $(PLUGIN_DIR) (kubectl roster).
	go build -o $(BIN)/kubectl-roster .
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

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-z-]+:.*##/ {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
