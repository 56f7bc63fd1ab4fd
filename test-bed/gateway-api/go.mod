// The Gateway API's CustomResourceDefinitions (standard channel) come from this pinned module:
// scripts/k8s-local.sh applies $(go mod download -json).Dir/config/crd/standard/*.yaml. Nothing
// is compiled from it.
module kub-network-rs/test-bed/gateway-api

go 1.26.8

require sigs.k8s.io/gateway-api v1.6.3
