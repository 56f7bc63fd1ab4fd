#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, for the lesson's end-to-end test: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (containerd + runc, CNI
# bridge), kube-proxy (iptables mode), and dnsmasq answering the cluster DNS names. Everything
# comes from Debian bookworm: Kubernetes v1.20.2 is compiled from Debian's `kubernetes` source
# package with Debian's Go. No registry is used: images go in with `load-images`. Needs root.
#
#   scripts/k8s-local.sh build              compile once (~15 min on 2 cores); cached, then a no-op
#   scripts/k8s-local.sh up                 start it all and wait for the node (~20 s)
#   scripts/k8s-local.sh load-images IMG..  `docker save` the images into the cluster's containerd
#   scripts/k8s-local.sh kubectl ARGS..     kubectl 1.20 with the cluster's admin kubeconfig
#   scripts/k8s-local.sh env                prints `export KUBECONFIG=…`
#   scripts/k8s-local.sh down               stop it all; undo iptables rules, bridge, mounts, sysctls
#
# Where things live (outside the repository):
#   $K8S_LOCAL_CACHE  (default ${XDG_CACHE_HOME:-~/.cache}/kub-network/k8s-v1.20.2): bin/ with the
#                     compiled binaries; reused by every later run, delete it to rebuild.
#   $K8S_LOCAL_STATE  (default $K8S_LOCAL_CACHE/state): a running cluster's data, logs and
#                     kubeconfig. `down` deletes the cluster's data; containerd's images stay.
# What it runs into on sandboxed machines (each handled below):
#   - no CAP_SYS_RESOURCE: containerd with restrict_oom_score_adj, so runc never writes a
#     negative oom_score_adj;
#   - kubelet refuses a loopback node IP: the node is `localhost`, the API server prefers Hostname;
#   - a dockerd on the machine sets FORWARD's policy to DROP: ACCEPT rules for the pod bridge;
#   - no CoreDNS image: dnsmasq answers <svc>.<ns>.svc.cluster.local from the Services, re-read
#     every 2 s;
#   - 1.20 does not yet count net.ipv4.ip_unprivileged_port_start as a safe sysctl (1.22 does):
#     kubelet allows it explicitly. The manifests target current Kubernetes; the cluster adapts.
set -euo pipefail

K8S_VERSION=v1.20.2
DEBIAN_SOURCE_VERSION=1.20.5+really1.20.2-1.1+deb12u1   # bookworm's `kubernetes` source package
RECIPE=2                                                # bump when the build steps change
CACHE=$(realpath -m "${K8S_LOCAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kub-network/k8s-$K8S_VERSION}")
STATE=$(realpath -m "${K8S_LOCAL_STATE:-$CACHE/state}")
BIN=$CACHE/bin
LOGS=$STATE/logs
API_PORT=16443
BRIDGE=kubnet0
POD_CIDR=10.244.0.0/24
DNS_IP=10.244.0.1
SERVICE_CIDR=10.96.0.0/16
KUBECONFIG_FILE=$STATE/admin.kubeconfig
RUNTIME_PACKAGES=(etcd-server containerd runc containernetworking-plugins iptables dnsmasq-base openssl)
BUILD_PACKAGES=(golang-go golang-github-modern-go-reflect2-dev gcc libc6-dev)
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# Stopped in this order by `down`.
PROCESSES=(dns-sync dnsmasq kube-proxy kubelet scheduler controller-manager apiserver etcd containerd)

log() { printf '[k8s-local] %s\n' "$*" >&2; }
die() { printf '[k8s-local] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (kubelet, iptables, mounts)"

ctr_() { ctr -a "$STATE/containerd/containerd.sock" -n k8s.io "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } \
    || die "apt-get install ${missing[*]} failed"
}

built() { [[ -f $BIN/.stamp && $(cat "$BIN/.stamp") == "$K8S_VERSION $DEBIAN_SOURCE_VERSION recipe $RECIPE" ]]; }

# --------------------------------------------------------------------------------------------
build() {
  if built; then log "already built: $BIN"; return; fi
  local started=$SECONDS work=$CACHE/build
  apt_install "${RUNTIME_PACKAGES[@]}" "${BUILD_PACKAGES[@]}"
  rm -rf "$work"; mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/sources.d"
  # deb-src entries for the machine's own Debian mirrors, in a private apt folder: the system's
  # apt configuration is left as it is.
  local src
  for src in /etc/apt/sources.list.d/*.sources; do
    [[ -f $src ]] && sed -E 's/^Types:.*/Types: deb-src/' "$src" >"$work/apt/sources.d/$(basename "$src")"
  done
  [[ -f /etc/apt/sources.list ]] && sed -nE 's/^deb (.*)/deb-src \1/p' /etc/apt/sources.list >"$work/apt/sources.d/system.list"
  cat >"$work/apt/apt.conf" <<EOF
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$work/apt/sources.d";
Dir::State::Lists "$work/apt/lists";
Dir::Cache "$work/apt/cache";
EOF
  log "downloading Debian's kubernetes $DEBIAN_SOURCE_VERSION source package"
  APT_CONFIG=$work/apt/apt.conf apt-get -o APT::Sandbox::User=root update -q >/dev/null
  (cd "$work" && APT_CONFIG=$work/apt/apt.conf apt-get -o APT::Sandbox::User=root source --download-only -q "kubernetes=$DEBIAN_SOURCE_VERSION" >/dev/null 2>&1) \
    || die "apt-get source kubernetes=$DEBIAN_SOURCE_VERSION failed (no deb-src for bookworm?)"
  local tree=$work/kubernetes-${K8S_VERSION#v} patch
  tar -C "$work" -xzf "$work/kubernetes_${DEBIAN_SOURCE_VERSION%%-*}.orig.tar.gz"
  tar -C "$work" -xJf "$work/kubernetes_$DEBIAN_SOURCE_VERSION.debian.tar.xz"
  while read -r patch; do
    [[ -n $patch && $patch != \#* ]] && patch -d "$tree" -p1 -s <"$work/debian/patches/$patch"
  done <"$work/debian/patches/series"
  # The vendored reflect2 1.0.1 breaks on Go >= 1.18; Debian's 1.0.2 does not.
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  # Kubernetes 1.20 builds in GOPATH mode.
  mkdir -p "$work/gopath/src/k8s.io" "$BIN"
  ln -sfn "$tree" "$work/gopath/src/k8s.io/kubernetes"
  # Debian's Go 1.19 (golang-go), not a newer Go that may come first on PATH: 1.20's tree builds
  # with the Go of its day.
  [[ -x /usr/lib/go-1.19/bin/go ]] || die "no /usr/lib/go-1.19/bin/go (Debian's golang-go)"
  export PATH=/usr/lib/go-1.19/bin:$PATH
  export GOPATH=$work/gopath GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS="-p=$(nproc)" GOTOOLCHAIN=local
  export GOCACHE=$CACHE/gocache
  cd "$GOPATH/src/k8s.io/kubernetes"
  log "generating pkg/generated/openapi (not shipped in the source tarball)"
  go build -o "$work/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local inputs
  inputs=$(find -H . \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune -o -type f -name '*.go' -print \
    | xargs grep -l '^// *+k8s:openapi-gen=' | sed 's|^./staging/src|vendor|; s|^\./||' \
    | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' | xargs -n1 dirname | LC_ALL=C sort -u \
    | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  "$work/openapi-gen" --logtostderr -i "$inputs" -p k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$work/openapi-violations.report" 2>/dev/null
  local ldflags="-s -w" pkg component t
  for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
  done
  for component in "${COMPONENTS[@]}"; do
    t=$SECONDS
    nice go build -tags selinux,notest -ldflags "$ldflags" -o "$BIN/$component" "./cmd/$component"
    log "built $component in $((SECONDS - t)) s"
  done
  gcc -Os -static -DVERSION=v3.2 -o "$BIN/pause" build/pause/linux/pause.c
  cd /; rm -rf "$work"
  echo "$K8S_VERSION $DEBIAN_SOURCE_VERSION recipe $RECIPE" >"$BIN/.stamp"
  log "built in $((SECONDS - started)) s into $BIN ($(du -sh "$BIN" | cut -f1))"
}

# --------------------------------------------------------------------------------------------
start() { # name command...: in the background, logging to $LOGS/name.log
  local name=$1; shift
  nohup "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}
running() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

kubeconfig() { # file token
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: k8s-local, cluster: {server: "https://127.0.0.1:$API_PORT", insecure-skip-tls-verify: true}}]
users: [{name: user, user: {token: $2}}]
contexts: [{name: k8s-local, context: {cluster: k8s-local, user: user}}]
current-context: k8s-local
EOF
}

# A one-layer image from a directory (the pause container), imported into containerd.
import_directory() { # ref dir entrypoint
  local ref=$1 dir=$2 entrypoint=$3 t layer config
  t=$(mktemp -d)
  tar --numeric-owner -C "$dir" -cf "$t/layer.tar" .
  layer=$(sha256sum "$t/layer.tar" | cut -d' ' -f1)
  mkdir "$t/$layer"; mv "$t/layer.tar" "$t/$layer/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["%s"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$layer" >"$t/config.json"
  config=$(sha256sum "$t/config.json" | cut -d' ' -f1); mv "$t/config.json" "$t/$config.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config" "$ref" "$layer" >"$t/manifest.json"
  tar -C "$t" -cf "$t.tar" manifest.json "$config.json" "$layer"
  ctr_ images import "$t.tar" >/dev/null
  rm -rf "$t" "$t.tar"
}

up() {
  built || die "not built yet: run \`$0 build\` first (~15 min, once)"
  apt_install "${RUNTIME_PACKAGES[@]}"
  if running apiserver; then log "already up"; echo "export KUBECONFIG=$KUBECONFIG_FILE"; return; fi
  local started=$SECONDS
  mkdir -p "$STATE"/{pki,etcd,containerd,cni,dns} "$LOGS"
  # kubelet and kube-proxy change these; `down` puts them back. Kept from a failed `up` too.
  local key
  [[ -f $STATE/sysctl.orig ]] || for key in vm.overcommit_memory vm.panic_on_oom kernel.panic \
      kernel.panic_on_oops net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables; do
    echo "$key=$(sysctl -n "$key" 2>/dev/null || echo)"
  done >"$STATE/sysctl.orig"
  [[ -f $STATE/pki/sa.key ]] || {
    openssl genrsa -out "$STATE/pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2>/dev/null
  }
  local secret; secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  cat >"$STATE/pki/tokens.csv" <<EOF
admin-$secret,admin,admin,"system:masters"
node-$secret,system:node:localhost,node,"system:nodes"
kcm-$secret,system:kube-controller-manager,kcm
scheduler-$secret,system:kube-scheduler,scheduler
proxy-$secret,system:kube-proxy,proxy
EOF
  kubeconfig "$KUBECONFIG_FILE" "admin-$secret"
  local who
  for who in node kcm scheduler proxy; do kubeconfig "$STATE/$who.kubeconfig" "$who-$secret"; done

  start etcd etcd --name local --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster local=http://127.0.0.1:23800 --listen-metrics-urls http://127.0.0.1:23810
  start apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:23790 \
    --bind-address=127.0.0.1 --secure-port=$API_PORT --insecure-port=0 --advertise-address=127.0.0.1 \
    --cert-dir="$STATE/pki/apiserver" --token-auth-file="$STATE/pki/tokens.csv" \
    --authorization-mode=Node,RBAC --service-account-key-file="$STATE/pki/sa.pub" \
    --service-account-signing-key-file="$STATE/pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=$SERVICE_CIDR \
    --allow-privileged=true --enable-admission-plugins=NodeRestriction \
    --kubelet-preferred-address-types=Hostname,InternalIP
  local _
  for _ in $(seq 90); do kubectl_ get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done
  kubectl_ get --raw /readyz >/dev/null 2>&1 || die "the API server did not become ready; see $LOGS/apiserver.log"
  start controller-manager "$BIN/kube-controller-manager" --kubeconfig="$STATE/kcm.kubeconfig" \
    --authentication-kubeconfig="$STATE/kcm.kubeconfig" --authorization-kubeconfig="$STATE/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --port=0 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$STATE/pki/sa.key" --controllers='*,-nodeipam'
  start scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --port=0 --leader-elect=false

  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$CACHE/containerd"
state = "$STATE/containerd/state"
[grpc]
  address = "$STATE/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "k8s.gcr.io/pause:3.2"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni"
EOF
  cat >"$STATE/cni/10-kubnet.conflist" <<EOF
{"cniVersion":"0.4.0","name":"kubnet","plugins":[
 {"type":"bridge","bridge":"$BRIDGE","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$STATE/cni-ipam","ranges":[[{"subnet":"$POD_CIDR"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
EOF
  start containerd containerd --config "$STATE/containerd/config.toml"
  for _ in $(seq 30); do [[ -S $STATE/containerd/containerd.sock ]] && break; sleep 1; done
  local pause; pause=$(mktemp -d); cp "$BIN/pause" "$pause/pause"
  import_directory k8s.gcr.io/pause:3.2 "$pause" /pause; rm -rf "$pause"

  iptables -I FORWARD 1 -i $BRIDGE -m comment --comment kub-network-k8s-local -j ACCEPT
  iptables -I FORWARD 1 -o $BRIDGE -m comment --comment kub-network-k8s-local -j ACCEPT

  start kubelet "$BIN/kubelet" --kubeconfig="$STATE/node.kubeconfig" --hostname-override=localhost \
    --address=127.0.0.1 --read-only-port=0 --healthz-bind-address=127.0.0.1 --anonymous-auth=true \
    --authorization-mode=AlwaysAllow --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet-pki" \
    --container-runtime=remote --container-runtime-endpoint="unix://$STATE/containerd/containerd.sock" \
    --image-service-endpoint="unix://$STATE/containerd/containerd.sock" --cgroup-driver=cgroupfs \
    --fail-swap-on=false --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --eviction-hard='memory.available<100Mi,nodefs.available<1%,imagefs.available<1%' \
    --volume-stats-agg-period=10s \
    --cluster-dns=$DNS_IP --cluster-domain=cluster.local \
    --allowed-unsafe-sysctls=net.ipv4.ip_unprivileged_port_start
  start kube-proxy "$BIN/kube-proxy" --kubeconfig="$STATE/proxy.kubeconfig" --hostname-override=localhost \
    --proxy-mode=iptables --cluster-cidr=$POD_CIDR --bind-address=127.0.0.1 \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 --conntrack-max-per-core=0
  local ready=""
  for _ in $(seq 120); do kubectl_ get nodes 2>/dev/null | grep -q ' Ready' && { ready=1; break; }; sleep 1; done
  [[ -n $ready ]] || die "the node did not become Ready; see $LOGS/kubelet.log"

  # Cluster DNS: dnsmasq on the bridge's address (the kubelet's --cluster-dns), answering
  # <service>.<namespace>.svc.cluster.local from a hosts file re-synced from the Services.
  ip link show $BRIDGE >/dev/null 2>&1 || ip link add $BRIDGE type bridge
  ip addr show dev $BRIDGE | grep -q "inet $DNS_IP/" || ip addr add "$DNS_IP/${POD_CIDR#*/}" dev $BRIDGE
  ip link set $BRIDGE up
  : >"$STATE/dns/hosts"
  start dnsmasq dnsmasq --keep-in-foreground --port=53 --listen-address=$DNS_IP --bind-dynamic \
    --no-resolv --no-hosts --addn-hosts="$STATE/dns/hosts" --local=/cluster.local/ --user=root
  start dns-sync bash -c "while sleep 2; do
    '$BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get svc -A --no-headers \
      -o custom-columns=N:.metadata.name,NS:.metadata.namespace,IP:.spec.clusterIP 2>/dev/null \
      | awk '\$3 != \"None\" {print \$3, \$1\".\"\$2\".svc.cluster.local\"}' >'$STATE/dns/hosts.new'
    cmp -s '$STATE/dns/hosts.new' '$STATE/dns/hosts' \
      || { mv '$STATE/dns/hosts.new' '$STATE/dns/hosts'; kill -HUP \$(cat '$STATE/dnsmasq.pid'); }
  done"
  log "up in $((SECONDS - started)) s; Kubernetes $("$BIN/kubectl" version --client --short 2>/dev/null | awk '{print $3}')"
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
}

# --------------------------------------------------------------------------------------------
load_images() {
  running containerd || die "the cluster is not up"
  local image
  for image in "$@"; do
    docker image inspect "$image" >/dev/null 2>&1 || die "no image $image in Docker (build it first)"
    docker save "$image" | ctr_ images import - >/dev/null
    log "loaded $image"
  done
}

stop_process() { # name: SIGTERM, then wait until it is gone
  local name=$1 pid state _
  [[ -f $STATE/$name.pid ]] || return 0
  pid=$(cat "$STATE/$name.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 60); do
      state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
      [[ -z $state || $state == Z ]] && break
      sleep 0.25
    done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$STATE/$name.pid"
}

down() {
  local started=$SECONDS
  if running kubelet && running apiserver; then
    # Orphan the Pods and delete them with a 1 s grace period, rather than each Pod's own.
    kubectl_ delete deploy,sts,ds,cronjob,job,rs --all -A --cascade=orphan --timeout=30s >/dev/null 2>&1 || true
    kubectl_ delete pod --all -A --grace-period=1 --wait=false >/dev/null 2>&1 || true
    local _
    for _ in $(seq 60); do [[ -z $(kubectl_ get pods -A --no-headers 2>/dev/null) ]] && break; sleep 1; done
  fi
  # Containers the kubelet had no time to remove.
  if running containerd; then
    local task
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$task" >/dev/null 2>&1 || true; done
    sleep 1
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$task" >/dev/null 2>&1 || true; done
    for task in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$task" >/dev/null 2>&1 || true; done
  fi
  local name
  for name in "${PROCESSES[@]}"; do stop_process "$name"; done
  set +e +o pipefail   # best effort from here on: undo whatever exists
  local table chain rule
  for table in filter nat mangle; do
    iptables -t $table -S 2>/dev/null | grep -E '^-A .*(KUBE-|CNI-|kub-network-k8s-local)' | sed 's/^-A/-D/' \
      | while read -r rule; do eval iptables -t $table "$rule" 2>/dev/null; done
    for chain in $(iptables -t $table -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do iptables -t $table -F "$chain"; done
    for chain in $(iptables -t $table -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do iptables -t $table -X "$chain"; done
  done
  ip link del $BRIDGE 2>/dev/null
  local mounts=("$STATE/" "$CACHE/containerd/")
  for name in "${mounts[@]}"; do
    mount | awk -v prefix="$name" 'index($3, prefix) == 1 {print $3}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  done
  for name in /run/netns/cni-*; do [[ -e $name ]] && { umount "$name" 2>/dev/null; rm -f "$name"; }; done
  for name in /sys/fs/cgroup/*/kubepods; do [[ -d $name ]] && find "$name" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  if [[ -f $STATE/sysctl.orig ]]; then
    while IFS== read -r name rule; do [[ -n $rule ]] && sysctl -qw "$name=$rule"; done <"$STATE/sysctl.orig"
    rm -f "$STATE/sysctl.orig"
  fi
  rm -rf "$STATE/etcd" "$STATE/kubelet" "$STATE/kubelet-pki" "$STATE/cni-ipam" "$STATE/containerd/state"
  log "down in $((SECONDS - started)) s"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  load-images) shift; load_images "$@" ;;
  kubectl) shift; kubectl_ "$@" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE" ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
