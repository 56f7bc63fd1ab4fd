#!/usr/bin/env bash
# Runs the Postman collection (postman/kub-network.postman_collection.json) with newman and
# fails when any of its assertions fails.
#
#   scripts/postman-run.sh                      build and start dev-stack on free loopback ports,
#                                               run the collection against it, stop it
#   scripts/postman-run.sh --users http://localhost:8080 --tasks http://localhost:8000
#                                               run against a stack that is already up
#                                               (docker compose, minikube service … --url)
#
# Options:
#   --users URL, --tasks URL   the running users-api and tasks-api (both, or neither)
#   --skip PATHS               don't call these paths (comma-separated), for a build that predates
#                              them: --skip /openapi.json, --skip /network,/openapi.json,/metrics
#                              (also POSTMAN_SKIP=PATHS); they are counted as skipped, not passed
#   --ready-timeout SECONDS    how long to wait for /readyz of both services (default 60)
#   -h, --help                 this text
#   -- ARGS…                   anything after -- goes to `newman run` as it is
#
# newman comes from npm into target/newman/ (gitignored, reused by later runs); it needs Node 16
# or later. Knobs: NEWMAN_VERSION (default 6.2.2), NEWMAN_DIR (default target/newman).
# Exit status: 0 when every assertion passed, 1 when one failed or the run could not be made,
# 2 on a usage error. The last line is "postman: N passed, N failed[, N skipped]".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NEWMAN_VERSION="${NEWMAN_VERSION:-6.2.2}"
NEWMAN_DIR="${NEWMAN_DIR:-target/newman}"
COLLECTION=postman/kub-network.postman_collection.json
ENVIRONMENT=postman/compose.postman_environment.json

users_url="" tasks_url="" skip_paths="${POSTMAN_SKIP:-}" ready_timeout=60
newman_extra=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { printf 'postman-run: %s\n' "$*" >&2; exit 1; }
log() { printf '[postman-run %3ds] %s\n' "$SECONDS" "$*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --users) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; users_url="${2%/}"; shift 2 ;;
    --users=*) users_url="${1#*=}"; users_url="${users_url%/}"; shift ;;
    --tasks) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; tasks_url="${2%/}"; shift 2 ;;
    --tasks=*) tasks_url="${1#*=}"; tasks_url="${tasks_url%/}"; shift ;;
    --skip) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; skip_paths="$2"; shift 2 ;;
    --skip=*) skip_paths="${1#*=}"; shift ;;
    --ready-timeout) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; ready_timeout="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; newman_extra=("$@"); break ;;
    *) printf 'postman-run: unknown argument %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ -n "$users_url" && -z "$tasks_url" ]] || [[ -z "$users_url" && -n "$tasks_url" ]]; then
  printf 'postman-run: give both --users and --tasks, or neither (to start dev-stack)\n' >&2
  exit 2
fi

# --- newman ------------------------------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then die "needs node (16 or later) and npm"; fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
(( node_major >= 16 )) || die "newman $NEWMAN_VERSION needs Node 16 or later; this is $(node --version)"

NEWMAN="$NEWMAN_DIR/node_modules/.bin/newman"
installed="$("$NEWMAN" --version 2>/dev/null || true)"
if [[ "$installed" != "$NEWMAN_VERSION" ]]; then
  log "installing newman@$NEWMAN_VERSION into $NEWMAN_DIR"
  mkdir -p "$NEWMAN_DIR"
  npm install --prefix "$NEWMAN_DIR" --no-audit --no-fund --loglevel=error \
    "newman@$NEWMAN_VERSION" >&2 || die "npm install newman@$NEWMAN_VERSION failed"
  installed="$("$NEWMAN" --version)"
fi
log "newman $installed, node $(node --version)"

# --- the stack ---------------------------------------------------------------------------------
work="$(mktemp -d)"
stack_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n "$stack_pid" ]] && kill -0 "$stack_pid" 2>/dev/null; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$stack_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three distinct free loopback ports, chosen by the kernel.
free_ports() {
  node -e '
    const net = require("net");
    const servers = [0, 1, 2, 3].map(() => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, "127.0.0.1", () => ok(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });'
}

ready() { curl -fsS --max-time 2 -o /dev/null "$1/readyz" 2>/dev/null; }

if [[ -z "$users_url" ]]; then
  log "building dev-stack"
  cargo build --locked -p dev-stack >&2 || die "cargo build -p dev-stack failed"
  read -r users_port tasks_port auth_port page_port < <(free_ports)
  users_url="http://127.0.0.1:$users_port"
  tasks_url="http://127.0.0.1:$tasks_port"
  log "starting dev-stack: users $users_port, tasks $tasks_port, auth $auth_port (log: $work/dev-stack.log)"
  USERS_PORT="$users_port" TASKS_PORT="$tasks_port" AUTH_PORT="$auth_port" PAGE_PORT="$page_port" \
    DEV_STACK_DATA="$work/data" RUST_LOG="${RUST_LOG:-warn}" \
    target/debug/dev-stack >"$work/dev-stack.log" 2>&1 &
  stack_pid=$!
fi

log "waiting for $users_url/readyz and $tasks_url/readyz"
deadline=$((SECONDS + ready_timeout))
until ready "$users_url" && ready "$tasks_url"; do
  if [[ -n "$stack_pid" ]] && ! kill -0 "$stack_pid" 2>/dev/null; then
    cat "$work/dev-stack.log" >&2
    die "dev-stack exited before it was ready"
  fi
  if (( SECONDS >= deadline )); then
    [[ -z "$stack_pid" ]] || cat "$work/dev-stack.log" >&2
    die "users-api or tasks-api not ready after ${ready_timeout}s ($users_url, $tasks_url)"
  fi
  sleep 0.2
done

# --- the run -----------------------------------------------------------------------------------
log "newman run $COLLECTION (users_url=$users_url tasks_url=$tasks_url skip_paths=${skip_paths:-none})"
report="$NEWMAN_DIR/last-report.json"   # kept for a look after the run
rm -f "$report"
set +e
"$NEWMAN" run "$COLLECTION" \
  --environment "$ENVIRONMENT" \
  --env-var "users_url=$users_url" \
  --env-var "tasks_url=$tasks_url" \
  --env-var "skip_paths=$skip_paths" \
  --reporters cli,json --reporter-json-export "$report" \
  --color off --timeout-request 15000 \
  "${newman_extra[@]}"
newman_rc=$?
set -e

[[ -s "$report" ]] || die "newman wrote no report (exit $newman_rc)"
if [[ $newman_rc -ne 0 && -n "$stack_pid" ]]; then
  echo "----- dev-stack log (last 40 lines) -----" >&2
  tail -n 40 "$work/dev-stack.log" >&2 || true
fi
# Summary: requests run and skipped, assertions passed and failed, each failure by request.
node - "$report" "$newman_rc" "$SECONDS" <<'JS'
const [report, rc, seconds] = process.argv.slice(2);
const { collection, run } = require(require('path').resolve(report));
const s = run.stats;
// A request skipped by pm.execution.skipRequest() leaves no execution behind.
const leaves = (items) => items.reduce((n, i) => n + (i.item ? leaves(i.item) : 1), 0);
const skipped = Math.max(0, leaves(collection.item) - run.executions.length);
const assertions = s.assertions.total - s.assertions.pending;
const failed = s.assertions.failed;
console.log('');
console.log(`postman-run summary: ${s.requests.total} requests (${skipped} skipped), ` +
  `${assertions} assertions, ${failed} failed, ${run.failures.length} failures, ${seconds}s in all`);
for (const f of run.failures) {
  const where = (f.source && f.source.name) || '(collection)';
  console.log(`  FAILED ${where}: ${f.error.test || f.error.name}: ${f.error.message}`);
}
const failedCount = Math.max(failed, Number(rc) === 0 ? 0 : 1);
console.log(`postman: ${assertions - failed} passed, ${failedCount} failed` + (skipped ? `, ${skipped} skipped` : ''));
JS
exit "$newman_rc"
