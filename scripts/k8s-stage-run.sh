#!/usr/bin/env bash
# Runs every rendered stage of kubernetes/ with the real binaries, without a cluster.
# For each target/k8s-rendered/<stage>.json (written by scripts/k8s-validate.sh; final.json is
# `kubectl apply -f kubernetes/` in its file order), in a fresh network namespace:
#   - every Service gets a ClusterIP on lo and its DNS names in the namespace's /etc/hosts;
#   - every container of every Deployment runs as its binary (target/debug), as its runAsUser,
#     with exactly the env the kubelet would give it (Service variables included), its emptyDir
#     volumes as tmpfs under a read-only /app;
#   - signup -> login -> POST /tasks -> GET /tasks through users-service and tasks-service
#     (stage 1: signup must answer 503 JSON: auth is not there yet), then SIGTERM -> exit 0.
# Details: scripts/k8s-stage-run.py. Needs root (ip netns, mount). Prints PASS/FAIL per stage and
# "k8s-stage-run: N passed, N failed"; exits non-zero on any failure.
# Usage: scripts/k8s-stage-run.sh [stage ...]     (default: every <stage>.json, then final)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
RENDERED="${K8S_RENDERED_DIR:-$ROOT/target/k8s-rendered}"
HELPER="$ROOT/scripts/k8s-stage-run.py"
LOGS="$ROOT/target/k8s-stage-run"
PY="$(command -v python3)"

[[ "$(id -u)" == 0 ]] || { echo "k8s-stage-run: needs root (ip netns, mount)" >&2; exit 1; }
for tool in ip setpriv mount; do
  command -v "$tool" >/dev/null || { echo "k8s-stage-run: $tool not found" >&2; exit 1; }
done

if (($#)); then STAGES=("$@"); else
  STAGES=()
  for f in "$RENDERED"/*.json; do
    [[ -e "$f" ]] || continue
    s="$(basename "$f" .json)"; [[ "$s" == final ]] || STAGES+=("$s")
  done
  [[ -e "$RENDERED/final.json" ]] && STAGES+=(final)
fi
((${#STAGES[@]})) || { echo "k8s-stage-run: no $RENDERED/*.json: run scripts/k8s-validate.sh first" >&2; exit 1; }

now_ms() { date +%s%3N; }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }
started=$(now_ms)
echo "building auth-api, users-api, tasks-api (target/debug)"
cargo build --locked -q -p auth-api -p users-api -p tasks-api || { echo "k8s-stage-run: build failed" >&2; exit 1; }

# The images' WORKDIR /app must exist as a mount point; the tmpfs mounts on it live only in each
# stage's own mount namespace (ip netns exec), so the host's /app stays empty.
CREATED_APP=0
if [[ ! -e /app ]]; then mkdir /app && CREATED_APP=1; fi

NETNS=()
cleanup_ns() { # cleanup_ns <ns>: end what still runs in it (only our processes), delete it
  local ns="$1" pid
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "/etc/netns/$ns"
}
cleanup() {
  local ns
  for ns in "${NETNS[@]}"; do cleanup_ns "$ns"; done
  if ((CREATED_APP)); then rmdir /app 2>/dev/null; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$LOGS"; mkdir -p "$LOGS"
passed=0; failed=0; results=()
i=0
for stage in "${STAGES[@]}"; do
  i=$((i + 1))
  json="$RENDERED/$stage.json"
  echo
  echo "== stage $stage ($json)"
  if [[ ! -f "$json" ]]; then
    echo "  FAIL $json missing: run scripts/k8s-validate.sh first"
    failed=$((failed + 1)); results+=("FAIL  $stage"); continue
  fi
  ns="kubnet-$$-$i"
  NETNS+=("$ns")
  t0=$(now_ms)
  rc=1
  if ip netns add "$ns" && mkdir -p "/etc/netns/$ns" \
     && "$PY" "$HELPER" hosts "$json" > "/etc/netns/$ns/hosts" \
     && ip netns exec "$ns" ip link set lo up; then
    ip netns exec "$ns" "$PY" "$HELPER" run "$json" --stage "$stage" \
      --bin-dir "$ROOT/target/debug" --log-dir "$LOGS/$stage"
    rc=$?
  fi
  cleanup_ns "$ns"
  secs=$(secs_since "$t0")
  if ((rc == 0)); then
    passed=$((passed + 1)); results+=("PASS  $stage (${secs}s)")
  else
    failed=$((failed + 1)); results+=("FAIL  $stage (${secs}s, logs in ${LOGS#"$ROOT"/}/$stage/)")
  fi
  echo "${results[-1]}"
done

echo
printf '%s\n' "${results[@]}"
echo "total $(secs_since "$started")s (build included)"
echo "k8s-stage-run: $passed passed, $failed failed"
((failed == 0))
