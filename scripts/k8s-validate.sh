#!/usr/bin/env bash
# No-cluster proof for kubernetes/: every check below runs offline.
#   1. kubernetes/stages/base/*.yaml are byte-identical copies of kubernetes/*.yaml
#      (`--sync` copies them first, after you edit kubernetes/*.yaml).
#   2. `kubectl apply -f kubernetes/` would read exactly kubernetes/*.yaml (same file walker, via
#      `kubectl label --local`), in an order that creates auth-service before tasks-deployment.
#   3. kubernetes-validate --strict (Kubernetes 1.28 and 1.37 schemas) on kubernetes/*.yaml and on
#      each stage's `kubectl kustomize` output; stage 7's Gateway API objects, which it has no
#      schema for, against their CRDs (scripts/gateway-api-validate.py).
#   4. The lesson's last stage (6-frontend) renders exactly the objects of kubernetes/*.yaml, stage 4 those
#      without the frontend (its files, and users' TRUSTED_PROXIES that names it; stage 5,
#      scale-out, builds on stage 4 and goes beyond them), and
#      manifest-check's own renderer (crates/manifest-check, whose tests check every
#      stage's wiring) renders every stage exactly as `kubectl kustomize` does.
#   5. checkov --framework kubernetes --skip-download: zero failed checks on kubernetes/ and on each
#      stage's rendering (skips only through checkov.io/skipN annotations, which carry a reason).
#   6. The Helm chart (charts/kub-network): `helm lint --strict`; `helm template` with its default
#      values renders exactly the objects of kubernetes/*.yaml, and with postgres.enabled, 3
#      replicas of users and tasks and no frontend exactly those of stage 5; those renderings, two with other
#      values (namespace, Service types, image tags, replicas, Secret names, the metrics port, a
#      generated database Secret) and values-production.yaml with the ServiceMonitor through
#      kubernetes-validate --strict and checkov; manifest-check's wiring checks on the renderings
#      that name the documented Secrets (helm-defaults, helm-postgres, helm-production).
# Renderings are kept in target/k8s-rendered/ (<stage>.yaml, helm/*.yaml) for a look.
# Exits non-zero on any failure; the last line is "k8s-validate: N passed, N failed".
# Usage: scripts/k8s-validate.sh [--sync]
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
K8S=kubernetes
BASE=$K8S/stages/base
OUT="${K8S_RENDERED_DIR:-$ROOT/target/k8s-rendered}"

BIN="$(scripts/k8s-tools.sh | tail -n 1)" || { echo "k8s-validate: tools install failed" >&2; exit 1; }
KUBECTL="$BIN/kubectl"
HELM="$BIN/helm"
CHART=charts/kub-network
KV="$BIN/kubernetes-validate"
CHECKOV="$BIN/checkov"
PY="$(dirname "$(readlink -f "$KV")")/python"   # the kubernetes-validate venv has PyYAML
# Never talk to a cluster, whatever the caller's kubeconfig says.
export KUBECONFIG=/dev/null

if [[ "${1:-}" == "--sync" ]]; then
  find "$BASE" -maxdepth 1 -name '*.yaml' ! -name kustomization.yaml -delete
  cp "$K8S"/*.yaml "$BASE"/
  echo "synced $K8S/*.yaml -> $BASE/"
fi

passed=0; failed=0; failures=()
check() { # check <name> <command...>
  local name="$1"; shift
  local log; log="$(mktemp)"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); printf 'PASS  %s\n' "$name"
    grep -E '^(passed [0-9]+, failed|[0-9]+ objects identical)' "$log" | sed 's/^/      /'
  else
    failed=$((failed + 1)); failures+=("$name"); printf 'FAIL  %s\n' "$name"
    sed 's/^/      /' "$log"
  fi
  rm -f "$log"
}

mkdir -p "$OUT"
rm -rf "$OUT"/*.yaml "$OUT"/helm
STAGES=()
for d in "$K8S"/stages/[0-9]*/; do STAGES+=("$(basename "$d")"); done

names() { # the *.yaml file names directly in $1, kustomization.yaml excepted, one a line
  local f
  for f in "$1"/*.yaml; do [[ "${f##*/}" == kustomization.yaml ]] || echo "${f##*/}"; done
}
base_in_sync() {
  local a b
  a="$(names "$K8S")"
  b="$(names "$BASE")"
  if [[ "$a" != "$b" ]]; then
    echo "files differ: kubernetes/ has [$a], base has [$b]"; echo "run: scripts/k8s-validate.sh --sync"; return 1
  fi
  local f rc=0
  for f in $a; do
    cmp -s "$K8S/$f" "$BASE/$f" || { echo "$BASE/$f differs from $K8S/$f (run: scripts/k8s-validate.sh --sync)"; rc=1; }
  done
  # every base file must be listed in the base kustomization
  for f in $a; do grep -qx "  - $f" "$BASE/kustomization.yaml" || { echo "$f missing from $BASE/kustomization.yaml"; rc=1; }; done
  return $rc
}
check "stages/base is an exact copy of kubernetes/*.yaml" base_in_sync

apply_reads_only_manifests() {
  # `kubectl label --local -f DIR` walks DIR with the same file visitor as `kubectl apply -f DIR`
  # (non-recursive, *.yaml|*.yml|*.json only) and needs no cluster.
  local got want
  got="$("$KUBECTL" label --local -f "$K8S/" kub-network/probe=1 -o name)" || return 1
  echo "kubectl apply -f kubernetes/ would send, in order:"; echo "$got" | sed 's/^/  /'
  want="$("$PY" - "$K8S" <<'PYEOF'
import glob, os, sys, yaml
plural = {"Deployment": "deployment.apps", "Service": "service",
          "NetworkPolicy": "networkpolicy.networking.k8s.io"}
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    for o in yaml.safe_load_all(open(f)):
        if o and "kind" in o and "name" in o.get("metadata", {}):
            print(f"{plural.get(o['kind'], o['kind'].lower())}/{o['metadata']['name']}")
PYEOF
)" || return 1
  [[ "$got" == "$want" ]] || { echo "expected:"; echo "$want"; return 1; }
  local svc dep
  svc="$(echo "$got" | grep -n '^service/auth-service$' | cut -d: -f1)"
  dep="$(echo "$got" | grep -n '^deployment.apps/tasks-deployment$' | cut -d: -f1)"
  [[ -n "$svc" && -n "$dep" && "$svc" -lt "$dep" ]] \
    || { echo "auth-service must be applied before tasks-deployment (injected AUTH_SERVICE_SERVICE_HOST)"; return 1; }
}
check "kubectl apply -f kubernetes/ reads exactly kubernetes/*.yaml, auth-service first" apply_reads_only_manifests

# The oldest and newest Kubernetes versions the manifests are checked against (bundled schemas).
K8S_VERSIONS=(1.28.0 1.37.0)
for v in "${K8S_VERSIONS[@]}"; do
  check "kubernetes-validate --strict -k $v kubernetes/*.yaml" "$KV" --strict -k "$v" "$K8S"/*.yaml
done

render_stage() { "$KUBECTL" kustomize "$K8S/stages/$1" > "$OUT/$1.yaml"; }
for s in "${STAGES[@]}"; do
  check "kubectl kustomize $K8S/stages/$s" render_stage "$s"
  for v in "${K8S_VERSIONS[@]}"; do
    check "kubernetes-validate --strict -k $v (stage $s)" "$KV" --strict -k "$v" "$OUT/$s.yaml"
  done
done

# Stage 7's Gateway and HTTPRoutes, which kubernetes-validate has no schema for, against the CRDs
# the test bed installs (scripts/gateway-api-validate.py).
GATEWAY_CRDS="$(scripts/gateway-api-crds.sh)" || { echo "k8s-validate: no Gateway API CRDs" >&2; exit 1; }
for s in "${STAGES[@]}"; do
  if grep -q '^apiVersion: gateway.networking.k8s.io/' "$OUT/$s.yaml"; then
    check "Gateway API objects strict-valid against their CRDs (stage $s)" \
      "$PY" scripts/gateway-api-validate.py "$GATEWAY_CRDS" "$OUT/$s.yaml"
  fi
done

same_objects() { # same_objects <name A> <name B> <files A...> -- <files B...>: same objects, any order
  "$PY" - "$@" <<'PYEOF'
import difflib, json, sys, yaml
name_a, name_b, args = sys.argv[1], sys.argv[2], sys.argv[3:]
split = args.index("--")
def objects(files):
    return sorted(json.dumps(o, sort_keys=True) for f in files for o in yaml.safe_load_all(open(f)) if o)
a, b = objects(args[:split]), objects(args[split + 1:])
if a != b:
    print("\n".join(difflib.unified_diff(a, b, name_a, name_b, lineterm="")))
    sys.exit(1)
print(f"{len(a)} objects identical")
PYEOF
}
# The lesson's last stage (6-frontend) is kubernetes/*.yaml; stage 4 is that without the frontend,
# and stage 5 (scale-out) builds on stage 4. Stage 7 (the Gateway) goes beyond the lesson.
FINAL_STAGE=6-frontend
check "the lesson's last stage ($FINAL_STAGE) == kubernetes/*.yaml" \
  same_objects kubernetes/ "$FINAL_STAGE" "$K8S"/*.yaml -- "$OUT/$FINAL_STAGE.yaml"
dns_stage_is_final_without_frontend() {
  # kubernetes/*.yaml without frontend-*.yaml, and without users' TRUSTED_PROXIES, which names
  # the frontend's Pods (stages/without-frontend drops it with them).
  "$PY" - "$K8S" >"$OUT/kubernetes-without-frontend.yaml" <<'PYEOF' || return 1
import glob, os, sys, yaml
objects = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    if os.path.basename(f).startswith("frontend-"):
        continue
    for o in yaml.safe_load_all(open(f)):
        if o and o["kind"] == "Deployment" and o["metadata"]["name"] == "users-deployment":
            for c in o["spec"]["template"]["spec"]["containers"]:
                c["env"] = [v for v in c.get("env", []) if v["name"] != "TRUSTED_PROXIES"]
        if o:
            objects.append(o)
yaml.safe_dump_all(objects, sys.stdout)
PYEOF
  same_objects "kubernetes/ without the frontend" 4-pod-to-pod-dns \
    "$OUT/kubernetes-without-frontend.yaml" -- "$OUT/4-pod-to-pod-dns.yaml"
}
check "stage 4-pod-to-pod-dns == kubernetes/*.yaml without the frontend" dns_stage_is_final_without_frontend

offline_renderer_agrees() {
  local log; log="$(mktemp)"
  MANIFEST_CHECK_KUBECTL_RENDERED="$OUT" cargo test --quiet --locked -p manifest-check \
    --test stages -- --exact renders_like_kubectl >"$log" 2>&1
  local rc=$?; cat "$log"
  grep -q 'test result: ok. 1 passed' "$log" || rc=1
  rm -f "$log"; return $rc
}
check "manifest-check renders every stage exactly as kubectl kustomize" offline_renderer_agrees

checkov_zero_failed() { # checkov_zero_failed <-d DIR | -f FILE>
  local json; json="$(mktemp)"
  "$CHECKOV" --framework kubernetes --skip-download --quiet --compact -o json "$@" >"$json" 2>/dev/null
  "$PY" - "$json" <<'PYEOF'
import json, sys
raw = open(sys.argv[1]).read().strip()
d = json.loads(raw) if raw else {}
d = d[0] if isinstance(d, list) else d
s = d.get("summary")
if not s:
    print("no checkov summary (nothing scanned?):", raw[:300]); sys.exit(1)
print(f"passed {s['passed']}, failed {s['failed']}, skipped {s['skipped']}, parsing errors {s['parsing_errors']}")
for c in d.get("results", {}).get("failed_checks", []):
    print(f"  {c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}")
sys.exit(1 if s["failed"] or s["parsing_errors"] or not s["passed"] else 0)
PYEOF
  local rc=$?; rm -f "$json"; return $rc
}
check "checkov --framework kubernetes --skip-download -d kubernetes/" checkov_zero_failed -d "$K8S/"
for s in "${STAGES[@]}"; do
  check "checkov (stage $s)" checkov_zero_failed -f "$OUT/$s.yaml"
done

check "helm lint --strict $CHART" "$HELM" lint --strict "$CHART"
render_chart() { # render_chart <name> <helm template args...>
  local name="$1"; shift
  mkdir -p "$OUT/helm"; "$HELM" template kub-network "$CHART" "$@" > "$OUT/helm/$name.yaml"
}
check "helm template $CHART (default values)" render_chart helm-defaults -n default
check "helm template $CHART (other values)" render_chart helm-other -n lesson \
  --set users.serviceType=NodePort,tasks.serviceType=ClusterIP,images.tasks.tag=v2,auth.replicas=2,jwtSecret.name=my-secret \
  --set callerKeys.users.name=my-users-key,metrics.port=9100
check "helm template $CHART (postgres.enabled, 3 replicas, no frontend)" render_chart helm-postgres -n default \
  --set postgres.enabled=true,users.replicas=3,tasks.replicas=3,frontend.enabled=false
check "helm template $CHART (postgres.enabled, other values)" render_chart helm-postgres-other -n lesson \
  --set postgres.enabled=true,postgres.secret.generate=true,postgres.storage=5Gi,postgres.storageClassName=fast \
  --set users.replicas=2,tasks.replicas=4,users.serviceType=NodePort
check "helm template $CHART (values-production.yaml, ServiceMonitor)" render_chart helm-production -n default \
  -f "$CHART/values-production.yaml" --set metrics.serviceMonitor.enabled=true
check "helm template $CHART (gateway.enabled, postgres.enabled, autoscaling)" render_chart helm-gateway -n default \
  --set postgres.enabled=true,gateway.enabled=true,users.autoscaling.enabled=true,tasks.autoscaling.enabled=true
check "helm template $CHART (gateway.enabled, other values)" render_chart helm-gateway-other -n lesson \
  --set gateway.enabled=true,gateway.className=eg,gateway.hosts[0]=a.example,gateway.hosts[1]=b.example \
  --set gateway.ports.http=80,gateway.ports.https=443,gateway.tls.secretName=edge-tls,network.exposeRoute=false \
  --set gateway.tests.caConfigMap.name=,frontend.enabled=false
check "helm template $CHART (ingress.enabled, other values)" render_chart helm-ingress -n lesson \
  --set ingress.enabled=true,ingress.className=traefik,ingress.trustedProxies[0]=10.0.0.0/8 \
  --set ingress.annotations.example\\.com/hsts=on,users.externalTrafficPolicy=Local
# The chart's Gateway objects beside stage 7's implementation (traefik/), for manifest-check.
"$KUBECTL" kustomize "$K8S/stages/7-gateway/traefik" > "$OUT/traefik.yaml"
cat "$OUT/helm/helm-gateway.yaml" <(echo ---) "$OUT/traefik.yaml" > "$OUT/helm/helm-gateway-traefik.yaml"
same_as_gateway_stage() {
  # Stage 7 without its implementation (traefik/), the chart without its `helm test` objects
  # (component test); the order of a container's env aside (kustomize puts a patch's new variable
  # first; only $(VAR) references depend on it, and TRUSTED_PROXIES has none).
  "$PY" - "$OUT/7-gateway.yaml" "$OUT/traefik.yaml" "$OUT/helm/helm-gateway.yaml" <<'PYEOF'
import difflib, json, sys, yaml
def objects(path):
    return [o for o in yaml.safe_load_all(open(path)) if o]
def key(o):
    return (o["kind"], o["metadata"]["name"])
def normal(o):
    for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        c["env"] = sorted(c.get("env", []), key=lambda v: v["name"])
    return json.dumps(o, sort_keys=True, indent=1)
implementation = {key(o) for o in objects(sys.argv[2])}
stage = sorted(normal(o) for o in objects(sys.argv[1]) if key(o) not in implementation)
chart = sorted(normal(o) for o in objects(sys.argv[3])
               if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "test")
if stage != chart:
    print("\n".join(difflib.unified_diff("\n".join(stage).splitlines(), "\n".join(chart).splitlines(),
                                         "7-gateway without traefik/", "helm template", lineterm="")))
    sys.exit(1)
print(f"{len(stage)} objects identical")
PYEOF
}
check "helm template (gateway.enabled, postgres.enabled, autoscaling) == stage 7-gateway without traefik/" \
  same_as_gateway_stage
check "helm template (default values) == kubernetes/*.yaml" \
  same_objects kubernetes/ "helm template" "$K8S"/*.yaml -- "$OUT/helm/helm-defaults.yaml"
check "helm template (postgres.enabled, 3 replicas, no frontend) == stage 5-scale-out" \
  same_objects 5-scale-out "helm template" "$OUT/5-scale-out.yaml" -- "$OUT/helm/helm-postgres.yaml"
helm_renderings_wired() {
  local log; log="$(mktemp)"
  MANIFEST_CHECK_HELM_RENDERED="$OUT/helm" cargo test --quiet --locked -p manifest-check \
    --test helm -- --exact helm_renderings_are_wired >"$log" 2>&1
  local rc=$?; cat "$log"
  grep -q 'test result: ok. 1 passed' "$log" || rc=1
  rm -f "$log"; return $rc
}
check "manifest-check's wiring checks on helm-defaults, helm-postgres, helm-production, helm-gateway (with traefik/)" \
  helm_renderings_wired
for r in helm-defaults helm-other helm-postgres helm-postgres-other helm-production helm-gateway \
    helm-gateway-other helm-ingress; do
  for v in "${K8S_VERSIONS[@]}"; do
    check "kubernetes-validate --strict -k $v ($r)" "$KV" --strict -k "$v" "$OUT/helm/$r.yaml"
  done
  if grep -q '^apiVersion: gateway.networking.k8s.io/' "$OUT/helm/$r.yaml"; then
    check "Gateway API objects strict-valid against their CRDs ($r)" \
      "$PY" scripts/gateway-api-validate.py "$GATEWAY_CRDS" "$OUT/helm/$r.yaml"
  fi
  check "checkov ($r)" checkov_zero_failed -f "$OUT/helm/$r.yaml"
done

echo
echo "rendered: ${OUT#"$ROOT"/}/{$(IFS=,; echo "${STAGES[*]}")}.yaml and helm/"
if ((failed)); then printf 'failed: %s\n' "${failures[@]}"; fi
echo "k8s-validate: $passed passed, $failed failed"
((failed == 0))
