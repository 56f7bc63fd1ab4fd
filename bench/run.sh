#!/usr/bin/env bash
# The benchmark, in one command:
#
#   bench/run.sh            full run (~3 min after the build): 10 s per route, 1,000,000 tasks
#   bench/run.sh --smoke    CI: 2 s per route, small data; same steps, no thresholds
#
# Builds release binaries, starts auth/users/tasks and the ceiling pair (bench/ceiling) on
# loopback ports with a fresh temporary data folder, seeds users and tasks over HTTP, drives
# POST /login, GET /tasks, POST /tasks and the ceiling with wrk (64 connections, 2 threads),
# times argon2 verify on one core, then measures data growth (1,000,000 tasks of one user
# written straight into tasks.jsonl). Writes bench/results/<timestamp>[-smoke].json and .md and
# prints the Markdown table. Targets are reported, never asserted: the exit code says only
# whether the harness itself worked.
#
# Overrides (environment): BENCH_DURATION (s per route), BENCH_CONNECTIONS, BENCH_THREADS,
# BENCH_GROWTH_TASKS, BENCH_GROWTH_DURATION, BENCH_GROWTH_ROUNDS, BENCH_USERS, BENCH_TASKS_PER_USER,
# BENCH_ARGON2_ROUNDS, BENCH_KEEP=1 (keep the temporary folder and its logs),
# BENCH_SKIP_BUILD=1 (use the binaries already in target/release).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
MODE=full
for arg in "$@"; do
  case $arg in
    --smoke) MODE=smoke ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [[ $MODE == smoke ]]; then
  : "${BENCH_DURATION:=2}" "${BENCH_GROWTH_TASKS:=20000}" "${BENCH_GROWTH_DURATION:=1}"
  : "${BENCH_USERS:=2}" "${BENCH_TASKS_PER_USER:=25}" "${BENCH_ARGON2_ROUNDS:=3}"
  HYPERFINE_RUNS=10
  : "${BENCH_GROWTH_ROUNDS:=1}"
else
  : "${BENCH_DURATION:=10}" "${BENCH_GROWTH_TASKS:=1000000}" "${BENCH_GROWTH_DURATION:=4}"
  : "${BENCH_USERS:=8}" "${BENCH_TASKS_PER_USER:=100}" "${BENCH_ARGON2_ROUNDS:=20}"
  HYPERFINE_RUNS=50
  : "${BENCH_GROWTH_ROUNDS:=3}"
fi
: "${BENCH_CONNECTIONS:=64}" "${BENCH_THREADS:=2}"

log() { printf '\n== bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools ----------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  log "installing ${missing[*]} (apt-get)"
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  aptlog=$(mktemp)
  { "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l "${sudo[@]}" apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1 ||
    { cat "$aptlog" >&2; rm -f "$aptlog"; die "apt-get install ${missing[*]} failed"; }
  rm -f "$aptlog"
fi
command -v python3 >/dev/null || die "python3 is needed (seeding and the report)"

# --- build ----------------------------------------------------------------------------------
BIN=$ROOT/target/release
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --locked \
    -p auth-api -p users-api -p tasks-api -p bench-ceiling)
fi
for bin in auth-api users-api tasks-api ceiling argon2-verify; do
  [[ -x $BIN/$bin ]] || die "missing $BIN/$bin (build first)"
done

# --- processes: every one we start is remembered by PID and stopped on exit -----------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kub-bench.XXXXXX")
declare -A PIDS=()
stop_pid() { # stop_pid <pid>: SIGTERM, wait up to 10 s, then SIGKILL
  local pid=$1 tries=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((tries < 100)); do
    sleep 0.1
    tries=$((tries + 1))
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop() { # stop <name>
  local name=$1
  [[ -n ${PIDS[$name]:-} ]] || return 0
  stop_pid "${PIDS[$name]}"
  unset "PIDS[$name]"
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for name in "${!PIDS[@]}"; do stop "$name"; done
  if [[ ${BENCH_KEEP:-0} == 1 || $status != 0 ]]; then
    echo "bench: logs and data kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() { # start <name> <env assignments…> -- <command…>; stdout+stderr to $WORK/<name>.log
  local name=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$@" >>"$WORK/$name.log" 2>&1 &
  PIDS[$name]=$!
}

wait_ready() { # wait_ready <name> <port> [seconds]: until GET /readyz answers 200
  local name=$1 port=$2 deadline=$((SECONDS + ${3:-30}))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    kill -0 "${PIDS[$name]}" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited"; }
    ((SECONDS < deadline)) || { tail -20 "$WORK/$name.log" >&2; die "$name not ready"; }
    sleep 0.02
  done
}

now_ns() { date +%s%N; }

free_ports() { # free_ports <n>: n distinct ports the kernel considers free right now
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

RESULTS=$WORK/measure.jsonl
: >"$RESULTS"
record() { printf '%s\n' "$1" >>"$RESULTS"; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
settle() { # settle <pid>: until the process has used no CPU for 0.5 s (at most 10 s): requests
  # still queued when wrk stops (logins waiting for argon2) finish before RSS is read
  local pid=$1 last now tries=0
  last=$(cpu_ticks "$pid")
  while ((tries < 20)); do
    sleep 0.5
    now=$(cpu_ticks "$pid")
    [[ $now != "$last" ]] || return 0
    last=$now
    tries=$((tries + 1))
  done
}

rss() { # rss <phase> <name…>: VmRSS and VmHWM (peak) of each service once idle, in KiB
  local phase=$1 name pid rss hwm
  shift
  for name in "$@"; do settle "${PIDS[$name]}"; done
  for name in "$@"; do
    pid=${PIDS[$name]}
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    record "{\"kind\":\"rss\",\"phase\":\"$phase\",\"service\":\"$name\",\"rss_kib\":$rss,\"hwm_kib\":$hwm}"
  done
}

run_wrk() { # run_wrk <name> <script> <url> <seconds> [connections threads] [env…]
  local name=$1 script=$2 url=$3 seconds=$4 conns=${5:-$BENCH_CONNECTIONS} threads=${6:-$BENCH_THREADS}
  shift 6 || shift $#
  echo "bench: wrk $name: -c$conns -t$threads -d${seconds}s $url" >&2
  env BENCH_LUA_DIR="$BENCH_DIR/wrk" BENCH_NAME="$name" "$@" \
    wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s --latency \
    -s "$BENCH_DIR/wrk/$script" "$url" >"$WORK/wrk-$name.txt"
  local line
  line=$(sed -n 's/^BENCH_RESULT //p' "$WORK/wrk-$name.txt")
  [[ -n $line ]] || { cat "$WORK/wrk-$name.txt" >&2; die "wrk $name printed no result"; }
  record "${line%\}},\"connections\":$conns,\"threads\":$threads}"
  sed -n 's/^BENCH_RESULT {"kind":"wrk",//p' "$WORK/wrk-$name.txt" | cut -c1-160 >&2
}

run_hyperfine() { # run_hyperfine <name> <curl args…>: one request at a time, curl per request
  local name=$1
  shift
  local cmd="curl -fsS -o /dev/null"
  local arg
  for arg in "$@"; do cmd+=" $(printf '%q' "$arg")"; done
  hyperfine -N --style none --warmup 5 --runs "$HYPERFINE_RUNS" \
    --export-json "$WORK/hf-$name.json" "$cmd" >/dev/null
  python3 - "$name" "$WORK/hf-$name.json" >>"$RESULTS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))["results"][0]
print(json.dumps({"kind": "hyperfine", "name": sys.argv[1], "runs": len(r["times"]),
                  "median_ms": r["median"] * 1e3, "mean_ms": r["mean"] * 1e3,
                  "min_ms": r["min"] * 1e3}))
EOF
}

# --- start ----------------------------------------------------------------------------------
CORES=$(nproc)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
log "$MODE run on $CORES cores, load average $LOAD_BEFORE; work folder $WORK"

read -r AUTH_PORT USERS_PORT TASKS_PORT BACK_PORT FRONT_PORT < <(free_ports 5)
JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
mkdir -p "$WORK/users" "$WORK/tasks" "$WORK/growth"

start auth PORT="$AUTH_PORT" JWT_SECRET="$JWT_SECRET" -- "$BIN/auth-api"
start users PORT="$USERS_PORT" AUTH_ADDRESS="127.0.0.1:$AUTH_PORT" USERS_FOLDER="$WORK/users" \
  -- "$BIN/users-api"
start tasks PORT="$TASKS_PORT" AUTH_ADDRESS="127.0.0.1:$AUTH_PORT" TASKS_FOLDER="$WORK/tasks" \
  -- "$BIN/tasks-api"
start ceiling-backend -- "$BIN/ceiling" backend "$BACK_PORT"
start ceiling-front -- "$BIN/ceiling" front "$FRONT_PORT" "$BACK_PORT"
wait_ready auth "$AUTH_PORT"
wait_ready users "$USERS_PORT"
wait_ready tasks "$TASKS_PORT"
wait_ready ceiling-backend "$BACK_PORT"
wait_ready ceiling-front "$FRONT_PORT"

log "seeding $BENCH_USERS users, $BENCH_TASKS_PER_USER tasks each (over HTTP)"
python3 "$BENCH_DIR/lib/seed.py" "$USERS_PORT" "$TASKS_PORT" "$BENCH_USERS" "$BENCH_TASKS_PER_USER" \
  >"$WORK/seed.json"
read -r EMAIL PASSWORD TOKEN SUB < <(python3 -c '
import json, sys
u = json.load(open(sys.argv[1]))["users"][0]
print(u["email"], u["password"], u["token"], u["sub"])' "$WORK/seed.json")

log "argon2 verify on one core (Argon2::default(), $BENCH_ARGON2_ROUNDS rounds)"
ARGON=$(taskset -c 0 "$BIN/argon2-verify" "$BENCH_ARGON2_ROUNDS")
record "${ARGON%\}},\"kind\":\"argon2\"}"
echo "bench: $ARGON" >&2

# --- throughput: ceiling, the three routes, ceiling again ------------------------------------
D=$BENCH_DURATION
TASKS_URL="http://127.0.0.1:$TASKS_PORT/tasks"
log "wrk: ${BENCH_CONNECTIONS} connections, ${BENCH_THREADS} threads, ${D}s per route"
if [[ $MODE == full ]]; then # warm keep-alive pools and allocators; not recorded
  for url in "http://127.0.0.1:$FRONT_PORT/" "$TASKS_URL"; do
    BENCH_LUA_DIR="$BENCH_DIR/wrk" BENCH_TOKEN=$TOKEN wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" \
      -d2s -s "$BENCH_DIR/wrk/get_tasks.lua" "$url" >/dev/null
  done
fi
rss after-seed auth users tasks
run_wrk ceiling-1 ceiling.lua "http://127.0.0.1:$FRONT_PORT/" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-ceiling ceiling-front ceiling-backend
run_wrk login login.lua "http://127.0.0.1:$USERS_PORT/login" "$D" "" "" \
  BENCH_EMAIL="$EMAIL" BENCH_PASSWORD="$PASSWORD"
rss after-login auth users tasks
run_wrk get-tasks get_tasks.lua "$TASKS_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-get-tasks auth users tasks
run_wrk post-tasks post_tasks.lua "$TASKS_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-post-tasks auth users tasks
run_wrk ceiling-2 ceiling.lua "http://127.0.0.1:$FRONT_PORT/" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-ceiling ceiling-front ceiling-backend
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$TASKS_URL" || die "GET /tasks fails after the load"
stop ceiling-front
stop ceiling-backend
stop tasks

# --- data growth: an empty store, then N tasks of one user ----------------------------------
GD=$BENCH_GROWTH_DURATION
growth_round() { # growth_round <label> <round>: POST and GET latency on the running tasks-api
  # Each request three ways: wrk with one connection (per-request latency), curl under
  # hyperfine (a new process and connection per request) and wrk at full load.
  local label=$1 round=$2 middle=$((BENCH_GROWTH_TASKS / 2)) what
  local -a order=(post get-first)
  [[ $label == empty ]] || order=(get-first get-middle post)
  for what in "${order[@]}"; do
    local script=get_tasks.lua url=$TASKS_URL curl_args=(-H "Authorization: Bearer $TOKEN")
    case $what in
      post)
        script=post_tasks.lua
        curl_args+=(-X POST -H "Content-Type: application/json" -d '{"title":"Growth task","text":"One at a time."}')
        ;;
      get-middle) url="$TASKS_URL?after=$middle" ;;
    esac
    run_wrk "$label-$what-1c@$round" "$script" "$url" "$GD" 1 1 BENCH_TOKEN="$TOKEN"
    run_hyperfine "$label-$what-curl@$round" "${curl_args[@]}" "$url"
    run_wrk "$label-$what@$round" "$script" "$url" "$GD" "" "" BENCH_TOKEN="$TOKEN"
  done
}
start_tasks_timed() { # start_tasks_timed <label> <round>: start tasks-api on $WORK/growth, time to /readyz
  local label=$1 round=$2 t0 t1
  t0=$(now_ns)
  start tasks PORT="$TASKS_PORT" AUTH_ADDRESS="127.0.0.1:$AUTH_PORT" TASKS_FOLDER="$WORK/growth" \
    -- "$BIN/tasks-api"
  until curl -fsS -o /dev/null "http://127.0.0.1:$TASKS_PORT/readyz" 2>/dev/null; do
    kill -0 "${PIDS[tasks]}" 2>/dev/null || { tail -20 "$WORK/tasks.log" >&2; die "tasks-api exited"; }
    (($(now_ns) - t0 < 120000000000)) || die "tasks-api not ready after 120 s"
  done
  t1=$(now_ns)
  record "{\"kind\":\"ready\",\"name\":\"$label\",\"round\":$round,\"ms\":$(((t1 - t0) / 1000000))}"
  echo "bench: tasks-api ($label, round $round) ready in $(((t1 - t0) / 1000000)) ms" >&2
}

# Disk latency on a shared machine comes and goes, so empty and large stores alternate, each
# round on a freshly started tasks-api, and the report takes the median over the rounds.
log "data growth: $BENCH_GROWTH_TASKS tasks of user $SUB written straight into tasks.jsonl"
python3 "$BENCH_DIR/lib/gen_tasks.py" "$SUB" "$BENCH_GROWTH_TASKS" "$WORK/seeded-tasks.jsonl"
record "{\"kind\":\"growth\",\"tasks\":$BENCH_GROWTH_TASKS,\"rounds\":$BENCH_GROWTH_ROUNDS,\"file_bytes\":$(stat -c %s "$WORK/seeded-tasks.jsonl")}"
for round in $(seq 1 "$BENCH_GROWTH_ROUNDS"); do
  log "data growth, round $round/$BENCH_GROWTH_ROUNDS: empty store"
  rm -rf "$WORK/growth" && mkdir -p "$WORK/growth"
  start_tasks_timed empty "$round"
  growth_round empty "$round"
  rss "growth-empty@$round" tasks
  stop tasks
  log "data growth, round $round/$BENCH_GROWTH_ROUNDS: $BENCH_GROWTH_TASKS tasks"
  rm -rf "$WORK/growth" && mkdir -p "$WORK/growth"
  cp "$WORK/seeded-tasks.jsonl" "$WORK/growth/tasks.jsonl"
  sync
  start_tasks_timed large "$round"
  rss "growth-large-loaded@$round" tasks
  growth_round large "$round"
  stop tasks
done
rm -rf "$WORK/growth" "$WORK/seeded-tasks.jsonl"

# --- report ---------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$BENCH_DIR/results"
OUT=$BENCH_DIR/results/$STAMP
[[ $MODE == full ]] || OUT+=-$MODE
python3 "$BENCH_DIR/lib/report.py" "$RESULTS" "$OUT" \
  mode="$MODE" cores="$CORES" load_before="$LOAD_BEFORE" load_after="$LOAD_AFTER" \
  duration_s="$D" connections="$BENCH_CONNECTIONS" threads="$BENCH_THREADS" \
  growth_tasks="$BENCH_GROWTH_TASKS" growth_duration_s="$GD" stamp="$STAMP" elapsed_s="$SECONDS" \
  commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "bench: results in ${OUT#"$ROOT"/}.json and .md" >&2
