#!/usr/bin/env bash
# Builds the test bed's infrastructure from Go modules: each folder of test-bed/ is a small
# wrapper module (go.mod and go.sum pinned and committed) that requires one upstream project;
# this script compiles its programs with the flags upstream's own build uses. Nothing is copied
# into the repository and nothing is downloaded but modules.
#
#   scripts/test-bed-build.sh [MODULE...]   build the modules that changed (default: all of them)
#   scripts/test-bed-build.sh --bin         print the folder of the binaries
#
# MODULE is a folder of test-bed/: kubernetes etcd containerd runc cni-plugins coredns
# kube-router metrics-server compose jaeger. A module is rebuilt when its go.mod or go.sum (or this script's recipe)
# changes, and skipped otherwise: a stamp beside the binaries records what built them.
# Output: $TEST_BED_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/kub-network/test-bed), bin/ and
# cni/ (the CNI plugins), and gocache/, Go's build cache, so a changed module rebuilds quickly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BED=$ROOT/test-bed
RECIPE=1   # bump when the flags below change
CACHE=$(realpath -m "${TEST_BED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kub-network/test-bed}")
BIN=$CACHE/bin
CNI_BIN=$CACHE/cni
ALL=(kubernetes etcd containerd runc cni-plugins coredns kube-router metrics-server compose jaeger)

log() { printf '[test-bed-build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ ${1:-} == --bin ]] && { echo "$BIN"; exit 0; }

# The machine's Go, never a toolchain download: every module here builds with Go 1.26.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" GOCACHE=$CACHE/gocache
command -v go >/dev/null || die "no go on PATH"

version() { (cd "$BED/$1" && go list -m -f '{{.Version}}' "$2"); }
released() { (cd "$BED/$1" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$2"); }

# go_build MODULE OUT CGO "GO FLAGS" "LDFLAGS" NAME=PACKAGE...
go_build() {
  local module=$1 out=$2 cgo=$3 flags=$4 ldflags=$5 spec t; shift 5
  mkdir -p "$out"
  for spec in "$@"; do
    t=$SECONDS
    # shellcheck disable=SC2086  # $flags is a list of go flags
    (cd "$BED/$module" && CGO_ENABLED=$cgo nice go build -trimpath $flags -ldflags "-s -w $ldflags" \
      -o "$out/${spec%%=*}" "${spec#*=}")
    log "built ${spec%%=*} in $((SECONDS - t)) s"
  done
}

build_module() {
  local module=$1 v
  case $module in
    kubernetes)
      v=$(version kubernetes k8s.io/kubernetes)
      local minor=${v#v1.} date pkg ldflags=""
      minor=${minor%%.*}
      date=$(released kubernetes k8s.io/kubernetes)
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
      done
      go_build kubernetes "$BIN" 0 "-tags=selinux,notest,grpcnotrace" "$ldflags" \
        kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
        kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
        kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler kubelet=k8s.io/kubernetes/cmd/kubelet \
        kube-proxy=k8s.io/kubernetes/cmd/kube-proxy kubectl=k8s.io/kubernetes/cmd/kubectl
      # The Pod sandbox's pause process, from the same release's source.
      (cd "$BED/kubernetes" && go mod download k8s.io/kubernetes)
      local src; src=$(cd "$BED/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
      gcc -Os -static -DVERSION="$v" -o "$BIN/pause" "$src/build/pause/linux/pause.c"
      ;;
    etcd)
      go_build etcd "$BIN" 0 "" "" etcd=go.etcd.io/etcd/server/v3 etcdctl=go.etcd.io/etcd/etcdctl/v3 ;;
    containerd)
      v=$(version containerd github.com/containerd/containerd/v2)
      local stamp="-X github.com/containerd/containerd/v2/version.Version=$v"
      stamp+=" -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"
      # As containerd's Makefile: the daemon and ctr with cgo, the shim static without gRPC.
      go_build containerd "$BIN" 1 "-tags=urfave_cli_no_docs,no_btrfs,no_devmapper,no_zfs" "$stamp" \
        containerd=github.com/containerd/containerd/v2/cmd/containerd ctr=github.com/containerd/containerd/v2/cmd/ctr
      go_build containerd "$BIN" 0 "-tags=urfave_cli_no_docs,no_grpc" "$stamp" \
        containerd-shim-runc-v2=github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 ;;
    runc)
      # cgo for nsexec; seccomp so that Pods get the RuntimeDefault profile (Pod Security
      # "restricted" asks for it). runc reads its version from its embedded VERSION file.
      go_build runc "$BIN" 1 "-buildmode=pie -tags=seccomp,urfave_cli_no_docs" "" runc=github.com/opencontainers/runc ;;
    cni-plugins)
      v=$(version cni-plugins github.com/containernetworking/plugins)
      go_build cni-plugins "$CNI_BIN" 0 "" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$v" \
        bridge=github.com/containernetworking/plugins/plugins/main/bridge \
        host-local=github.com/containernetworking/plugins/plugins/ipam/host-local \
        loopback=github.com/containernetworking/plugins/plugins/main/loopback \
        portmap=github.com/containernetworking/plugins/plugins/meta/portmap ;;
    coredns)
      v=$(version coredns github.com/coredns/coredns)
      go_build coredns "$BIN" 0 "-tags=grpcnotrace" "-X github.com/coredns/coredns/coremain.GitCommit=$v" \
        coredns=github.com/coredns/coredns ;;
    kube-router)
      v=$(version kube-router github.com/cloudnativelabs/kube-router/v2)
      go_build kube-router "$BIN" 0 "" "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$v \
-X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=$(released kube-router github.com/cloudnativelabs/kube-router/v2)" \
        kube-router=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router ;;
    metrics-server)
      v=$(version metrics-server sigs.k8s.io/metrics-server)
      go_build metrics-server "$BIN" 0 "" "-X k8s.io/client-go/pkg/version.gitVersion=$v \
-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/client-go/pkg/version.buildDate=$(released metrics-server sigs.k8s.io/metrics-server)" \
        metrics-server=sigs.k8s.io/metrics-server/cmd/metrics-server ;;
    compose)
      v=$(version compose github.com/docker/compose/v5)
      go_build compose "$BIN" 0 "" "-X github.com/docker/compose/v5/internal.Version=$v" \
        docker-compose=github.com/docker/compose/v5/cmd ;;
    jaeger)
      v=$(version jaeger github.com/jaegertracing/jaeger)
      go_build jaeger "$BIN" 0 "" "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$v \
-X github.com/jaegertracing/jaeger/internal/version.date=$(released jaeger github.com/jaegertracing/jaeger)" \
        jaeger=github.com/jaegertracing/jaeger/cmd/jaeger ;;
    *) die "unknown module $module (one of: ${ALL[*]})" ;;
  esac
}

modules=("$@"); ((${#modules[@]})) || modules=("${ALL[@]}")
mkdir -p "$BIN" "$CNI_BIN"
for module in "${modules[@]}"; do
  [[ -f $BED/$module/go.mod ]] || die "no module test-bed/$module"
  want="recipe $RECIPE $(cat "$BED/$module/go.mod" "$BED/$module/go.sum" | sha256sum | cut -c1-16)"
  stamp=$BIN/.stamp-$module
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then log "$module: up to date"; continue; fi
  # gcc for cgo and the static pause; libseccomp for runc.
  "$ROOT/scripts/apt-install.sh" gcc libc6-dev libseccomp-dev pkg-config
  started=$SECONDS
  log "$module: building (go $(go env GOVERSION))"
  build_module "$module"
  echo "$want" >"$stamp"
  log "$module: built in $((SECONDS - started)) s"
done
