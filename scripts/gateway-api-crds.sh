#!/usr/bin/env bash
# Prints the folder of the Gateway API's CRDs, standard channel, of the module version pinned in
# test-bed/gateway-api (downloaded into Go's module cache the first time; checked against its
# go.sum). Used by scripts/k8s-local.sh (which installs them) and scripts/k8s-validate.sh
# (which validates stage 7's Gateway and HTTPRoutes against them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../test-bed/gateway-api"
dir=$(GOFLAGS=-mod=readonly GOTOOLCHAIN=local go mod download -json sigs.k8s.io/gateway-api \
  | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -d $dir/config/crd/standard ]] || { echo "gateway-api-crds: no config/crd/standard in '$dir'" >&2; exit 1; }
echo "$dir/config/crd/standard"
