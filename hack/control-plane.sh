#!/usr/bin/env bash
# Builds the control-plane binaries that envtest and `roster dev` run — kube-apiserver,
# kubectl and etcd — from Go modules through the Go module proxy, into bin/k8s/<version>.
# Prebuilt envtest downloads are unreachable from our machines and there is no Docker engine,
# so building from source is the one way that works everywhere (see ENVTEST notes in README).
#
# Idempotent: a binary that already reports the wanted version is kept. The last line printed
# on stdout is the output directory, so `KUBEBUILDER_ASSETS=$(hack/control-plane.sh)` works.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${CONTROL_PLANE_DIR:-$root/bin/k8s/$KUBE_VERSION}"
work="${CONTROL_PLANE_WORK:-$root/bin/.control-plane-build}"
mkdir -p "$out" "$work"

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local

log() { echo "control-plane: $*" >&2; }

# has_version BIN WANT ARGS... — true when BIN prints WANT for ARGS. The output is captured
# first: `cmd | grep -q` under pipefail fails at random on SIGPIPE.
has_version() {
  local bin="$1" want="$2"; shift 2
  [ -x "$bin" ] || return 1
  local got
  got="$("$bin" "$@" 2>&1 || true)"
  [[ "$got" == *"$want"* ]]
}

build_kube() {
  local mod="$work/kubernetes-$KUBE_VERSION"
  mkdir -p "$mod"
  if [ ! -f "$mod/go.mod" ] || ! grep -q "k8s.io/kubernetes $KUBE_VERSION" "$mod/go.mod"; then
    log "preparing module for k8s.io/kubernetes@$KUBE_VERSION"
    local staging="v0${KUBE_VERSION#v1}"
    # kubernetes requires its staging modules at v0.0.0 through replace directives, which are
    # ignored in dependencies: pin each one listed in its own go.mod to the published version.
    local gomod
    gomod="$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    {
      echo "module rosterbuild/kubernetes"
      echo
      echo "go 1.26"
      echo
      echo "require k8s.io/kubernetes $KUBE_VERSION"
      echo
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | sort -u |
        while read -r m; do echo "replace $m => $m $staging"; done
    } >"$mod/go.mod"
    cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    (cd "$mod" && go mod tidy -e >/dev/null 2>&1 || true)
  fi
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  for cmd in "$@"; do
    log "building $cmd $KUBE_VERSION (first build takes minutes)"
    (cd "$mod" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" \
      -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
}

build_etcd() {
  local mod="$work/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  if [ ! -f "$mod/go.mod" ]; then
    printf 'module rosterbuild/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$mod/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$mod/tools.go"
    (cd "$mod" && go mod tidy -e >/dev/null 2>&1 || true)
  fi
  log "building etcd $ETCD_VERSION"
  (cd "$mod" && go build -trimpath -o "$out/etcd" go.etcd.io/etcd/server/v3)
}

need=()
has_version "$out/kube-apiserver" "$KUBE_VERSION" --version || need+=(kube-apiserver)
has_version "$out/kubectl" "$KUBE_VERSION" version --client || need+=(kubectl)
[ ${#need[@]} -eq 0 ] || build_kube "${need[@]}"
has_version "$out/etcd" "${ETCD_VERSION#v}" --version || build_etcd

echo "$out"
