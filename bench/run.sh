#!/usr/bin/env bash
# The benchmark, in one command:
#
#   bench/run.sh            full run (~4 min after the build): 10 s per route, 1,000,000 tasks
#   bench/run.sh --smoke    CI: 2 s per route, small data; same steps, no thresholds
#   BENCH_BASELINE=92e7671 bench/run.sh   the same, plus that revision's tasks-api beside it
#
# Builds release binaries, starts auth/users/tasks and the ceiling pair (bench/ceiling) on
# loopback ports with a fresh temporary data folder, seeds users and tasks over HTTP, drives
# POST /login, GET /tasks, POST /tasks and the ceiling with wrk (64 connections, 2 threads),
# times argon2 verify on one core, then measures data growth (1,000,000 tasks of one user
# written straight into tasks.jsonl) and each store at full volume: tasks-api and users-api
# started on a file of ordinary records filling the STORE_BUDGET of kubernetes/*-deployment.yaml
# (start-up, RSS per record, RSS beside the memory limit, 507 on one more write). With
# BENCH_BASELINE=<git rev>, that revision's tasks-api is built in a git worktree under
# target/bench-baseline and runs the GET/POST load and the full-volume start beside the current
# one: the report gets before/after columns. Writes bench/results/<timestamp>[-smoke].json and
# .md and prints the Markdown tables. Targets are reported, never asserted: the exit code says
# only whether the harness itself worked.
#
# PostgreSQL beside the file store: a server of its own (initdb into the temporary folder, a free
# loopback port, durability at its defaults: fsync and synchronous_commit on, as the file store
# fsyncs too) serves a second tasks-api (DATABASE_URL, same auth-api), seeded with the same
# users' tasks over HTTP; it gets the same GET and POST runs, between the same ceiling runs, and
# a ceiling of its own: `ceiling front-db`, the same hop plus one bare query on a pool of 10.
# Binaries from PG_BINDIR, pg_config --bindir or /usr/lib/postgresql/<version>/bin (Debian's
# postgresql package is installed when none is found); run as nobody when the script is root.
#
# Overrides (environment): BENCH_DURATION (s per route), BENCH_CONNECTIONS, BENCH_THREADS,
# BENCH_GROWTH_TASKS, BENCH_GROWTH_DURATION, BENCH_GROWTH_ROUNDS, BENCH_USERS, BENCH_TASKS_PER_USER,
# BENCH_ARGON2_ROUNDS, BENCH_FULL_BUDGET (store budget of the full-volume phase: the manifests'
# STORE_BUDGET, 8Mi in smoke), BENCH_FULL_ROUNDS, BENCH_BASELINE (a git revision; unset: none),
# BENCH_AB_ROUNDS and BENCH_AB_DURATION (the alternating before/after rounds: 6 of 5 s),
# BENCH_KEEP=1 (keep the temporary folder and its logs), PG_BINDIR (PostgreSQL's server binaries),
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
  : "${BENCH_GROWTH_ROUNDS:=1}" "${BENCH_FULL_ROUNDS:=1}" "${BENCH_FULL_BUDGET:=8Mi}"
else
  : "${BENCH_DURATION:=10}" "${BENCH_GROWTH_TASKS:=1000000}" "${BENCH_GROWTH_DURATION:=4}"
  : "${BENCH_USERS:=8}" "${BENCH_TASKS_PER_USER:=100}" "${BENCH_ARGON2_ROUNDS:=20}"
  HYPERFINE_RUNS=50
  : "${BENCH_GROWTH_ROUNDS:=3}" "${BENCH_FULL_ROUNDS:=3}"
fi
: "${BENCH_AB_ROUNDS:=6}" "${BENCH_AB_DURATION:=5}"
: "${BENCH_CONNECTIONS:=64}" "${BENCH_THREADS:=2}"

log() { printf '\n== bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools ----------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v curl >/dev/null || missing+=(curl)
pg_bindir() { # PostgreSQL's server binaries: PG_BINDIR, pg_config --bindir, or Debian's newest
  local dir
  if [[ -n ${PG_BINDIR:-} ]]; then
    [[ -x $PG_BINDIR/postgres ]] || return 1
    echo "$PG_BINDIR"
    return 0
  fi
  for dir in "$(pg_config --bindir 2>/dev/null || true)" \
    $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V -r); do
    if [[ -n $dir && -x $dir/postgres && -x $dir/initdb && -x $dir/psql && -x $dir/pg_isready ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}
[[ -n ${PG_BINDIR:-} ]] || pg_bindir >/dev/null || missing+=(postgresql)
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
PG_BIN=$(pg_bindir) || die "PostgreSQL's server binaries (initdb, postgres, psql, pg_isready) not found${PG_BINDIR:+ in PG_BINDIR=$PG_BINDIR}: install Debian's postgresql package or set PG_BINDIR"
PG_AS=() # PostgreSQL refuses to run as root: as nobody, then
if [[ $(id -u) == 0 ]]; then
  if command -v setpriv >/dev/null; then
    PG_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  else
    PG_AS=(runuser -u nobody --)
  fi
fi

# The services' stores come from this script alone: the file store unless it passes DATABASE_URL.
unset DATABASE_URL DATABASE_POOL_SIZE DATABASE_TIMEOUT

# --- processes: every one we start is remembered by PID and stopped on exit -----------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kub-bench.XXXXXX")
declare -A PIDS=()
# PostgreSQL gets SIGINT, its fast shutdown (SIGTERM would wait for its clients to leave).
declare -A STOP_SIGNAL=([pg]=INT)
stop_pid() { # stop_pid <pid> [signal]: the signal (TERM), wait up to 10 s, then SIGKILL
  local pid=$1 signal=${2:-TERM} tries=0
  kill -"$signal" "$pid" 2>/dev/null || return 0
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
  stop_pid "${PIDS[$name]}" "${STOP_SIGNAL[$name]:-TERM}"
  unset "PIDS[$name]"
}
BASE_DIR=$ROOT/target/bench-baseline # BENCH_BASELINE's worktree (src) and build (target)
BASE_TREE=$BASE_DIR/src
remove_worktree() {
  [[ -e $BASE_TREE ]] || return 0
  git -C "$ROOT" worktree remove --force "$BASE_TREE" 2>/dev/null || rm -rf "$BASE_TREE"
  git -C "$ROOT" worktree prune
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for name in "${!PIDS[@]}"; do [[ $name == pg ]] || stop "$name"; done
  stop pg # last: its clients are gone
  [[ -z ${BENCH_BASELINE:-} ]] || remove_worktree
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

# --- baseline: another revision's tasks-api, built in a git worktree -------------------------
BASE_BIN=
BASE_REV=
if [[ -n ${BENCH_BASELINE:-} ]]; then
  BASE_REV=$(git -C "$ROOT" rev-parse --short --verify --quiet "$BENCH_BASELINE^{commit}") ||
    die "BENCH_BASELINE=$BENCH_BASELINE is not a commit"
  log "baseline $BASE_REV: cargo build --release -p tasks-api in a git worktree"
  remove_worktree # left by an interrupted run
  git -C "$ROOT" worktree add --detach --quiet "$BASE_TREE" "$BASE_REV"
  # Its own target folder, so target/release stays the current build; kept as a cache.
  (cd "$BASE_TREE" && CARGO_TARGET_DIR=$BASE_DIR/target cargo build --release --locked -p tasks-api)
  remove_worktree
  BASE_BIN=$BASE_DIR/target/release
  [[ -x $BASE_BIN/tasks-api ]] || die "missing $BASE_BIN/tasks-api"
fi

declare -A METRICS_PORTS=()
start() { # start <name> <env assignments…> -- <command…>; stdout+stderr to $WORK/<name>.log.
  # Every process gets a free METRICS_PORT of its own (METRICS_PORTS[name]): they share a host.
  local name=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  METRICS_PORTS[$name]=$(free_ports 1)
  env METRICS_PORT="${METRICS_PORTS[$name]}" "${envs[@]}" "$@" >>"$WORK/$name.log" 2>&1 &
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

READY_MS=
start_timed() { # start_timed <name> <port> <env…> -- <command…>: READY_MS = start to /readyz 200
  local name=$1 port=$2 t0
  shift 2
  t0=$(now_ns)
  start "$name" "$@"
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
    kill -0 "${PIDS[$name]}" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; die "$name exited"; }
    (($(now_ns) - t0 < 120000000000)) || die "$name not ready after 120 s"
  done
  READY_MS=$((($(now_ns) - t0) / 1000000))
}

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

read -r AUTH_PORT USERS_PORT TASKS_PORT BACK_PORT FRONT_PORT SPARE_PORT PG_PORT TASKS_PG_PORT \
  DB_FRONT_PORT < <(free_ports 9)
JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# Caller keys, fresh every run (as the README's set-up makes them): auth knows both, users and
# tasks each show their own.
USERS_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
TASKS_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
USERS_AUTH=(AUTH_ADDRESS="127.0.0.1:$AUTH_PORT" AUTH_API_KEY="$USERS_API_KEY")
TASKS_AUTH=(AUTH_ADDRESS="127.0.0.1:$AUTH_PORT" AUTH_API_KEY="$TASKS_API_KEY")
mkdir -p "$WORK/users" "$WORK/tasks" "$WORK/growth"

# The benchmark measures what the cores can do: every one of wrk's 64 connections may wait for
# a hash, and one client address may log in and sign up as often as it likes (scripts/flood.py
# checks the limits; here they would only measure themselves).
start auth PORT="$AUTH_PORT" JWT_SECRET="$JWT_SECRET" HASH_QUEUE_SIZE=256 \
  USERS_API_KEY="$USERS_API_KEY" TASKS_API_KEY="$TASKS_API_KEY" -- "$BIN/auth-api"
NO_RATE_LIMITS=(LOGIN_LIMIT_PER_ADDRESS=off LOGIN_LIMIT_PER_ACCOUNT=off
  LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS=off SIGNUP_LIMIT_PER_ADDRESS=off SIGNUP_LIMIT_PER_ACCOUNT=off)
start users PORT="$USERS_PORT" "${USERS_AUTH[@]}" USERS_FOLDER="$WORK/users" \
  "${NO_RATE_LIMITS[@]}" -- "$BIN/users-api"
# One user POSTs for 10 s (~150,000 tasks): past the per-user caps' defaults (1,000 tasks, 4 MiB,
# 30 a minute), which are for scripts/flood.py to check, not for this to measure.
MANY_TASKS=(MAX_TASKS_PER_USER=100000000 MAX_BYTES_PER_USER=1Ti TASK_LIMIT_PER_USER=off)
start tasks PORT="$TASKS_PORT" "${TASKS_AUTH[@]}" TASKS_FOLDER="$WORK/tasks" \
  "${MANY_TASKS[@]}" -- "$BIN/tasks-api"
start ceiling-backend -- "$BIN/ceiling" backend "$BACK_PORT"
start ceiling-front -- "$BIN/ceiling" front "$FRONT_PORT" "$BACK_PORT"

# PostgreSQL, a server of this run's own in $WORK/pg. Durability stays at its defaults (fsync=on,
# synchronous_commit=on: a commit returns once its WAL is flushed), as the file store fsyncs
# every append it acknowledges. initdb's --no-sync only skips syncing initdb's own files.
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') from $PG_BIN on port $PG_PORT"
mkdir -p "$WORK/pg"
if ((${#PG_AS[@]})); then
  chmod 711 "$WORK" # nobody may pass through to its own folder, not list the rest
  chown 65534:65534 "$WORK/pg"
fi
pushd "$WORK/pg" >/dev/null # the server user's working directory
"${PG_AS[@]}" "$PG_BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 --no-locale \
  --no-sync --no-instructions -D "$WORK/pg/data" >"$WORK/pg-initdb.log" 2>&1 ||
  { cat "$WORK/pg-initdb.log" >&2; die "initdb failed"; }
start pg -- "${PG_AS[@]}" "$PG_BIN/postgres" -D "$WORK/pg/data" -p "$PG_PORT" \
  -c listen_addresses=127.0.0.1 -c unix_socket_directories=
popd >/dev/null
psql_at() { # psql_at <database> <psql args…>: unaligned, tuples only, stop at the first error
  local database=$1
  shift
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$database" -v ON_ERROR_STOP=1 -qAt "$@"
}
deadline=$((SECONDS + 60))
until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do
  kill -0 "${PIDS[pg]}" 2>/dev/null || { tail -20 "$WORK/pg.log" >&2; die "postgres exited"; }
  ((SECONDS < deadline)) || { tail -20 "$WORK/pg.log" >&2; die "postgres not ready after 60 s"; }
  sleep 0.1
done
psql_at postgres -c 'CREATE DATABASE bench'
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/bench"
record "$(psql_at bench -c "SELECT json_build_object('kind', 'pg', 'version', current_setting('server_version'),
  'fsync', current_setting('fsync'), 'synchronous_commit', current_setting('synchronous_commit'),
  'wal_sync_method', current_setting('wal_sync_method'), 'full_page_writes', current_setting('full_page_writes'),
  'shared_buffers', current_setting('shared_buffers'), 'max_connections', current_setting('max_connections'))")"
# The same tasks-api binary with DATABASE_URL (pool: DATABASE_POOL_SIZE's default of 10, as the
# database ceiling's), verified by the same auth-api.
start tasks-pg PORT="$TASKS_PG_PORT" "${TASKS_AUTH[@]}" TASKS_FOLDER="$WORK/tasks-pg" \
  DATABASE_URL="$PG_URL" "${MANY_TASKS[@]}" -- "$BIN/tasks-api"
start ceiling-db -- "$BIN/ceiling" front-db "$DB_FRONT_PORT" "$BACK_PORT" "$PG_URL"

wait_ready auth "$AUTH_PORT"
wait_ready users "$USERS_PORT"
wait_ready tasks "$TASKS_PORT"
wait_ready ceiling-backend "$BACK_PORT"
wait_ready ceiling-front "$FRONT_PORT"
wait_ready tasks-pg "$TASKS_PG_PORT"
wait_ready ceiling-db "$DB_FRONT_PORT"

log "seeding $BENCH_USERS users, $BENCH_TASKS_PER_USER tasks each (over HTTP)"
python3 "$BENCH_DIR/lib/seed.py" "$USERS_PORT" "$TASKS_PORT" "$BENCH_USERS" "$BENCH_TASKS_PER_USER" \
  >"$WORK/seed.json"
read -r EMAIL PASSWORD TOKEN SUB < <(python3 -c '
import json, sys
u = json.load(open(sys.argv[1]))["users"][0]
print(u["email"], u["password"], u["token"], u["sub"])' "$WORK/seed.json")
# The same users' tasks into PostgreSQL, the same way; then ANALYZE, as autovacuum would soon.
python3 "$BENCH_DIR/lib/seed.py" --tasks-only "$TASKS_PG_PORT" "$WORK/seed.json" "$BENCH_TASKS_PER_USER" \
  >"$WORK/seed-pg.json"
psql_at bench -c 'ANALYZE tasks.tasks'
if [[ -n $BASE_BIN ]]; then # the baseline tasks-api, on a copy of the same seeded store
  mkdir -p "$WORK/base-tasks"
  cp "$WORK/tasks/tasks.jsonl" "$WORK/base-tasks/"
  start base-tasks PORT="$SPARE_PORT" "${TASKS_AUTH[@]}" \
    TASKS_FOLDER="$WORK/base-tasks" "${MANY_TASKS[@]}" -- "$BASE_BIN/tasks-api"
  wait_ready base-tasks "$SPARE_PORT"
fi

log "argon2 verify on one core (Argon2::default(), $BENCH_ARGON2_ROUNDS rounds)"
ARGON=$(taskset -c 0 "$BIN/argon2-verify" "$BENCH_ARGON2_ROUNDS")
record "${ARGON%\}},\"kind\":\"argon2\"}"
echo "bench: $ARGON" >&2

# --- throughput: ceiling, the three routes, ceiling again ------------------------------------
D=$BENCH_DURATION
TASKS_URL="http://127.0.0.1:$TASKS_PORT/tasks"
BASE_URL=
[[ -z $BASE_BIN ]] || BASE_URL="http://127.0.0.1:$SPARE_PORT/tasks"
PG_TASKS_URL="http://127.0.0.1:$TASKS_PG_PORT/tasks"
DB_FRONT_URL="http://127.0.0.1:$DB_FRONT_PORT/"
log "wrk: ${BENCH_CONNECTIONS} connections, ${BENCH_THREADS} threads, ${D}s per route"
if [[ $MODE == full ]]; then # warm keep-alive pools and allocators; not recorded
  for url in "http://127.0.0.1:$FRONT_PORT/" "$DB_FRONT_URL" "$TASKS_URL" "$PG_TASKS_URL" $BASE_URL; do
    BENCH_LUA_DIR="$BENCH_DIR/wrk" BENCH_TOKEN=$TOKEN wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" \
      -d2s -s "$BENCH_DIR/wrk/get_tasks.lua" "$url" >/dev/null
  done
fi
rss after-seed auth users tasks ${BASE_URL:+base-tasks}
run_wrk ceiling-1 ceiling.lua "http://127.0.0.1:$FRONT_PORT/" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-ceiling ceiling-front ceiling-backend
run_wrk ceiling-db-1 ceiling.lua "$DB_FRONT_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-ceiling ceiling-db
run_wrk login login.lua "http://127.0.0.1:$USERS_PORT/login" "$D" "" "" \
  BENCH_EMAIL="$EMAIL" BENCH_PASSWORD="$PASSWORD"
rss after-login auth users tasks
# The PostgreSQL tasks-api, and with a baseline its tasks-api, run each route too, served by the
# same auth-api, between the same ceiling runs, in mirrored order: GET file, baseline,
# PostgreSQL; POST PostgreSQL, baseline, file. A drift of the machine's speed during the run
# favours none of them, and each pair of ceiling runs brackets the routes it is compared with.
run_wrk get-tasks get_tasks.lua "$TASKS_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-get-tasks auth users tasks
if [[ -n $BASE_URL ]]; then
  run_wrk base-get-tasks get_tasks.lua "$BASE_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
  rss after-get-tasks base-tasks
fi
run_wrk pg-get-tasks get_tasks.lua "$PG_TASKS_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-get-tasks tasks-pg
[[ $SUB =~ ^[0-9a-f-]+$ ]] || die "unexpected user id $SUB"
owner_tasks() { psql_at bench -c "SELECT count(*) FROM tasks.tasks WHERE owner = '$SUB'"; }
PG_OWNER_BEFORE=$(owner_tasks) # each POST counts them: its cost grows with them
run_wrk pg-post-tasks post_tasks.lua "$PG_TASKS_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-post-tasks tasks-pg
# What autovacuum and the next checkpoint would do about the rows just inserted, done now, so
# PostgreSQL's background work does not land in the file store's run.
psql_at bench -c 'VACUUM (ANALYZE) tasks.tasks' -c 'CHECKPOINT'
if [[ -n $BASE_URL ]]; then
  run_wrk base-post-tasks post_tasks.lua "$BASE_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
  rss after-post-tasks base-tasks
fi
run_wrk post-tasks post_tasks.lua "$TASKS_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-post-tasks auth users tasks
run_wrk ceiling-db-2 ceiling.lua "$DB_FRONT_URL" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-ceiling ceiling-db
run_wrk ceiling-2 ceiling.lua "http://127.0.0.1:$FRONT_PORT/" "$D" "" "" BENCH_TOKEN="$TOKEN"
rss after-ceiling ceiling-front ceiling-backend
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$TASKS_URL" || die "GET /tasks fails after the load"
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$PG_TASKS_URL" ||
  die "GET /tasks (PostgreSQL) fails after the load"
record "{\"kind\":\"pg-rows\",\"tasks\":$(psql_at bench -c 'SELECT count(*) FROM tasks.tasks'),\"owner_tasks_before_post\":$PG_OWNER_BEFORE,\"owner_tasks\":$(owner_tasks),\"database_bytes\":$(psql_at bench -c "SELECT pg_database_size('bench')")}"
stop ceiling-db
stop tasks-pg
stop pg

# --- before/after, alternating ----------------------------------------------------------------
# The machine's speed drifts by up to ±20% within a run (compare the two ceiling runs), more
# than the difference being measured, so one wrk run per build decides nothing. Short rounds
# alternate which build goes first, and each records the CPU time tasks-api spent per request,
# which the drift moves far less than req/s.
if [[ -n $BASE_URL ]]; then
  log "before/after: $BENCH_AB_ROUNDS alternating rounds of GET and POST, ${BENCH_AB_DURATION}s each"
  for round in $(seq 1 "$BENCH_AB_ROUNDS"); do
    order=(current baseline)
    ((round % 2)) || order=(baseline current)
    for route in get post; do
      for build in "${order[@]}"; do
        url=$TASKS_URL pid=${PIDS[tasks]}
        [[ $build == current ]] || { url=$BASE_URL; pid=${PIDS[base-tasks]}; }
        ticks=$(cpu_ticks "$pid")
        run_wrk "ab-$route-$build#$round" "${route}_tasks.lua" "$url" "$BENCH_AB_DURATION" "" "" \
          BENCH_TOKEN="$TOKEN"
        record "{\"kind\":\"ab-cpu\",\"name\":\"ab-$route-$build#$round\",\"ticks\":$(($(cpu_ticks "$pid") - ticks)),\"hz\":$(getconf CLK_TCK)}"
      done
    done
  done
fi
stop ceiling-front
stop ceiling-backend
stop tasks
stop base-tasks

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
  local label=$1 round=$2
  start_timed tasks "$TASKS_PORT" PORT="$TASKS_PORT" "${TASKS_AUTH[@]}" \
    TASKS_FOLDER="$WORK/growth" "${MANY_TASKS[@]}" -- "$BIN/tasks-api"
  record "{\"kind\":\"ready\",\"name\":\"$label\",\"round\":$round,\"ms\":$READY_MS}"
  echo "bench: tasks-api ($label, round $round) ready in $READY_MS ms" >&2
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

# --- store at full volume: each service on a file filling its manifest's STORE_BUDGET --------
FULL_PORT=$SPARE_PORT
# One more task or user whose line is longer than any generated one: it cannot fit in what the
# generator left under the budget (less than one ordinary line), so it must get 507.
ONE_MORE_TASK=$(python3 -c 'import json; print(json.dumps({"title": "One more task", "text": "x" * 400}))')
ONE_MORE_USER='{"email":"one-more-user-on-a-store-at-its-budget@bench.test","password":"one-more-password"}'

jfield() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
vm() { awk -v field="$2:" '$1 == field {print $2}' "/proc/$1/status"; } # vm <pid> VmRSS: KiB

status_of() { # status_of <curl args…>: prints the HTTP status (000: no answer); body in answer.txt
  curl -sS -o "$WORK/answer.txt" -w '%{http_code}' "$@" || true
}

check() { # check <service> <build> <what> <want> <got>: got is a number (000: no answer) or empty
  local got=null
  [[ ! $5 =~ ^[0-9]+$ ]] || got=$((10#$5))
  record "{\"kind\":\"full-check\",\"service\":\"$1\",\"build\":\"$2\",\"check\":\"$3\",\"want\":$4,\"got\":$got}"
  echo "bench: $1-api ($2) at full volume: $3: $got (want $4)" >&2
}

metric() { # metric <name> <port> <series> <kind>: its value in the /metrics of the process
  # started as <name>, on its METRICS_PORT; a baseline older than METRICS_PORT serves it on <port>
  { curl -fsS "http://127.0.0.1:${METRICS_PORTS[$1]}/metrics" 2>/dev/null ||
    curl -fsS "http://127.0.0.1:$2/metrics"; } |
    awk -v series="$3{kind=\"$4\"}" '$1 == series {value = $2} END {print (value == "" ? "null" : value)}'
}

fresh_token() { # the token of a user signed up just now, who owns no task
  local creds='{"email":"fresh-owner@bench.test","password":"fresh-owner-password"}'
  curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -d "$creds" \
    "http://127.0.0.1:$USERS_PORT/signup"
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$creds" \
    "http://127.0.0.1:$USERS_PORT/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

full_start() { # full_start <service> <build> <store> <round>: start on $WORK/full-<service>/<store>;
  # records the time to /readyz and, once idle, VmRSS and VmHWM
  local svc=$1 build=$2 store=$3 round=$4 bin=$BIN name=full-$1 pid
  [[ $build == current ]] || { bin=$BASE_BIN; name+=-base; }
  local -n caller=${svc^^}_AUTH
  start_timed "$name" "$FULL_PORT" PORT="$FULL_PORT" "${caller[@]}" \
    "${svc^^}_FOLDER=$WORK/full-$svc/$store" STORE_BUDGET="$FULL_BUDGET" -- "$bin/$svc-api"
  pid=${PIDS[$name]}
  settle "$pid"
  record "{\"kind\":\"full\",\"service\":\"$svc\",\"build\":\"$build\",\"store\":\"$store\",\"round\":$round,\"ready_ms\":$READY_MS,\"rss_kib\":$(vm "$pid" VmRSS),\"hwm_kib\":$(vm "$pid" VmHWM)}"
  echo "bench: $svc-api ($build, $store store, round $round) ready in $READY_MS ms, VmRSS $(vm "$pid" VmRSS) KiB" >&2
}

full_checks() { # full_checks <service> <build>: on the running full store, reads answer and one
  # more write gets 507 (not tried on a baseline: it has no budget and would grow the file)
  local svc=$1 build=$2 url=http://127.0.0.1:$FULL_PORT file=$WORK/full-$1/full/$1.jsonl size
  size=$(stat -c %s "$file")
  if [[ $svc == tasks ]]; then
    check "$svc" "$build" "GET /tasks of the owner of tasks 1-1000" 200 \
      "$(status_of -H "Authorization: Bearer $TOKEN" "$url/tasks")"
    check "$svc" "$build" "tasks in that first page" 20 \
      "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1])).get("tasks", [])))' "$WORK/answer.txt" 2>/dev/null)"
    [[ $build == current ]] || return 0
    check "$svc" "$build" "one more POST /tasks (a user with no task)" 507 \
      "$(status_of -X POST -H "Authorization: Bearer $FRESH_TOKEN" -H 'Content-Type: application/json' \
        -d "$ONE_MORE_TASK" "$url/tasks")"
  else
    check "$svc" "$build" "POST /login of a user in the file" 200 \
      "$(status_of -X POST -H 'Content-Type: application/json' \
        -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$url/login")"
    check "$svc" "$build" "one more POST /signup" 507 \
      "$(status_of -X POST -H 'Content-Type: application/json' -d "$ONE_MORE_USER" "$url/signup")"
  fi
  check "$svc" "$build" "file bytes after the refused write" "$size" "$(stat -c %s "$file")"
  local name=full-$svc
  [[ $build == current ]] || name+=-base
  record "{\"kind\":\"full-metrics\",\"service\":\"$svc\",\"build\":\"$build\",\"store_bytes\":$(metric "$name" "$FULL_PORT" store_bytes "$svc"),\"store_budget_bytes\":$(metric "$name" "$FULL_PORT" store_budget_bytes "$svc")}"
}

full_volume() { # full_volume <service>: fill its store to the budget, then alternate rounds on an
  # empty and on the full store (the baseline's too, for tasks), checks on the last full one
  local svc=$1 manifest budget_bytes gen first round build store
  manifest=$(python3 "$BENCH_DIR/lib/manifest.py" "$ROOT/kubernetes/$svc-deployment.yaml" 200Mi)
  record "${manifest%\}},\"kind\":\"manifest\",\"service\":\"$svc\"}"
  [[ $(jfield "$manifest" store_budget_source) == manifest ]] ||
    echo "bench: no STORE_BUDGET in kubernetes/$svc-deployment.yaml: 200Mi assumed" >&2
  FULL_BUDGET=${BENCH_FULL_BUDGET:-$(jfield "$manifest" store_budget)}
  mkdir -p "$WORK/full-$svc/full"
  first=$SUB
  if [[ $svc == users ]]; then # the first seeded user's own line, to log in with
    first=$WORK/full-users/first.jsonl
    grep -F "\"email\":\"$EMAIL\"" "$WORK/users/users.jsonl" >"$first" || die "no line of $EMAIL in users.jsonl"
  fi
  log "$svc-api at full volume: $svc.jsonl filled to STORE_BUDGET=$FULL_BUDGET"
  budget_bytes=$(python3 "$BENCH_DIR/lib/manifest.py" --bytes "$FULL_BUDGET")
  gen=$(python3 "$BENCH_DIR/lib/gen_full.py" "$svc" "$budget_bytes" "$WORK/full-$svc/full/$svc.jsonl" "$first")
  record "${gen%\}},\"kind\":\"full-file\",\"service\":\"$svc\",\"budget\":\"$FULL_BUDGET\",\"budget_bytes\":$budget_bytes,\"rounds\":$BENCH_FULL_ROUNDS}"
  sync
  for round in $(seq 1 "$BENCH_FULL_ROUNDS"); do
    for build in current ${BASE_BIN:+baseline}; do
      [[ $svc == tasks || $build == current ]] || continue
      for store in empty full; do
        rm -rf "$WORK/full-$svc/empty" && mkdir -p "$WORK/full-$svc/empty"
        full_start "$svc" "$build" "$store" "$round"
        [[ $store == empty || $round != "$BENCH_FULL_ROUNDS" ]] || full_checks "$svc" "$build"
        stop "full-$svc"
        stop "full-$svc-base"
      done
    done
  done
  rm -rf "$WORK/full-$svc"
}

FRESH_TOKEN=$(fresh_token)
full_volume tasks
full_volume users

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
  dirty="$(git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null && echo no || echo yes)" \
  baseline="$BASE_REV" pg_pool_size=10 \
  cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "bench: results in ${OUT#"$ROOT"/}.json and .md" >&2
