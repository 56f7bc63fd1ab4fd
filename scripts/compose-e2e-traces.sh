# shellcheck shell=bash
# Sourced by scripts/compose-e2e.sh (not run on its own): docker-compose.yaml with
# docker-compose.traces.yaml, the three services sending spans to Jaeger. A `GET /tasks` with a
# `traceparent` is found in Jaeger's API (on the host's loopback, as the file publishes it) with
# spans from tasks-api and auth-api under that trace id; Jaeger's OTLP port is not published;
# Jaeger runs as a non-root user on a read-only root filesystem and stops with the others.
# It uses compose-e2e.sh's helpers (compose, http, expect, pass, fail, wait_healthy, ...).

TRACES_FILE=docker-compose.traces.yaml
TRACES_STACK="docker-compose.yaml+$TRACES_FILE"   # FILE: the files, joined by +
JAEGER_URL=http://127.0.0.1:16686
TRACE_WAIT=30   # s for the spans to reach Jaeger (the services export every 5 s)

# The services of a trace in Jaeger's API, one per line (none while it is not there).
trace_services() {
  curl -sS --noproxy '*' --max-time 5 "$JAEGER_URL/api/traces/$1" 2>/dev/null | python3 -c '
import json, sys
try:
    trace = json.load(sys.stdin)["data"][0]
except (ValueError, KeyError, IndexError, TypeError):
    sys.exit(0)
names = {trace["processes"][span["processID"]]["serviceName"] for span in trace["spans"]}
print("\n".join(sorted(names)))'
}

check_trace_in_jaeger() {
  local trace span deadline services=""
  trace=$(openssl rand -hex 16); span=$(openssl rand -hex 8)
  http GET "$TASKS_URL/tasks" "" "$TOKEN" "traceparent: 00-$trace-$span-01"
  expect 200 "GET /tasks with a traceparent"
  deadline=$((SECONDS + TRACE_WAIT))
  while (( SECONDS < deadline )); do
    services=$(trace_services "$trace" | tr '\n' ' ')
    [[ " $services" == *" auth-api "* && " $services" == *" tasks-api "* ]] && break
    sleep 1
  done
  [[ " $services" == *" auth-api "* && " $services" == *" tasks-api "* ]] \
    || fail "trace $trace in Jaeger: services '${services:-none}' after ${TRACE_WAIT}s (want auth-api and tasks-api)"
  pass "trace $trace in Jaeger ($JAEGER_URL/trace/$trace): spans from ${services% }"
}

check_otlp_not_published() {
  local published
  published=$(docker port "$(service_container jaeger)" 2>/dev/null | tr '\n' ' ')
  [[ "$published" != *4318* && "$published" != *4317* ]] || fail "Jaeger's OTLP port is published: $published"
  [[ "$published" == *"16686/tcp -> 127.0.0.1:16686"* ]] || fail "Jaeger's UI is not on the loopback only: $published"
  pass "Jaeger publishes only its UI, on the loopback: $published"
}

run_traces_stack() {
  FILE=$TRACES_STACK
  log "=== docker-compose.yaml with $TRACES_FILE (Jaeger)"
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  local t0=$SECONDS
  compose up -d --build >"$WORK/up.log" 2>&1 || { tail -n 60 "$WORK/up.log" >&2; fail "up -d --build failed"; }
  log "up -d --build took $((SECONDS - t0))s"
  wait_healthy auth users tasks frontend
  check_curl_flow
  check_trace_in_jaeger
  check_otlp_not_published
  check_non_root jaeger
  check_graceful_stop
  FILE=""
}
