#!/usr/bin/env bash
# End-to-end test of the containers, as a person would use them:
#   docker-compose up -d --build, the README's curl flow on localhost:8080 and
#   localhost:8000, auth NOT reachable from the host, tasks recreated and its
#   tasks still there (named volume), every container non-root with a
#   read-only root filesystem, a graceful stop (every container exits 0 on
#   SIGTERM within its grace period). In docker-compose.yaml also the frontend
#   on localhost:3000: the page with its security headers, /api/users/ and
#   /api/tasks/ proxied to users and tasks by name (auth not), the walk-through
#   in a real browser (scripts/browser-e2e.py --mode compose), 502 JSON while
#   tasks is stopped, and tasks found again at a new address once recreated;
#   the networks: the frontend can neither resolve nor reach auth (users can),
#   holds no key, and nginx forwards only the page's routes (/metrics,
#   /openapi.json, /healthz 404 JSON); nginx's limits (429 and 503 JSON) and
#   10 s client timeouts; X-Forwarded-For replaced by nginx, so users-api's
#   limits key by the real client behind it whatever the client writes there.
#   In every file: auth answers 401 without a key and 403 to the wrong caller.
#   Then the same against docker-compose.pod.yaml (auth inside users' network namespace); then
#   docker-compose.postgres.yaml: users and tasks on PostgreSQL, two tasks
#   replicas (each on its own host port, read from `port --index N`): the curl
#   flow, the data in PostgreSQL's schemas, a task stored through one replica
#   listed through the other, the name `tasks` inside the network reaching both
#   replicas, one replica killed while the other serves, `restart tasks` and
#   `restart postgres` keeping every task, postgres as uid 999, a graceful stop.
#
# Needs a running engine and the base images:
#   scripts/docker-engine.sh && scripts/airgap-images.sh && scripts/compose-e2e.sh
#
# Idempotent: it uses its own compose project (kubnet-e2e), waits while another
# run of it is under way (a lock, and the project's running containers),
# removes whatever a previous run left, and always ends with `down -v`. Its
# settings are a throwaway env file made from .env.example the README's way
# (random JWT_SECRET, USERS_API_KEY, TASKS_API_KEY): your .env is neither read
# nor touched. Exit 0 when every check passed, 1 (with the failing check and
# the containers' logs) otherwise.
#
# Knobs: COMPOSE (default `docker compose`, the README's spelling: the Compose v2 plugin, built
#        from its Go module by scripts/test-bed-build.sh where the machine has none; or e.g.
#        COMPOSE=docker-compose for Compose v1),
#        E2E_PROJECT (default kubnet-e2e), E2E_HEALTH_TIMEOUT (s, default 120),
#        E2E_WAIT_TIMEOUT (s to wait for another run, default 1800),
#        E2E_FILES (the compose files to run, default all three, then docker-compose.yaml
#        with docker-compose.traces.yaml: scripts/compose-e2e-traces.sh).
set -euo pipefail

# Debian's docker client matches Debian's engine (see scripts/docker-engine.sh).
export PATH="/usr/bin:/usr/sbin:$PATH"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROJECT="${E2E_PROJECT:-kubnet-e2e}"
HEALTH_TIMEOUT="${E2E_HEALTH_TIMEOUT:-120}"
WAIT_TIMEOUT="${E2E_WAIT_TIMEOUT:-1800}"
GRACE_SECONDS=20   # stop_grace_period in every compose file
IMAGES=(kub-network-auth:latest kub-network-users:latest kub-network-tasks:latest
        kub-network-frontend:latest postgres:15-bookworm jaegertracing/jaeger:2.12.0)
USERS_URL=http://localhost:8080
TASKS_URL=http://localhost:8000
FRONTEND_URL=http://localhost:3000   # docker-compose.yaml only
PG_FILE=docker-compose.postgres.yaml
ROUND_ROBIN_REQUESTS=30   # to `tasks:8000` from inside the network (PostgreSQL variant)
PUBLIC_NET="${PROJECT}_public"   # the compose files' network `public` (users, tasks, frontend)
# A throwaway container with bash, for requests from inside a network namespace (the service
# images have no shell); it is run read-only with no capabilities.
PROBE_IMAGE=kub-network-frontend:latest
# users-api's signup limit per address (SIGNUP_LIMIT_PER_ADDRESS, 10/min): one more than it
# is certain to reach it, whatever this run already spent of it.
SIGNUP_BURST=11
NGINX_LIMIT_MESSAGE="from your address to the frontend"   # nginx's 429 (limit_req)
NGINX_CONN_MESSAGE="in progress at once from your address"   # nginx's 503 (limit_conn)
NGINX_404_MESSAGE="No such API here"

# `docker compose` needs the plugin where the docker client looks for it; Debian's client has
# none of its own.
compose_plugin() {
  docker compose version >/dev/null 2>&1 && return
  local bin
  scripts/test-bed-build.sh compose
  bin=$(scripts/test-bed-build.sh --bin)
  mkdir -p /usr/local/lib/docker/cli-plugins
  ln -sfn "$bin/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version >&2
}
if [[ -n "${COMPOSE:-}" ]]; then read -r -a COMPOSE_CMD <<<"$COMPOSE"
else compose_plugin; COMPOSE_CMD=(docker compose); fi

START=$SECONDS
PASSED=0
FILE=""          # the compose file under test
PLACEHOLDER=""   # a container holding tasks' old address (check_tasks_survive_recreate)
WORK="$(mktemp -d)"
ENV_FILE="$WORK/env"   # the stacks' settings (main: made from .env.example)
USERS_KEY=""; TASKS_KEY=""

log()  { printf '[compose-e2e %4ds] %s\n' "$((SECONDS - START))" "$*"; }
pass() { PASSED=$((PASSED + 1)); log "ok: $*"; }
fail() {
  printf '[compose-e2e] FAILED (%s): %s\n' "${FILE:-setup}" "$*" >&2
  exit 1
}
# FILE is a compose file, or several joined by + (an overlay on top of a file).
compose() {
  local files=() file parts
  IFS=+ read -ra parts <<<"$FILE"
  for file in "${parts[@]}"; do files+=(-f "$file"); done
  "${COMPOSE_CMD[@]}" -p "$PROJECT" --env-file "$ENV_FILE" "${files[@]}" "$@"
}

cleanup() {
  local rc=$?
  if [[ $rc -ne 0 && -n "$FILE" ]]; then
    echo "----- ${FILE}: containers -----" >&2
    compose ps >&2 2>&1 || true
    echo "----- ${FILE}: last log lines -----" >&2
    compose logs --no-color --tail 40 >&2 2>&1 || true
  fi
  [[ -z "$PLACEHOLDER" ]] || docker rm -f "$PLACEHOLDER" >/dev/null 2>&1 || true
  for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done   # the timeout probes
  if [[ -f "$ENV_FILE" ]]; then
    for f in "$TRACES_STACK" "$PG_FILE" docker-compose.pod.yaml docker-compose.yaml; do
      FILE=$f compose down -v --remove-orphans >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$WORK"
  if [[ $rc -eq 0 ]]; then
    log "all checks passed in $((SECONDS - START))s"
    echo "compose-e2e: $PASSED passed, 0 failed"
  else
    echo "compose-e2e: $PASSED passed, 1 failed" >&2
  fi
  exit $rc
}
trap cleanup EXIT

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
STATUS=""; BODY=""; HEADERS=""; TOKEN=""; CREDS=""
# http METHOD URL [JSON] [TOKEN] [HEADER]: sets STATUS, BODY and HEADERS. Never through a proxy:
# everything it calls is on this machine.
http() {
  local method=$1 url=$2 data=${3:-} token=${4:-} header=${5:-}
  local args=(-sS --noproxy '*' --max-time 10 -o "$WORK/body" -w '%{http_code}' -X "$method")
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$header" ]] && args+=(-H "$header")
  STATUS="$(curl -D "$WORK/headers" "${args[@]}" "$url" 2>"$WORK/curl.err")" || STATUS="000"
  BODY="$(cat "$WORK/body" 2>/dev/null || true)"
  HEADERS="$(tr -d '\r' <"$WORK/headers" 2>/dev/null || true)"   # of the last response
}
expect() { # expect CODE 'what' [substring]
  local code=$1 what=$2 sub=${3:-}
  [[ "$STATUS" == "$code" ]] || fail "$what: expected HTTP $code, got $STATUS: ${BODY:-$(cat "$WORK/curl.err")}"
  [[ -z "$sub" || "$BODY" == *"$sub"* ]] || fail "$what: body lacks '$sub': $BODY"
  pass "$what -> $STATUS"
}

project_containers() { docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; }
service_container() { compose ps -q "$1"; }   # one id per replica
logs_plain() { docker logs "$1" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'; }

wait_healthy() { # every container of all given services healthy
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) svc ids id state pending
  while :; do
    pending=""
    for svc in "$@"; do
      ids="$(service_container "$svc")"
      [[ -n "$ids" ]] || { pending+=" $svc(no container)"; continue; }
      for id in $ids; do
        state="$(docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")"
        case "$state" in
          running/healthy) ;;
          exited/*|dead/*) fail "$svc exited before becoming healthy ($state)" ;;
          *) pending+=" $svc($state)" ;;
        esac
      done
    done
    [[ -z "$pending" ]] && { pass "healthy: $*"; return; }
    (( SECONDS < deadline )) || fail "not healthy after ${HEALTH_TIMEOUT}s:$pending"
    sleep 1
  done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------
check_curl_flow() {
  local email="e2e-$RANDOM$RANDOM@test.com" creds
  creds="{\"email\":\"$email\",\"password\":\"testers\"}"
  CREDS=$creds
  http POST "$USERS_URL/signup" "$creds";        expect 201 "signup" "User created!"
  http POST "$USERS_URL/signup" "$creds";        expect 409 "signup again, same email"
  http POST "$USERS_URL/login" "$creds";         expect 200 "login" '"token"'
  TOKEN="$(sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$BODY")"
  [[ -n "$TOKEN" ]] || fail "login: no token in $BODY"
  http POST "$TASKS_URL/tasks" '{"title":"A","text":"B"}' "$TOKEN"
  expect 201 "create task" "Task stored."
  http GET "$TASKS_URL/tasks" "" "$TOKEN";       expect 200 "list tasks" "Tasks loaded."
  [[ "$BODY" == *'"title":"A"'* ]] || fail "list tasks: task A missing: $BODY"
  http GET "$TASKS_URL/tasks";                   [[ "$STATUS" == 4* ]] || fail "tasks without a token answered $STATUS"
  pass "tasks without a token -> $STATUS"
}

check_auth_not_published() {
  local published
  # Every host port the project publishes, as "container_port->host" lines.
  published="$(for id in $(project_containers); do docker port "$id"; done | sort -u)"
  ! grep -q '^80/tcp' <<<"$published" || fail "port 80 (auth) is published: $published"
  ! grep -q '^9090/tcp' <<<"$published" || fail "a METRICS_PORT (9090) is published: $published"
  [[ -z "$(docker port "$(service_container auth)")" ]] || fail "auth container publishes ports"
  if [[ $HOST_80_WAS_FREE == 1 ]]; then
    ! port_in_use 80 || fail "something answers on localhost:80 with the stack up"
  fi
  pass "auth not reachable from the host, no METRICS_PORT published (published: $(tr '\n' ' ' <<<"$published"))"
}

check_non_root() { # check_non_root SERVICE...: every container of each
  local svc ids id name user ro uids
  for svc in "$@"; do
    ids="$(service_container "$svc")"
    for id in $ids; do
      name=$svc; [[ $(wc -l <<<"$ids") -gt 1 ]] && name="$svc ${id:0:12}"
      user="$(docker inspect -f '{{.Config.User}}' "$id")"
      [[ -n "$user" && "${user%%:*}" != 0 && "${user%%:*}" != root ]] || fail "$svc: image user is '${user:-<root>}'"
      uids="$(docker top "$id" -eo pid,uid | awk 'NR > 1 {print $2}' | sort -u | tr '\n' ' ')"
      [[ -n "$uids" && ! " $uids" =~ " 0 " ]] || fail "$svc: processes run as uid(s) $uids"
      ro="$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$id")"
      [[ "$ro" == true ]] || fail "$svc: root filesystem is not read-only"
      pass "$name runs as uid ${uids% } (user $user), read-only root fs"
    done
  done
}

network_ip() { # network_ip CONTAINER NETWORK: its address there, or nothing
  docker inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.IPAddress}}{{end}}" "$1"
}

check_tasks_survive_recreate() { # $1 = 1: the stack has the frontend
  local before after old_ip new_ip
  before="$(service_container tasks)"
  old_ip="$(network_ip "$before" "$PUBLIC_NET")"   # where the frontend reaches it
  compose stop tasks >/dev/null 2>&1
  if [[ ${1:-0} == 1 ]]; then
    # 502 once the name no longer resolves, 504 while nginx still holds the old address (5 s).
    http GET "$FRONTEND_URL/api/tasks/network"
    [[ ( "$STATUS" == 502 || "$STATUS" == 504 ) && "$BODY" == '{"message":"'*'tasks-api at tasks:8000'* ]] \
      || fail "tasks stopped: expected 502 or 504 JSON naming tasks-api from the frontend, got $STATUS: $BODY"
    pass "tasks stopped: the frontend answers $STATUS JSON: $BODY"
    # A throwaway container takes the address tasks just freed (Docker hands out the lowest
    # free one), so the new tasks container gets another: the frontend must find it by name
    # (nginx resolves per request), not keep sending to the old address.
    compose rm -f tasks >/dev/null 2>&1
    PLACEHOLDER="$(docker run -d --rm --network "$PUBLIC_NET" --read-only --cap-drop ALL \
                   --entrypoint sleep kub-network-frontend:latest 120)" || fail "cannot start a placeholder container"
  fi
  compose rm -f tasks >/dev/null 2>&1
  compose up -d --no-deps tasks >/dev/null 2>&1 || fail "cannot start tasks again"
  after="$(service_container tasks)"
  [[ -n "$after" && "$after" != "$before" ]] || fail "tasks was not recreated"
  wait_healthy tasks
  http GET "$TASKS_URL/tasks" "" "$TOKEN"; expect 200 "list tasks after recreating tasks" '"title":"A"'
  if [[ ${1:-0} == 1 ]]; then
    new_ip="$(network_ip "$after" "$PUBLIC_NET")"
    [[ "$new_ip" != "$old_ip" ]] || log "note: tasks got its old address $old_ip again"
    http GET "$FRONTEND_URL/api/tasks/tasks" "" "$TOKEN"
    expect 200 "the frontend reaches the recreated tasks (address $old_ip -> $new_ip), no restart" '"title":"A"'
    docker rm -f "$PLACEHOLDER" >/dev/null 2>&1 || true; PLACEHOLDER=""
  fi
}

check_frontend() { # docker-compose.yaml: the page on :3000, /api/* proxied by service name
  local csp
  http GET "$FRONTEND_URL/"; expect 200 "frontend: GET / (the tasks page)" "<title>kub-network tasks</title>"
  csp="$(grep -i '^content-security-policy:' <<<"$HEADERS" || true)"
  [[ "$csp" == *"default-src 'self'; connect-src 'self'"* ]] || fail "frontend: the page's CSP is '$csp'"
  grep -qix 'x-content-type-options: nosniff' <<<"$HEADERS" || fail "frontend: no X-Content-Type-Options: nosniff on the page"
  pass "frontend: the page has $csp and nosniff"
  http GET "$FRONTEND_URL/config.js"; expect 200 "frontend: config.js points at /api/users and /api/tasks" 'usersApi: "/api/users"'
  http GET "$FRONTEND_URL/api/users/network"
  expect 200 "frontend: /api/users/network answered by users-api (prefix stripped)" '"service":"users-api"'
  http GET "$FRONTEND_URL/api/tasks/tasks?limit=5" "" "$TOKEN"
  expect 200 "frontend: /api/tasks/tasks with the token, the query kept" '"title":"A"'
  grep -qi '^x-request-id: ' <<<"$HEADERS" || fail "frontend: no x-request-id in the proxied answer"
  http POST "$FRONTEND_URL/api/users/login" "$CREDS"; expect 200 "frontend: POST /api/users/login" '"token"'
  http GET "$FRONTEND_URL/api/auth/healthz"; expect 404 "frontend: auth is not proxied (/api/auth/ -> 404 JSON)" '"message"'
  log "the walk-through in a real browser (scripts/browser-e2e.py --mode compose)"
  python3 scripts/browser-e2e.py --url "$FRONTEND_URL/" --mode compose >"$WORK/browser.log" 2>&1 \
    || { cat "$WORK/browser.log" >&2; fail "the tasks page in a browser, through the frontend"; }
  sed 's/^/      /' "$WORK/browser.log"
  pass "frontend: $(tail -n 1 "$WORK/browser.log")"
}

check_graceful_stop() {
  local ids id name code t0 took
  ids="$(project_containers)"
  t0=$SECONDS
  compose stop >/dev/null 2>&1 || fail "compose stop failed"
  took=$((SECONDS - t0))
  for id in $ids; do
    name="$(docker inspect -f '{{.Name}}' "$id")"
    code="$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} oom={{.State.OOMKilled}}' "$id")"
    [[ "$code" == "exited 0 oom=false" ]] || fail "$name did not exit 0 on SIGTERM: $code"
  done
  (( took < GRACE_SECONDS )) || fail "stop took ${took}s, not within the ${GRACE_SECONDS}s grace period"
  pass "SIGTERM: every container exited 0, stop took ${took}s (grace ${GRACE_SECONDS}s)"
  compose down -v --remove-orphans >/dev/null 2>&1 || fail "compose down failed"
  [[ -z "$(project_containers)" ]] || fail "containers left after down"
  [[ -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")" ]] \
    || fail "volumes left after down -v: $(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | tr '\n' ' ')"
  pass "down -v removed the stack and its volumes"
}

check_pod_network() { # docker-compose.pod.yaml: auth lives in users' network namespace
  local users auth mode
  users="$(service_container users)"; auth="$(service_container auth)"
  mode="$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$auth")"
  [[ "$mode" == "container:$users" ]] || fail "auth's network mode is '$mode', not users' namespace"
  docker logs "$users" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | grep 'base_url=http://localhost' >/dev/null \
    || fail "users did not resolve auth to localhost (AUTH_ADDRESS: localhost:80)"
  pass "auth shares users' network namespace; users calls it at localhost:80"
}

check_secret_required() { # compose refuses to start without JWT_SECRET or a caller's key
  local out var
  for var in JWT_SECRET USERS_API_KEY TASKS_API_KEY; do
    if out="$(env "$var=" "${COMPOSE_CMD[@]}" -p "$PROJECT" --env-file "$ENV_FILE" -f "$FILE" config 2>&1)"; then
      fail "compose config succeeded with an empty $var"
    fi
    [[ "$out" == *"set $var in .env"* ]] || fail "no clear message for a missing $var: $out"
    pass "an empty $var stops compose with: set $var in .env ..."
  done
}

# --------------------------------------------------------------------------
# docker-compose.postgres.yaml: PostgreSQL and two tasks replicas
# --------------------------------------------------------------------------
REPLICA_IDS=(); REPLICA_URLS=()
find_replicas() { # sets REPLICA_IDS and REPLICA_URLS from `port --index 1|2 tasks 8000`
  local n addr id
  REPLICA_IDS=(); REPLICA_URLS=()
  [[ "$(service_container tasks | wc -l)" == 2 ]] || fail "expected 2 tasks containers: $(service_container tasks | tr '\n' ' ')"
  for n in 1 2; do
    addr="$(compose port --index "$n" tasks 8000 2>/dev/null | tr -d '\r')"
    [[ "$addr" == 127.0.0.1:[1-9]* ]] || fail "port --index $n tasks 8000 printed '$addr', not 127.0.0.1:<port>"
    for id in $(service_container tasks); do
      docker port "$id" 8000/tcp | grep -x "$addr" >/dev/null && REPLICA_IDS+=("$id")   # not -q: it may close the pipe early
    done
    REPLICA_URLS+=("http://$addr")
  done
  [[ ${#REPLICA_IDS[@]} == 2 && "${REPLICA_IDS[0]}" != "${REPLICA_IDS[1]}" ]] \
    || fail "the two published ports do not lead to two different tasks containers"
}

check_replicas_ready() { # each replica answers /readyz 200 (its database is reachable) on its own port
  local n
  for n in 0 1; do
    http GET "${REPLICA_URLS[$n]}/readyz"
    expect 200 "tasks replica $((n + 1)) (${REPLICA_IDS[$n]:0:12}) on ${REPLICA_URLS[$n]#http://}: /readyz" '"ready"'
  done
}

check_data_in_postgres() {
  local pg schemas
  pg="$(service_container postgres)"
  schemas="$(docker exec "$pg" psql -U kub -d kub -tAc \
    "SELECT string_agg(schema_name, ',' ORDER BY schema_name) FROM information_schema.schemata WHERE schema_name IN ('users','tasks')")"
  [[ "$schemas" == "tasks,users" ]] || fail "schemas users and tasks not both in PostgreSQL: '$schemas'"
  [[ -z "$(docker port "$pg")" ]] || fail "postgres publishes ports: $(docker port "$pg")"
  pass "data in PostgreSQL (schemas users, tasks); postgres publishes no port"
}

check_replicas_share_data() { # a task stored through replica 2 is listed through replica 1, and back
  http POST "${REPLICA_URLS[1]}/tasks" '{"title":"B","text":"through replica 2"}' "$TOKEN"
  expect 201 "create task B through replica 2" "Task stored."
  http GET "${REPLICA_URLS[0]}/tasks" "" "$TOKEN"
  [[ "$STATUS" == 200 && "$BODY" == *'"title":"A"'* && "$BODY" == *'"title":"B"'* ]] \
    || fail "replica 1 does not list tasks A and B: $STATUS $BODY"
  http GET "${REPLICA_URLS[1]}/tasks" "" "$TOKEN"
  [[ "$STATUS" == 200 && "$BODY" == *'"title":"A"'* && "$BODY" == *'"title":"B"'* ]] \
    || fail "replica 2 does not list tasks A and B: $STATUS $BODY"
  pass "both replicas list A (stored through replica 1) and B (stored through replica 2)"
}

check_service_name_reaches_both() {
  # From a throwaway container on the stack's network (the postgres image: it has bash),
  # ROUND_ROBIN_REQUESTS requests to http://tasks:8000, each a new connection and a new
  # DNS look-up, each with its own x-request-id; each replica's log tells which it served.
  local tag n total=0
  local -a counts=()
  tag="rr$RANDOM$RANDOM"
  docker run --rm --network "$PUBLIC_NET" --user 999:999 --read-only --cap-drop ALL \
      -e TAG="$tag" -e N="$ROUND_ROBIN_REQUESTS" --entrypoint bash postgres:15-bookworm -c '
    for i in $(seq 1 "$N"); do
      exec 3<>/dev/tcp/tasks/8000 || exit 1
      printf "GET /healthz HTTP/1.1\r\nHost: tasks:8000\r\nx-request-id: %s-%s\r\nConnection: close\r\n\r\n" "$TAG" "$i" >&3
      IFS= read -r status <&3; exec 3<&-
      [[ "$status" == *" 200 "* ]] || { echo "request $i: $status"; exit 1; }
    done' >"$WORK/rr.log" 2>&1 || fail "requests to tasks:8000 inside the network failed: $(cat "$WORK/rr.log")"
  for n in 0 1; do
    counts[n]="$(logs_plain "${REPLICA_IDS[$n]}" | grep -o "$tag-[0-9]*\"" | sort -u | wc -l)"
    total=$((total + counts[n]))
  done
  (( counts[0] > 0 && counts[1] > 0 )) \
    || fail "tasks:8000 reached one replica only: ${counts[0]} + ${counts[1]} of $ROUND_ROBIN_REQUESTS"
  (( total == ROUND_ROBIN_REQUESTS )) || fail "only $total of $ROUND_ROBIN_REQUESTS requests found in the replicas' logs"
  pass "tasks:8000 inside the network: $ROUND_ROBIN_REQUESTS requests, ${counts[0]} + ${counts[1]} answered by the two replicas"
}

check_replica_killed() { # one replica SIGKILLed: the other serves every task
  docker kill -s KILL "${REPLICA_IDS[0]}" >/dev/null || fail "cannot kill replica 1"
  http GET "${REPLICA_URLS[1]}/tasks" "" "$TOKEN"
  expect 200 "replica 1 killed: replica 2 lists the tasks" '"title":"B"'
}

check_restarts_keep_tasks() {
  compose restart tasks >/dev/null 2>&1 || fail "restart tasks failed"
  wait_healthy tasks
  find_replicas   # new host ports after a restart
  local n
  for n in 0 1; do
    http GET "${REPLICA_URLS[$n]}/tasks" "" "$TOKEN"
    [[ "$STATUS" == 200 && "$BODY" == *'"title":"A"'* && "$BODY" == *'"title":"B"'* ]] \
      || fail "after restart tasks, replica $((n + 1)) does not list A and B: $STATUS $BODY"
  done
  pass "restart tasks: both replicas back, both list A and B"

  # The database restarted under the replicas: same volume, same data; the replicas'
  # pools reconnect by themselves (/readyz 503 while it is down, then 200).
  compose restart postgres >/dev/null 2>&1 || fail "restart postgres failed"
  wait_healthy postgres
  local deadline=$((SECONDS + 30))
  for n in 0 1; do
    while http GET "${REPLICA_URLS[$n]}/readyz"; [[ "$STATUS" != 200 ]]; do
      (( SECONDS < deadline )) || fail "replica $((n + 1)) not ready 30s after postgres restarted: $STATUS $BODY"
      sleep 0.5
    done
    http GET "${REPLICA_URLS[$n]}/tasks" "" "$TOKEN"
    [[ "$STATUS" == 200 && "$BODY" == *'"title":"A"'* && "$BODY" == *'"title":"B"'* ]] \
      || fail "after restart postgres, replica $((n + 1)) does not list A and B: $STATUS $BODY"
  done
  http POST "$USERS_URL/login" "$CREDS"; expect 200 "login after restart postgres (the user is kept)" '"token"'
  pass "restart postgres: the replicas reconnect, every task is kept"
}

run_postgres_stack() {
  FILE=$PG_FILE
  log "=== $FILE (PostgreSQL, 2 tasks replicas)"
  local t_all=$SECONDS t0 TASKS_URL   # check_curl_flow uses replica 1's address
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  check_secret_required
  t0=$SECONDS
  compose up -d --build >"$WORK/up.log" 2>&1 || { tail -n 60 "$WORK/up.log" >&2; fail "up -d --build failed"; }
  log "up -d --build took $((SECONDS - t0))s"
  wait_healthy postgres auth users tasks
  find_replicas
  check_replicas_ready
  TASKS_URL=${REPLICA_URLS[0]}
  check_curl_flow
  check_data_in_postgres
  check_auth_not_published
  check_host_to_auth
  check_auth_requires_key
  check_replicas_share_data
  check_service_name_reaches_both
  check_non_root postgres auth users tasks
  check_replica_killed
  check_restarts_keep_tasks
  check_graceful_stop
  log "PostgreSQL variant took $((SECONDS - t_all))s"
  FILE=""
}

run_stack() { # $1 = compose file
  FILE=$1
  log "=== $FILE"
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  check_secret_required
  local t0=$SECONDS
  compose up -d --build >"$WORK/up.log" 2>&1 || { tail -n 60 "$WORK/up.log" >&2; fail "up -d --build failed"; }
  log "up -d --build took $((SECONDS - t0))s"
  local services=(auth users tasks) with_frontend=0
  [[ "$FILE" == docker-compose.yaml ]] && { services+=(frontend); with_frontend=1; }
  wait_healthy "${services[@]}"
  check_curl_flow
  check_auth_not_published
  check_host_to_auth
  check_auth_requires_key
  [[ "$FILE" == *pod* ]] && check_pod_network
  if [[ $with_frontend == 1 ]]; then
    start_slow_clients
    check_frontend
    check_frontend_cannot_reach_auth
    check_frontend_routes
    check_nginx_limits
    check_client_address
  fi
  check_non_root "${services[@]}"
  check_tasks_survive_recreate "$with_frontend"
  check_graceful_stop
  FILE=""
}

# Another run of this script (CI in the background, say) owns the project's containers and
# the ports: wait for it rather than tear its stack down. The lock orders runs of this version;
# the running containers show a run that holds no lock.
wait_for_other_run() {
  local deadline=$((SECONDS + WAIT_TIMEOUT)) lock
  exec {lock}>"/tmp/compose-e2e.$PROJECT.lock"
  if ! flock -n "$lock"; then
    log "another compose-e2e run holds /tmp/compose-e2e.$PROJECT.lock: waiting (up to ${WAIT_TIMEOUT}s)"
    flock -w "$WAIT_TIMEOUT" "$lock" || fail "another compose-e2e run still holds the lock after ${WAIT_TIMEOUT}s"
  fi
  if [[ -n "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")" ]]; then
    log "project $PROJECT has running containers (another run?): waiting up to ${WAIT_TIMEOUT}s for them to stop"
    while [[ -n "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")" ]]; do
      if (( SECONDS >= deadline )); then
        log "project $PROJECT still has running containers: taking them for leftovers"
        return
      fi
      sleep 15
    done
  fi
}

# The checks of networks, keys, nginx's routes and limits and client addresses.
# shellcheck source=scripts/compose-e2e-isolation.sh
source scripts/compose-e2e-isolation.sh
# docker-compose.yaml with docker-compose.traces.yaml: the spans in Jaeger.
# shellcheck source=scripts/compose-e2e-traces.sh
source scripts/compose-e2e-traces.sh

# --------------------------------------------------------------------------
main() {
  command -v curl >/dev/null 2>&1 || fail "curl is needed on the host"
  docker info >/dev/null 2>&1 || fail "no Docker engine answers (run scripts/docker-engine.sh)"
  "${COMPOSE_CMD[@]}" version >/dev/null 2>&1 || fail "no compose (${COMPOSE_CMD[*]})"
  log "compose: $("${COMPOSE_CMD[@]}" version 2>/dev/null | head -n1)"

  command -v openssl >/dev/null 2>&1 || fail "openssl is needed on the host (the README's set-up step)"
  local f p key
  wait_for_other_run

  # The README's set-up step, on a copy: the stacks never see your .env.
  cp .env.example "$ENV_FILE"
  for key in JWT_SECRET USERS_API_KEY TASKS_API_KEY; do sed -i "s/^$key=.*/$key=$(openssl rand -hex 32)/" "$ENV_FILE"; done
  for key in JWT_SECRET USERS_API_KEY TASKS_API_KEY; do
    grep -Eq "^$key=[0-9a-f]{64}$" "$ENV_FILE" || fail ".env.example has no line '$key=' for the set-up step to fill"
  done
  USERS_KEY="$(sed -n 's/^USERS_API_KEY=//p' "$ENV_FILE")"
  TASKS_KEY="$(sed -n 's/^TASKS_API_KEY=//p' "$ENV_FILE")"
  log "settings: .env.example with a random JWT_SECRET, USERS_API_KEY and TASKS_API_KEY"

  for f in "$TRACES_STACK" "$PG_FILE" docker-compose.pod.yaml docker-compose.yaml; do
    FILE=$f compose down -v --remove-orphans >/dev/null 2>&1 || true
  done
  for p in 8080 8000 3000 16686; do
    ! port_in_use "$p" || fail "localhost:$p is already in use (another stack running? docker-compose down)"
  done
  HOST_80_WAS_FREE=1; port_in_use 80 && HOST_80_WAS_FREE=0

  for f in ${E2E_FILES:-docker-compose.yaml docker-compose.pod.yaml $PG_FILE $TRACES_FILE}; do
    case "$f" in
      "$PG_FILE") run_postgres_stack ;;
      "$TRACES_FILE") run_traces_stack ;;
      docker-compose.yaml | docker-compose.pod.yaml) run_stack "$f" ;;
      *) fail "E2E_FILES: unknown compose file $f" ;;
    esac
  done

  log "image sizes:"
  local img
  for img in "${IMAGES[@]}"; do
    docker image inspect -f '{{.Size}}' "$img" | awk -v i="$img" '{printf "  %-36s %6.1f MB\n", i, $1/1e6}'
  done
}

main "$@"
