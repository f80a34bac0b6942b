#!/usr/bin/env bash
# Prints Roster's install (config/default) with the manager's image set to IMAGE, without
# touching the checkout: a throwaway kustomize overlay with an `images:` entry, rendered by
# kubectl's built-in kustomize. `make render IMG=…` prints it; `make deploy IMG=…` applies it.
#
# usage: hack/render.sh KUBECTL IMAGE   (IMAGE: registry/roster:tag or registry/roster@sha256:…)
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 KUBECTL IMAGE (e.g. $0 kubectl registry.example.com/roster:v0.1.0)" >&2
  exit 2
fi
kubectl="$1" image="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The image reference, split the way kustomize's `images:` wants it. Anything that is not a
# plain reference is refused before kustomize sees it.
if [[ ! "$image" =~ ^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$ ]]; then
  echo "render: IMG=\"$image\" is not an image reference like registry.example.com/roster:v0.1.0 or registry.example.com/roster@sha256:<64 hex>" >&2
  exit 2
fi
name="$image" tag="" digest=""
if [[ "$name" == *@* ]]; then
  digest="${name#*@}" name="${name%%@*}"
fi
# A colon after the last slash starts the tag; one before it belongs to a registry port.
last="${name##*/}"
if [[ "$last" == *:* ]]; then
  tag="${last#*:}" name="${name%:*}"
fi
if [[ "${name##*/}" == *:* || ( -n "$tag" && ! "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ) ]]; then
  echo "render: IMG=\"$image\" has more than one tag" >&2
  exit 2
fi

# kustomize refuses absolute paths to a base, so the overlay lives inside the checkout
# (bin/ is git-ignored) and refers to config/default relatively.
mkdir -p "$root/bin"
overlay="$(mktemp -d "$root/bin/.render.XXXXXX")"
trap 'rm -rf "$overlay"' EXIT
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "- ../../config/default"
  echo "images:"
  echo "- name: ghcr.io/rosterhq/roster"
  echo "  newName: $name"
  if [ -n "$tag" ]; then echo "  newTag: \"$tag\""; fi
  if [ -n "$digest" ]; then echo "  digest: $digest"; fi
} >"$overlay/kustomization.yaml"
"$kubectl" kustomize "$overlay"
